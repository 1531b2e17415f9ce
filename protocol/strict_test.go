package protocol

import (
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	good := []string{
		`{}`, `[]`, `1`, `"s"`, `null`, " {\"a\":1} \n",
		`{"controls":["A","B","C","B"]}`,
		`{"controls":["A","type"]}`,
		`{"labels":["x","stream"],"stream":"s"}`,
		`{"extensions":{"n":[1,2]},"b":[true,false,null]}`,
		`{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}`,
		`{"a":[[],[{}],{"x":[1,{"y":2}]}],"y":2}`,
	}
	for _, s := range good {
		if err := CheckJSON([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := map[string]string{
		`{"a":1,"a":2}`:              "duplicate key",
		`{"x":{"a":1,"b":[],"a":2}}`: "duplicate key",
		`[{"a":1,"a":1}]`:            "duplicate key",
		`{"a":[1,2],"a":3}`:          "duplicate key",
		`{"Type":"x","type":"y"}`:    "duplicate key",
		`{"a":1} {"b":2}`:            "after the JSON value",
		`{"a":1} x`:                  "",
		``:                           "empty",
		`{"a":`:                      "",
		`{"a":1,}`:                   "",
		`[1,2`:                       "",
		strings.Repeat("[", 100) + strings.Repeat("]", 100): "nested deeper",
	}
	for s, want := range bad {
		err := CheckJSON([]byte(s))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", s, err, want)
		}
	}
}

func TestCreatedAtEmptyTolerated(t *testing.T) {
	var r PushFinalizeResponse
	if err := DecodeStrict([]byte(`{"ok":true,"type":"push.finalize.result","request_id":"x","release":{"release_id":"r","created_at":""}}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Release.ReleaseID != "r" || !r.Release.CreatedAt.IsZero() {
		t.Fatalf("%+v", r)
	}
	if err := DecodeStrict([]byte(`{"release":{"release_id":"r","created_at":"2025-02-01T09:01:02Z"}}`), &r); err != nil || r.Release.CreatedAt.Year() != 2025 {
		t.Fatalf("%+v %v", r, err)
	}
	if err := DecodeStrict([]byte(`{"release":{"created_at":"yesterday"}}`), &r); err == nil {
		t.Fatal("bad time accepted")
	}
	var p PullPrepareResponse
	if err := DecodeStrict([]byte(`{"pack":{"digest":"d","created_at":"","size_bytes":3}}`), &p); err != nil || p.Pack.SizeBytes != 3 || p.Pack.Digest != "d" {
		t.Fatalf("%+v %v", p, err)
	}
}

// A response that spells one field two ways (differing only in case) is
// refused before decoding: encoding/json would take either, so the answer
// would be ambiguous.
func TestCaseVariantKeysRefused(t *testing.T) {
	for _, s := range []string{
		`{"ok":true,"OK":false}`,
		`{"ok":true,"type":"push.finalize.result","request_id":"x","release":{"release_id":"a","Release_ID":"b"}}`,
		`{"ok":false,"type":"error","error":{"code":"not_found","Code":"conflict","message":"m"}}`,
	} {
		var r PushFinalizeResponse
		err := DecodeStrict([]byte(s), &r)
		if err == nil || !strings.Contains(err.Error(), "also present as") {
			t.Errorf("%s: err = %v, want a case-variant duplicate", s, err)
		}
	}
}

// FuzzDecodeStrict: no input panics the strict reader, and whatever it
// accepts encoding/json accepts too (it only ever refuses more).
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"A":2}`, `[{"k":"k"}]`, `{"ok":true,"type":"push.prepare.result","request_id":"r","upload":{"method":"PUT","url":"https://x"},"finalize_token":""}`, `"`, `{"a":[1,{"b":null}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := DecodeStrict(data, &v); err != nil {
			return
		}
		var resp PushPrepareResponse
		if CheckJSON(data) == nil && DecodeStrict(data, &resp) == nil {
			_ = CheckRequired(data, &resp)
		}
	})
}
