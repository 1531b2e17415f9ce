package ocistore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/evidencerelay/epack/internal/testenv"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/registrytest"
)

var (
	keySigner     = protocol.ReleaseSigner{Kind: protocol.SignerKey, Signer: strings.Repeat("ab", 32), KeyID: strings.Repeat("ab", 32), Verified: true}
	keylessSigner = protocol.ReleaseSigner{Kind: protocol.SignerKeyless, Signer: "alice@example.com", Subject: "alice@example.com", Issuer: "https://accounts.example.com"}
	otherSigner   = protocol.ReleaseSigner{Kind: protocol.SignerKeyless, Signer: "bob@example.com", Subject: "bob@example.com", Issuer: "https://accounts.example.com", Verified: true}
)

// releaseAnnotations reads the annotations of the manifest release id's tag names.
func (e *env) releaseAnnotations(t *testing.T, id string) map[string]string {
	t.Helper()
	p, err := e.cfg.Repository(target)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.reg.lookup(ctxT(t), e.reg.c.repository(p), id)
	if err != nil || f == nil {
		t.Fatalf("release %s: %v", id, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(f.raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Annotations
}

// listedSigners is what releases.list answers for release id.
func (e *env) listedSigners(t *testing.T, id string) []protocol.ReleaseSigner {
	t.Helper()
	resp, err := e.reg.ReleasesList(ctxT(t), &protocol.ReleasesListRequest{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Releases {
		if r.ReleaseID == id {
			if err := protocol.CheckSigners(r.Signers); err != nil {
				t.Fatalf("listed signers refused: %v", err)
			}
			return r.Signers
		}
	}
	t.Fatalf("release %s not listed", id)
	return nil
}

// TestPushSigners: the signers a push brings are recorded in one annotation
// (none without them) and listed; a re-push keeps what the first push
// told, whatever it brings (as package registry does).
func TestPushSigners(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	dir := t.TempDir()
	two := []protocol.ReleaseSigner{keySigner, keylessSigner}
	for i, c := range []struct {
		name    string
		pushes  [][]protocol.ReleaseSigner // one push each, same pack
		want    []protocol.ReleaseSigner
		updated bool // the last push rewrote the manifest
	}{
		{"two signers", [][]protocol.ReleaseSigner{two}, two, false},
		{"none", [][]protocol.ReleaseSigner{nil}, nil, false},
		{"re-push without keeps", [][]protocol.ReleaseSigner{two, nil}, two, false},
		{"re-push with the same keeps", [][]protocol.ReleaseSigner{two, slices.Clone(two)}, two, false},
		{"re-push with others keeps the first", [][]protocol.ReleaseSigner{two, {otherSigner}}, two, false},
		{"first push without, re-push with", [][]protocol.ReleaseSigner{nil, two}, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := registrytest.MakePack(t, dir, fmt.Sprintf("p%d.epack", i), "signers "+c.name)
			var id string
			for j, s := range c.pushes {
				_, fin, err := e.push(t, target, p, protocol.ReleaseInfo{Signers: s})
				if err != nil {
					t.Fatalf("push %d: %v", j, err)
				}
				if j > 0 && fin.Release.ReleaseID != id {
					t.Fatalf("push %d made release %s, want %s", j, fin.Release.ReleaseID, id)
				}
				id = fin.Release.ReleaseID
			}
			ann := e.releaseAnnotations(t, id)
			got, ok := ann[AnnotationSigners]
			if len(c.want) == 0 {
				if ok {
					t.Fatalf("annotation %s = %q without signers", AnnotationSigners, got)
				}
			} else if want, _ := json.Marshal(c.want); got != string(want) {
				t.Fatalf("annotation %s = %q, want %s", AnnotationSigners, got, want)
			}
			if _, upd := ann[AnnotationUpdated]; upd != c.updated {
				t.Fatalf("updated annotation present: %v, want %v", upd, c.updated)
			}
			if listed := e.listedSigners(t, id); !slices.Equal(listed, c.want) {
				t.Fatalf("listed signers %+v, want %+v", listed, c.want)
			}
		})
	}
}

// TestPushSignersRefused: a list CheckSigners refuses is invalid_request at
// prepare, before anything is written, and at finalize when it comes back
// in a forged token.
func TestPushSignersRefused(t *testing.T) {
	e := newEnv(t, testenv.RequireOCI(t), nil)
	p := registrytest.MakePack(t, t.TempDir(), "p.epack", "refused signers")
	tooMany := make([]protocol.ReleaseSigner, protocol.MaxReleaseSigners+1)
	for i := range tooMany {
		tooMany[i] = keylessSigner
	}
	for _, c := range []struct {
		name    string
		signers []protocol.ReleaseSigner
	}{
		{"too many", tooMany},
		{"unknown kind", []protocol.ReleaseSigner{{Kind: "x509", Signer: "s"}}},
		{"key id not hex", []protocol.ReleaseSigner{{Kind: protocol.SignerKey, Signer: "s", KeyID: "AB"}}},
		{"key signer with issuer", []protocol.ReleaseSigner{{Kind: protocol.SignerKey, Signer: "s", Issuer: "i"}}},
		{"verified keyless without issuer", []protocol.ReleaseSigner{{Kind: protocol.SignerKeyless, Signer: "s", Subject: "s", Verified: true}}},
		{"control character", []protocol.ReleaseSigner{{Kind: protocol.SignerKeyless, Signer: "a\nb"}}},
	} {
		_, err := e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: p.Info(), Release: protocol.ReleaseInfo{Signers: c.signers}})
		if registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), "signers") {
			t.Errorf("%s: %v, want invalid_request about signers", c.name, err)
		}
	}
	if tags := e.tags(t, target); len(tags) != 0 {
		t.Fatalf("refused pushes wrote tags %v", tags)
	}

	prep, err := e.reg.PushPrepare(ctxT(t), &protocol.PushPrepareRequest{Target: target, Pack: p.Info(), Release: protocol.ReleaseInfo{Signers: []protocol.ReleaseSigner{keySigner}}})
	if err != nil {
		t.Fatal(err)
	}
	if prep.Upload.Method != protocol.MethodSkip {
		if err := e.upload(prep.Upload, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	in, err := decodePushToken(prep.FinalizeToken)
	if err != nil {
		t.Fatal(err)
	}
	in.Release.Signers = []protocol.ReleaseSigner{{Kind: "x509", Signer: "s"}}
	tok, _ := json.Marshal(in)
	_, err = e.reg.PushFinalize(ctxT(t), &protocol.PushFinalizeRequest{Target: target, Pack: protocol.PackInfo{Path: p.Path}, FinalizeToken: pushTokenPrefix + base64.RawURLEncoding.EncodeToString(tok)})
	wantCode(t, err, protocol.CodeInvalidRequest, "signers")
	if tags := e.tags(t, target); len(tags) != 0 {
		t.Fatalf("a refused finalize wrote tags %v", tags)
	}
}

// signersManifest is a release manifest epack would write, with its
// signers annotation set to ann (absent when ann is nil).
func signersManifest(t testing.TB, ann *string) []byte {
	t.Helper()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rel := &release{
		ID: registry.NewReleaseID(now), Stream: "a/b", FileDigest: "sha256:" + strings.Repeat("ab", 32), Size: 42,
		Created: now, Title: titleFor("a/b"),
	}
	raw, _, err := rel.manifest()
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if ann != nil {
		m.Annotations[AnnotationSigners] = *ann
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseReleaseSigners: the annotation is read with exact keys only;
// anything else makes the release corrupt (like malformed labels: an
// error, not errNotPack), never a release with invented signers.
func TestParseReleaseSigners(t *testing.T) {
	good, _ := json.Marshal([]protocol.ReleaseSigner{keySigner, keylessSigner})
	k := `"kind":"keyless","signer":"s","verified":false`
	list := func(n int) string { return "[" + strings.Repeat(`{`+k+`},`, n-1) + `{` + k + `}]` }
	minimal := protocol.ReleaseSigner{Kind: protocol.SignerKeyless, Signer: "s"}
	for _, c := range []struct {
		name string
		ann  string
		want []protocol.ReleaseSigner // nil with ok: none
		ok   bool
	}{
		{"as written", string(good), []protocol.ReleaseSigner{keySigner, keylessSigner}, true},
		{"empty annotation is none", "", nil, true},
		{"minimal", list(1), []protocol.ReleaseSigner{minimal}, true},
		{"whitespace", ` [ {"kind": "keyless", "signer": "s", "verified": false} ] `, []protocol.ReleaseSigner{minimal}, true},
		{"max signers", list(protocol.MaxReleaseSigners), slices.Repeat([]protocol.ReleaseSigner{minimal}, protocol.MaxReleaseSigners), true},

		{"malformed JSON", `[{"kind":"key"`, nil, false},
		{"not an array", `{` + k + `}`, nil, false},
		{"array of strings", `["key"]`, nil, false},
		{"null", `null`, nil, false},
		{"empty list", `[]`, nil, false},
		{"null element", `[null]`, nil, false},
		{"trailing data", `[{` + k + `}] []`, nil, false},
		{"case-variant key", `[{"KIND":"keyless","signer":"s","verified":false}]`, nil, false},
		{"case-variant key beside the key", `[{` + k + `,"Kind":"key"}]`, nil, false},
		{"case-variant optional key", `[{` + k + `,"Subject":"s"}]`, nil, false},
		{"duplicate key", `[{` + k + `,"kind":"key"}]`, nil, false},
		{"unknown key", `[{` + k + `,"key":"-----BEGIN PUBLIC KEY-----"}]`, nil, false},
		{"missing verified", `[{"kind":"keyless","signer":"s"}]`, nil, false},
		{"missing signer", `[{"kind":"keyless","verified":false}]`, nil, false},
		{"null member", `[{` + k + `,"issuer":null}]`, nil, false},
		{"wrong type", `[{"kind":"keyless","signer":"s","verified":"false"}]`, nil, false},
		{"too many", list(protocol.MaxReleaseSigners + 1), nil, false},
		{"refused by CheckSigners", `[{"kind":"x509","signer":"s","verified":false}]`, nil, false},
		{"verified key without key_id", `[{"kind":"key","signer":"s","verified":true}]`, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ann := c.ann
			rel, err := parseRelease(signersManifest(t, &ann))
			if !c.ok {
				var np errNotPack
				if err == nil {
					t.Fatalf("accepted, signers %+v", rel.Signers)
				} else if errorsAs(err, &np) || !strings.Contains(err.Error(), AnnotationSigners) {
					t.Fatalf("error %v, want one naming the annotation, not errNotPack", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rel.Signers, c.want) {
				t.Fatalf("signers %+v, want %+v", rel.Signers, c.want)
			}
		})
	}
	rel, err := parseRelease(signersManifest(t, nil))
	if err != nil || rel.Signers != nil {
		t.Fatalf("no annotation: %+v %v", rel, err)
	}
}

// FuzzParseRelease: any manifest bytes parse without panicking; a release
// accepted has signers CheckSigners accepts, and writing it again gives a
// manifest that reads back with the same signers.
func FuzzParseRelease(f *testing.F) {
	good, _ := json.Marshal([]protocol.ReleaseSigner{keySigner, keylessSigner})
	for _, ann := range []string{string(good), `[{"kind":"keyless","signer":"s","verified":false}]`, `[{"KIND":"key"}]`, `[{"kind":"key","kind":"key"}]`, `null`, `[`} {
		f.Add(signersManifest(f, &ann))
	}
	f.Add(signersManifest(f, nil))
	f.Add([]byte(`{"artifactType":"application/vnd.evidencepack.pack.v1","layers":[{"mediaType":"application/vnd.evidencepack.pack.v1+zip","digest":"sha256:` + strings.Repeat("ab", 32) + `","size":3}],"annotations":{"org.evidencepack.signers":"[{\"kind\":\"keyless\",\"signer\":\"\",\"verified\":false}]"}}`))
	// A layer digest without ':' made go-digest's Algorithm panic.
	f.Add([]byte(`{"artifactType":"application/vnd.evidencepack.pack.v1","layers":[{"mediaType":"application/vnd.evidencepack.pack.v1+zip","size":2}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := parseRelease(data)
		if err != nil {
			return
		}
		if err := protocol.CheckSigners(rel.Signers); err != nil {
			t.Fatalf("accepted signers CheckSigners refuses: %v", err)
		}
		raw, _, err := rel.manifest()
		if err != nil {
			return // too large to write again
		}
		again, err := parseRelease(raw)
		if err != nil {
			t.Fatalf("a release written again does not read back: %v\n%s", err, raw)
		}
		if !slices.Equal(again.Signers, rel.Signers) {
			t.Fatalf("signers %+v read back as %+v", rel.Signers, again.Signers)
		}
	})
}
