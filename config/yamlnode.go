package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// deref follows alias nodes to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 1000; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit YAML null.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// nodeError is a structural YAML problem at a line.
type nodeError struct {
	line int
	msg  string
}

func (e *nodeError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func nodeErrorf(line int, format string, args ...any) error {
	return &nodeError{line: line, msg: fmt.Sprintf(format, args...)}
}

// pair is one key/value of a mapping after merge keys are applied.
type pair struct {
	key     string
	keyNode *yaml.Node
	val     *yaml.Node
}

// mappingPairs lists the entries of mapping node n (aliases followed), with
// YAML merge keys (<<) applied: explicit keys win over merged ones and earlier
// merge sources win over later ones. A key given twice explicitly is an error.
func mappingPairs(n *yaml.Node) ([]pair, error) {
	return mappingPairsDepth(n, 0)
}

func mappingPairsDepth(n *yaml.Node, depth int) ([]pair, error) {
	n = deref(n)
	if n == nil || isNull(n) {
		return nil, nil
	}
	if depth > 100 {
		return nil, nodeErrorf(n.Line, "merge keys nested too deeply")
	}
	if n.Kind != yaml.MappingNode {
		return nil, nodeErrorf(n.Line, "expected a mapping")
	}
	var out []pair
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, nodeErrorf(n.Content[i].Line, "mapping keys must be plain strings")
		}
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if seen[k.Value] {
			return nil, nodeErrorf(n.Content[i].Line, "key %q is defined more than once", k.Value)
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, keyNode: n.Content[i], val: v})
	}
	for _, m := range merges {
		m = deref(m)
		var srcs []*yaml.Node
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			srcs = []*yaml.Node{m}
		case m.Kind == yaml.SequenceNode:
			srcs = m.Content
		default:
			return nil, nodeErrorf(m.Line, "a merge key (<<) needs a mapping or a list of mappings")
		}
		for _, s := range srcs {
			ps, err := mappingPairsDepth(s, depth+1)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				if !seen[p.key] {
					seen[p.key] = true
					out = append(out, p)
				}
			}
		}
	}
	return out, nil
}
