package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

var entryData = []byte("evidence\n")

// manifestFor returns a valid manifest listing the given artifacts.
func manifestFor(arts []pack.Artifact) []byte {
	if arts == nil {
		arts = []pack.Artifact{}
	}
	m := &pack.Manifest{SpecVersion: "1.0", Stream: "test/stream", GeneratedAt: "2026-01-20T12:00:00Z",
		Sources: []pack.Source{}, Artifacts: arts, PackDigest: pack.ComputePackDigest(arts)}
	b, _ := json.Marshal(m)
	return b
}

func artifactFor(name string, data []byte) pack.Artifact {
	return pack.Artifact{Type: "embedded", Path: name, Digest: pack.DigestBytes(data), Size: int64(len(data))}
}

// packWith builds manifest.json + artifacts/ + extra entries; extra files
// under artifacts/ are listed in the manifest so that only the rule under
// test can refuse the pack.
func packWith(extra ...ziptest.Entry) []byte {
	var arts []pack.Artifact
	seen := map[string]bool{}
	for _, e := range extra {
		if strings.HasPrefix(e.Name, "artifacts/") && !strings.HasSuffix(e.Name, "/") && !seen[e.Name] {
			seen[e.Name] = true
			size := int64(len(e.Data))
			if e.UncompressedSize != nil {
				size = int64(*e.UncompressedSize)
			}
			a := artifactFor(e.Name, e.Data)
			a.Size = size
			arts = append(arts, a)
		}
	}
	es := []ziptest.Entry{ziptest.File("manifest.json", manifestFor(arts)), ziptest.Dir("artifacts/")}
	return ziptest.Build(append(es, extra...)...)
}

func entryNamed(name string) ziptest.Entry {
	if strings.HasSuffix(name, "/") {
		return ziptest.Dir(name)
	}
	return ziptest.File(name, entryData)
}

func openResult(b []byte) Result {
	p, err := pack.OpenReaderAt(bytes.NewReader(b), int64(len(b)))
	if err == nil {
		p.Close()
	}
	return resultOf(err, nil)
}

// structure builds exactly the listed entries; manifest.json (wherever it
// is) lists the files under artifacts/.
func structure(names []string) []byte {
	var arts []pack.Artifact
	for _, n := range names {
		if strings.HasPrefix(n, "artifacts/") && !strings.HasSuffix(n, "/") {
			arts = append(arts, artifactFor(n, entryData))
		}
	}
	var es []ziptest.Entry
	for _, n := range names {
		if path.Base(n) == "manifest.json" {
			es = append(es, ziptest.File(n, manifestFor(arts)))
			continue
		}
		es = append(es, entryNamed(n))
	}
	return ziptest.Build(es...)
}

func (r *run) structureFile(v obj) error {
	base := path.Base(r.name)
	switch base {
	case "extra-artifact-in-zip.json":
		in := v.obj("input")
		var names []string
		in.decode("zip_entries", &names)
		var es []ziptest.Entry
		for _, n := range names {
			if n == "manifest.json" {
				es = append(es, ziptest.File(n, in["manifest"]))
			} else {
				es = append(es, entryNamed(n))
			}
		}
		r.add("", v.valid(false), openResult(ziptest.Build(es...)), nil, expectedCode(v))
		return nil
	case "missing-artifact.json":
		for i, t := range v.list("tests") {
			var arts []pack.Artifact
			t.decode("manifest_artifacts", &arts)
			var names []string
			t.decode("zip_entries", &names)
			var es []ziptest.Entry
			for _, n := range names {
				if n == "manifest.json" {
					es = append(es, ziptest.File(n, manifestFor(arts)))
				} else {
					es = append(es, entryNamed(n))
				}
			}
			r.add(caseName(t, i), t.valid(true), openResult(ziptest.Build(es...)), nil, expectedCode(t))
		}
		return nil
	case "pack-structure.json":
		for i, t := range v.list("tests") {
			var res Result
			switch {
			case t.has("structure"):
				var names []string
				t.decode("structure", &names)
				res = openResult(structure(names))
			case t.has("content"):
				res = openResult([]byte(t.str("content")))
			case t.has("filename"):
				res = resultOf(checkPackFileName(t.str("filename")), nil)
			default:
				return fmt.Errorf("%s: case %d has no input", r.name, i)
			}
			r.add(caseName(t, i), t.valid(true), res, nil, expectedCode(t))
		}
		return nil
	}
	// Entry-path vectors: one pack per entry.
	for i, t := range v.list("tests") {
		r.add(caseName(t, i), t.valid(true), openResult(packWith(entryNamed(t.str("entry_path")))), nil, expectedCode(t))
	}
	var valid []json.RawMessage
	v.decode("valid_entries", &valid)
	for i, raw := range valid {
		var name string
		var t obj
		if json.Unmarshal(raw, &name) != nil {
			mustDecode(raw, &t)
			name = t.str("entry_path")
		}
		if name == "manifest.json" {
			r.add("valid/"+name, true, openResult(packWith()), nil, "")
			continue
		}
		if name == "" {
			return fmt.Errorf("%s: valid entry %d has no path", r.name, i)
		}
		r.add("valid/"+name, true, openResult(packWith(entryNamed(name))), nil, "")
	}
	return nil
}

