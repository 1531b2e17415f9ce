package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/jcs"
)

// ErrorInfo is one error reported for a case.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Result is what the implementation did with a case.
type Result struct {
	OK       bool           `json:"ok"`
	Errors   []ErrorInfo    `json:"errors"`
	Computed map[string]any `json:"computed,omitempty"`
}

// Line is the outcome of one vector case, printed as one JSON object.
type Line struct {
	Vector  string `json:"vector"`
	Valid   bool   `json:"valid"`
	Result  Result `json:"result"`
	Pass    *bool  `json:"pass,omitempty"`    // nil when skipped
	Skipped string `json:"skipped,omitempty"` // reason, when the case was not run
	Detail  string `json:"detail,omitempty"`  // why a case failed
}

// Summary counts the outcomes of a run.
type Summary struct{ Passed, Failed, Skipped int }

// Run runs every vector file under dir (sorted), calling emit for each case.
func Run(dir string, emit func(Line)) (Summary, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") && !strings.Contains(filepath.ToSlash(p), "/fixtures/") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	if len(files) == 0 {
		return Summary{}, fmt.Errorf("no vector files under %s", dir)
	}
	sort.Strings(files)
	var sum Summary
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		rel = filepath.ToSlash(rel)
		r := &run{dir: dir, file: f, name: rel}
		err := r.runFileChecked()
		if err == nil && len(r.lines) == 0 {
			err = errors.New("the vector file yields no cases (renamed or missing test list?)")
		}
		if err != nil {
			r.lines = append(r.lines, Line{Vector: rel, Pass: new(bool), Result: Result{Errors: []ErrorInfo{{"runner", err.Error()}}}, Detail: "vector file could not be run: " + err.Error()})
		}
		for _, l := range r.lines {
			switch {
			case l.Skipped != "":
				sum.Skipped++
			case *l.Pass:
				sum.Passed++
			default:
				sum.Failed++
			}
			emit(l)
		}
	}
	return sum, nil
}

type run struct {
	dir, file, name string
	lines           []Line
}

// obj is a loosely decoded JSON object from a vector file.
type obj map[string]json.RawMessage

func (o obj) str(k string) string {
	var s string
	o.decode(k, &s)
	return s
}

func (o obj) has(k string) bool { _, ok := o[k]; return ok }

func (o obj) list(k string) []obj {
	var l []obj
	o.decode(k, &l)
	return l
}

func (o obj) obj(k string) obj {
	var x obj
	o.decode(k, &x)
	return x
}

// decode reads key k into v when present; a value of the wrong shape stops
// the vector file (see mustDecode): a broken vector must never decode to zero
// values that then "pass".
func (o obj) decode(k string, v any) {
	if raw, ok := o[k]; ok {
		if err := json.Unmarshal(raw, v); err != nil {
			panic(vectorError{fmt.Errorf("key %q: %w", k, err)})
		}
	}
}

// vectorError is a malformed vector file, raised by mustDecode and turned
// into a failed case by runFile.
type vectorError struct{ err error }

// mustDecode decodes raw into v or stops the vector file with a failure.
func mustDecode(raw json.RawMessage, v any) {
	if err := json.Unmarshal(raw, v); err != nil {
		panic(vectorError{err})
	}
}

// valid returns the case's expected validity: "valid", or "expected"
// accept/reject, or def.
func (o obj) valid(def bool) bool {
	if o.has("valid") {
		var b bool
		o.decode("valid", &b)
		return b
	}
	switch o.str("expected") {
	case "reject", "reject_config":
		return false
	case "accept", "accept_config":
		return true
	}
	return def
}

// caseName names case i of a list.
func caseName(o obj, i int) string {
	for _, k := range []string{"name", "description", "path", "entry_path", "value", "json", "input", "policy", "entry_type"} {
		if s := o.str(k); s != "" {
			if len(s) > 60 {
				s = s[:60]
			}
			return s
		}
	}
	return fmt.Sprint(i)
}

// resultOf turns an implementation error into a Result.
func resultOf(err error, computed map[string]any) Result {
	if err == nil {
		return Result{OK: true, Errors: []ErrorInfo{}, Computed: computed}
	}
	code := string(errcode.Of(err))
	if code == "" {
		var je *jcs.Error
		if errors.As(err, &je) {
			switch je.Kind {
			case jcs.ErrDuplicateKey:
				code = string(errcode.DuplicateKeys)
			case jcs.ErrNumber, jcs.ErrNotObject:
				code = string(errcode.InvalidManifest)
			default:
				code = string(errcode.InvalidJSON)
			}
		} else {
			code = string(errcode.Internal)
		}
	}
	return Result{OK: false, Errors: []ErrorInfo{{code, err.Error()}}, Computed: computed}
}

// add records a case. want lists expected computed values that must match.
func (r *run) add(name string, valid bool, res Result, want map[string]any, wantCode string) {
	l := Line{Vector: r.name, Valid: valid, Result: res}
	if name != "" {
		l.Vector += "#" + name
	}
	pass := res.OK == valid
	defer func() { l.Pass = &pass; r.lines = append(r.lines, l) }()
	if !pass {
		if valid {
			l.Detail = "expected valid, implementation refused it"
		} else {
			l.Detail = "expected invalid, implementation accepted it"
		}
	}
	if pass && res.OK {
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			got, _ := json.Marshal(res.Computed[k])
			exp, _ := json.Marshal(want[k])
			if string(got) != string(exp) {
				pass = false
				l.Detail = fmt.Sprintf("computed %s = %s, vector expects %s", k, got, exp)
				break
			}
		}
	}
	if pass && !res.OK && wantCode != "" && len(res.Errors) > 0 && res.Errors[0].Code != wantCode {
		pass = false
		l.Detail = fmt.Sprintf("error code %s, expected %s", res.Errors[0].Code, wantCode)
	}
}

func (r *run) skip(name string, valid bool, reason string) {
	l := Line{Vector: r.name, Valid: valid, Skipped: reason, Result: Result{Errors: []ErrorInfo{}}}
	if name != "" {
		l.Vector += "#" + name
	}
	r.lines = append(r.lines, l)
}

// runFileChecked runs the file, turning a malformed vector (vectorError)
// into an error.
func (r *run) runFileChecked() (err error) {
	defer func() {
		if v := recover(); v != nil {
			ve, ok := v.(vectorError)
			if !ok {
				panic(v)
			}
			err = fmt.Errorf("malformed vector: %w", ve.err)
		}
	}()
	return r.runFile()
}

func (r *run) runFile() error {
	data, err := os.ReadFile(r.file)
	if err != nil {
		return err
	}
	var v obj
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	category, _, _ := strings.Cut(r.name, "/")
	switch category {
	case "jcs":
		return r.jcsFile(v)
	case "manifest-digest":
		return r.manifestDigestFile(v)
	case "pack-digest":
		return r.packDigestFile(v)
	case "manifest":
		return r.manifestFile(v)
	case "path-validation":
		return r.pathFile(v)
	case "structure":
		return r.structureFile(v)
	case "zip-safety":
		return r.zipSafetyFile(v)
	case "limits":
		return r.limitsFile(v)
	case "attestation":
		return r.attestationFile(v)
	}
	return fmt.Errorf("unknown vector category %q", category)
}
