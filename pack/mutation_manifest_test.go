package pack

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fullManifest sets every optional part of a manifest.
func fullManifest() *Manifest {
	n := int64(3)
	m := testManifest(sample...)
	m.Sources = []Source{
		{Name: "count", Artifacts: &SourceArtifacts{Count: &n}},
		{Name: "list", Artifacts: &SourceArtifacts{Paths: []string{"artifacts/a.json"}}},
		{Name: "none"},
	}
	m.Artifacts[0].Controls = []string{"A", "B"}
	m.Provenance = &Provenance{Type: "merged", MergedAt: "2026-01-22T14:00:00Z", SourcePacks: []SourcePack{
		{Stream: "x", PackDigest: d1, Artifacts: 1, EmbeddedAttestations: []json.RawMessage{json.RawMessage(`{"a":1}`)}},
		{Stream: "y", PackDigest: d1, Artifacts: 2},
	}}
	m.Profiles = []ProfileRef{{Source: "p", Digest: d1}}
	m.Overlays = []ProfileRef{{Source: "o"}}
	return m
}

// Clone is a deep copy: equal to the original, sharing nothing with it, and
// nil where the original is nil.
func TestManifestCloneIsDeep(t *testing.T) {
	if (*Manifest)(nil).Clone() != nil {
		t.Fatal("Clone of nil")
	}
	m := fullManifest()
	c := m.Clone()
	if !reflect.DeepEqual(c, m) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, m)
	}
	*c.Sources[0].Artifacts.Count = 99
	c.Sources[1].Artifacts.Paths[0] = "changed"
	c.Sources[0].Name = "changed"
	c.Artifacts[0].Controls[0] = "changed"
	c.Artifacts[0].Path = "changed"
	c.Provenance.Type = "changed"
	c.Provenance.SourcePacks[0].Stream = "changed"
	c.Provenance.SourcePacks[0].EmbeddedAttestations[0][0] = '['
	c.Profiles[0].Source = "changed"
	c.Overlays[0].Source = "changed"
	if !reflect.DeepEqual(m, fullManifest()) {
		t.Fatalf("changing the clone changed the original: %+v", m)
	}
	bare := testManifest()
	bare.Sources, bare.Artifacts = nil, nil
	bc := bare.Clone()
	if bc.Sources != nil || bc.Artifacts != nil || bc.Provenance != nil || bc.Profiles != nil || bc.Overlays != nil {
		t.Fatalf("nil parts not kept nil: %+v", bc)
	}
	if got := (&Manifest{Provenance: &Provenance{Type: "single"}}).Clone().Provenance; got == nil || got.SourcePacks != nil {
		t.Fatalf("provenance without source packs: %+v", got)
	}
}

// sources[].artifacts is written as its list, else its count, else null.
func TestSourceArtifactsMarshal(t *testing.T) {
	n := int64(0)
	for _, tc := range []struct {
		v    SourceArtifacts
		want string
	}{
		{SourceArtifacts{Paths: []string{"a"}}, `["a"]`},
		{SourceArtifacts{Paths: []string{}}, `[]`},
		{SourceArtifacts{Count: &n}, `0`},
		{SourceArtifacts{Paths: []string{"a"}, Count: &n}, `["a"]`},
		{SourceArtifacts{}, `null`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil || string(got) != tc.want {
			t.Errorf("%+v: %s (%v), want %s", tc.v, got, err, tc.want)
		}
	}
}
