package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestReleasesListRequestCheck(t *testing.T) {
	long := strings.Repeat("l", 256)
	for _, tc := range []struct {
		name string
		req  ReleasesListRequest
		want string
	}{
		{"empty", ReleasesListRequest{}, ""},
		{"full", ReleasesListRequest{Target: TargetConfig{Stream: "s"}, Labels: []string{"v1", "monthly"}, Limit: MaxReleasesLimit, Cursor: "rel_01ABC"}, ""},
		{"negative limit", ReleasesListRequest{Limit: -1}, "limit -1"},
		{"limit too large", ReleasesListRequest{Limit: MaxReleasesLimit + 1}, "out of range"},
		{"cursor too long", ReleasesListRequest{Cursor: strings.Repeat("c", MaxCursorBytes+1)}, "cursor is"},
		{"cursor with a space", ReleasesListRequest{Cursor: "a b"}, "printable"},
		{"cursor with a newline", ReleasesListRequest{Cursor: "a\nb"}, "printable"},
		{"cursor with non-ASCII", ReleasesListRequest{Cursor: "é"}, "printable"},
		{"blank label", ReleasesListRequest{Labels: []string{" "}}, "blank"},
		{"long label", ReleasesListRequest{Labels: []string{long}}, "longer than"},
		{"too many labels", ReleasesListRequest{Labels: strings.Split(strings.Repeat("x,", MaxReleaseLabelFilters)+"x", ",")}, "label filters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Check()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Check() = %v, want %q", err, tc.want)
			}
		})
	}
	if (&ReleasesListRequest{}).PageLimit() != DefaultReleasesLimit || (&ReleasesListRequest{Limit: 7}).PageLimit() != 7 {
		t.Fatal("PageLimit")
	}
}

func releaseJSON(id string, extra string) string {
	return fmt.Sprintf(`{"release_id":%q,"created_at":"2026-12-01T09:00:00Z","stream":"acme/evidence","file_digest":"sha256:%s","size_bytes":3%s}`,
		id, strings.Repeat("a", 64), extra)
}

func TestReleasesListRequired(t *testing.T) {
	one := releaseJSON("rel_1", `,"labels":["v1.0.0"],"version":"v1.0.0","pack_digest":"sha256:`+strings.Repeat("b", 64)+`"`)
	for _, tc := range []struct {
		name, raw, want string
	}{
		{"empty page", `{"releases":[]}`, ""},
		{"one release and a cursor", `{"releases":[` + one + `],"next_cursor":"rel_1"}`, ""},
		{"signers", `{"releases":[` + releaseJSON("r", `,"signers":[{"kind":"key","signer":"abc"}]`) + `]}`, ""},
		{"verified signers", `{"releases":[` + releaseJSON("r", `,"signers":[{"kind":"key","signer":"k","key_id":"`+strings.Repeat("c", 64)+`","verified":true},{"kind":"keyless","signer":"a@example.com","subject":"a@example.com","issuer":"https://i.example","verified":true}]`) + `]}`, ""},
		{"no signers is none", `{"releases":[` + releaseJSON("r", `,"signers":[]`) + `]}`, ""},
		{"signer of an unknown kind", `{"releases":[` + releaseJSON("r", `,"signers":[{"kind":"gpg","signer":"abc"}]`) + `]}`, "releases[0].signers[0]: kind"},
		{"verified key without key id", `{"releases":[` + releaseJSON("r", `,"signers":[{"kind":"key","signer":"abc","verified":true}]`) + `]}`, "key_id"},
		{"signer with a control character", `{"releases":[` + releaseJSON("r", `,"signers":[{"kind":"keyless","signer":"a\u001bb"}]`) + `]}`, "control"},
		{"no releases", `{}`, "releases is missing"},
		{"null releases", `{"releases":null}`, "releases is missing"},
		{"no release id", `{"releases":[{"created_at":"2026-12-01T09:00:00Z","stream":"s","file_digest":"sha256:` + strings.Repeat("a", 64) + `","size_bytes":1}]}`, "release_id"},
		{"twice", `{"releases":[` + releaseJSON("r", "") + `,` + releaseJSON("r", "") + `]}`, "twice"},
		{"no stream", `{"releases":[` + strings.Replace(releaseJSON("r", ""), `"stream":"acme/evidence",`, "", 1) + `]}`, "stream"},
		{"no time", `{"releases":[` + strings.Replace(releaseJSON("r", ""), `"created_at":"2026-12-01T09:00:00Z",`, "", 1) + `]}`, "created_at"},
		{"bad digest", `{"releases":[` + strings.Replace(releaseJSON("r", ""), `sha256:a`, "sha256:A", 1) + `]}`, "file_digest"},
		{"zero size", `{"releases":[` + strings.Replace(releaseJSON("r", ""), `"size_bytes":3`, `"size_bytes":0`, 1) + `]}`, "size_bytes"},
		{"bad cursor", `{"releases":[],"next_cursor":"a\u0000b"}`, "next_cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r ReleasesListResponse
			if err := DecodeStrict([]byte(tc.raw), &r); err != nil {
				t.Fatal(err)
			}
			err := CheckRequired([]byte(tc.raw), &r)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	// A created_at that is not RFC 3339 is refused while decoding (this
	// command is ours: no adapter writes "" for it).
	for _, bad := range []string{`""`, `"yesterday"`, `17`} {
		var r ReleasesListResponse
		if err := DecodeStrict([]byte(`{"releases":[`+strings.Replace(releaseJSON("r", ""), `"2026-12-01T09:00:00Z"`, bad, 1)+`]}`), &r); err == nil {
			t.Errorf("created_at %s accepted", bad)
		}
	}
	// A page longer than the protocol allows.
	var b strings.Builder
	b.WriteString(`{"releases":[`)
	for i := 0; i <= MaxReleasesLimit; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(releaseJSON(fmt.Sprint("r", i), ""))
	}
	b.WriteString(`]}`)
	var r ReleasesListResponse
	if err := DecodeStrict([]byte(b.String()), &r); err != nil {
		t.Fatal(err)
	}
	if err := CheckRequired([]byte(b.String()), &r); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("oversized page: %v", err)
	}
}