// checkPackFileName accepts the pack file extensions in use: .epack and .zip.
func checkPackFileName(name string) error {
	if strings.HasSuffix(name, ".epack") || strings.HasSuffix(name, ".zip") {
		return nil
	}
	return errcode.New(errcode.InvalidInput, "%q: an evidence pack file ends in .epack or .zip", name)
}

func parseMode(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	return uint32(n), err
}

func (r *run) zipSafetyFile(v obj) error {
	if fx := v.str("fixture"); fx != "" {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(r.file), filepath.FromSlash(fx)))
		if err != nil {
			return err
		}
		r.add("", v.valid(false), openResult(b), nil, expectedCode(v))
		return nil
	}
	for i, t := range v.list("tests") {
		name := caseName(t, i)
		switch {
		case t.has("entry_path"):
			r.add(name, t.valid(false), openResult(packWith(entryNamed(t.str("entry_path")))), nil, expectedCode(t))
		case t.has("entry"):
			e := t.obj("entry")
			var cs, us uint32
			e.decode("compressed_size", &cs)
			e.decode("uncompressed_size", &us)
			ze := ziptest.Entry{Name: e.str("name"), Raw: make([]byte, cs), UncompressedSize: ziptest.U32(us)}
			if !strings.HasSuffix(ze.Name, "/") && cs != us {
				ze.Method = ziptest.U16(8)
			}
			if attrs := e.obj("external_attrs"); attrs != nil {
				m, err := parseMode(attrs.str("unix_mode"))
				if err != nil {
					return err
				}
				ze.Mode = m
			}
			r.add(name, t.valid(true), openResult(packWith(ze)), nil, expectedCode(t))
		case t.has("entry_type"):
			if !t.has("unix_mode") {
				r.skip(name, t.valid(false), "a ZIP archive has no hard-link entry type; every entry is a file, a directory, or a Unix mode that is checked")
				continue
			}
			m, err := parseMode(t.str("unix_mode"))
			if err != nil {
				return err
			}
			ze := ziptest.Entry{Name: "artifacts/special-" + t.str("entry_type"), Data: entryData, Mode: m}
			r.add(name, t.valid(false), openResult(packWith(ze)), nil, "")
		default:
			return fmt.Errorf("%s: case %d has no input", r.name, i)
		}
	}
	return nil
}

func (r *run) limitsFile(v obj) error {
	// Limits are constants here; check that each is at or above the
	// required minimum and that none can be turned off.
	var mins struct {
		Size  struct{ Minimum int64 } `json:"max_artifact_size"`
		Pack  struct{ Minimum int64 } `json:"max_pack_size"`
		Count struct{ Minimum int64 } `json:"max_artifact_count"`
	}
	v.decode("minimum_required_limits", &mins)
	comp := map[string]any{"max_artifact_size": pack.MaxArtifactSize, "max_pack_size": pack.MaxReadBudget, "max_artifact_count": pack.MaxArtifacts}
	var err error
	if pack.MaxArtifactSize < mins.Size.Minimum || pack.MaxReadBudget < mins.Pack.Minimum || pack.MaxArtifacts < mins.Count.Minimum {
		err = errcode.New(errcode.InvalidInput, "a built-in limit is below the required minimum")
	}
	r.add("built-in-limits", true, resultOf(err, comp), nil, "")
	for i, t := range v.list("tests") {
		r.skip(caseName(t, i)+fmt.Sprint(i), t.valid(true), "limits are fixed constants (100 MiB, 2 GiB, 10,000 artifacts); there is no limit configuration to accept or reject")
	}
	return nil
}
