package pack

import (
	"encoding/json"
	"strings"
	"testing"
)

// Decoding keeps what it accepted: sources[].artifacts as a count or as a
// list survives into the Manifest (and back out as JSON), not only the fact
// that it was valid.
func TestSourceArtifactsDecoded(t *testing.T) {
	for _, tc := range []struct {
		name, member, wantJSON string
	}{
		{"count", `"artifacts":3`, `3`},
		{"count in exponent form", `"artifacts":1e1`, `10`},
		{"list", `"artifacts":["stream","artifacts/a.json"]`, `["stream","artifacts/a.json"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.Replace(man("", ""), `"sources":[]`, `"sources":[{"name":"a",`+tc.member+`}]`, 1)
			m, err := ParseManifest([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Sources) != 1 || m.Sources[0].Artifacts == nil {
				t.Fatalf("sources[0].artifacts lost: %+v", m.Sources)
			}
			got, err := json.Marshal(m.Sources[0].Artifacts)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.wantJSON {
				t.Fatalf("sources[0].artifacts = %s, want %s", got, tc.wantJSON)
			}
		})
	}
}