func TestReleasesListIsOptional(t *testing.T) {
	if !OptionalCommand(CmdReleasesList) || !TypeAnswers(CmdReleasesList, "releases.list.result") {
		t.Fatal("releases.list should be an optional command answered by releases.list.result")
	}
	b, _ := json.Marshal(Features{})
	if strings.Contains(string(b), "releases_list") {
		t.Fatalf("releases_list:false is written: %s", b)
	}
	b, _ = json.Marshal(Features{ReleasesList: true})
	if !strings.Contains(string(b), `"releases_list":true`) {
		t.Fatalf("releases_list:true is not written: %s", b)
	}
}

// FuzzReleasesListResponse: no answer panics the strict reader or the
// required-field check, and any answer both accept holds what they promise
// and reads back identically once re-encoded.
func FuzzReleasesListResponse(f *testing.F) {
	for _, s := range []string{
		`{"ok":true,"type":"releases.list.result","request_id":"r","releases":[]}`,
		`{"ok":true,"type":"releases.list.result","request_id":"r","releases":[` + releaseJSON("rel_1", `,"labels":["v1"]`) + `],"next_cursor":"rel_1"}`,
		`{"releases":[` + releaseJSON("a", "") + `,` + releaseJSON("a", "") + `]}`,
		`{"releases":null}`,
		`{"Releases":[],"releases":[]}`,
		`{"releases":[{"created_at":"2026-12-01T09:00:00+01:00"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ReleasesListResponse
		if DecodeStrict(data, &r) != nil || CheckRequired(data, &r) != nil {
			return
		}
		if r.Releases == nil || len(r.Releases) > MaxReleasesLimit || len(r.NextCursor) > MaxCursorBytes {
			t.Fatalf("accepted %+v", r)
		}
		for _, e := range r.Releases {
			if e.ReleaseID == "" || e.Stream == "" || e.CreatedAt.IsZero() || e.SizeBytes <= 0 || !isSHA256Digest(e.FileDigest) || CheckSigners(e.Signers) != nil {
				t.Fatalf("accepted entry %+v", e)
			}
		}
		once, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("re-encoding an accepted answer: %v", err)
		}
		var again ReleasesListResponse
		if err := DecodeStrict(once, &again); err != nil {
			t.Fatalf("re-encoded answer refused: %v\n%s", err, once)
		}
		if err := CheckRequired(once, &again); err != nil {
			t.Fatalf("re-encoded answer fails the required check: %v\n%s", err, once)
		}
		twice, _ := json.Marshal(&again)
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
	})
}
