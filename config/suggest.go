package config

import "strings"

// suggestKey returns the key of known nearest to the unknown key got, or ""
// when nothing is close enough to be a likely typo. Closeness is the
// optimal-string-alignment distance (insertions, deletions, substitutions and
// swaps of two neighbouring letters each count 1) between the lower-cased
// keys: at most 1 for keys of up to four letters, at most 2 for longer ones,
// and always less than the candidate's length, so "x" never suggests "id".
// Ties go to the first key in known, which callers keep sorted.
func suggestKey(got string, known []string) string {
	g := strings.ToLower(got)
	if g == "" {
		return ""
	}
	limit := 1
	if len(g) > 4 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		d := editDistance(g, strings.ToLower(k))
		if d < bestDist && d < len(k) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b,
// counted in bytes (YAML keys here are ASCII).
func editDistance(a, b string) int {
	// Three rolling rows: two back (for swaps), previous and current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
