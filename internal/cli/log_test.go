package cli

import (
	"reflect"
	"testing"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// 'epack log verify|show', 'epack gc' and 'epack hold set|clear' parse into
// their options; usage mistakes are invalid_input before anything runs.
func TestLogGCHoldFlags(t *testing.T) {
	clearEnv(t)
	g, got, err := parseWith(t, newCmdLog, "log", "verify", "origin", "--stream", "acme/prod", "--receipt", "a.json", "--receipt", "b.json",
		"--env", "prod", "--workspace", "acme", "--frozen", "--yes", "--json")
	want := &logOptions{g: g, Remote: "origin", Env: "prod", Workspace: "acme", Stream: "acme/prod", Receipts: []string{"a.json", "b.json"}, Frozen: true, Yes: true}
	if err != nil || !reflect.DeepEqual(got, want) || !g.JSON {
		t.Fatalf("log verify: %+v %v", got, err)
	}
	g, got, err = parseWith(t, newCmdLog, "log", "show", "origin")
	if err != nil || !reflect.DeepEqual(got, &logOptions{g: g, Show: true, Remote: "origin"}) {
		t.Fatalf("log show: %+v %v", got, err)
	}
	g, got, err = parseWith(t, newCmdGC, "gc", "origin", "--dry-run", "--older-than", "7d")
	if err != nil || !reflect.DeepEqual(got, &gcOptions{g: g, Remote: "origin", DryRun: true, OlderThan: "7d"}) {
		t.Fatalf("gc: %+v %v", got, err)
	}
	if _, got, _ := parseWith(t, newCmdGC, "gc", "origin"); got.(*gcOptions).OlderThan != "24h" {
		t.Fatalf("gc default age: %+v", got)
	}
	g, got, err = parseWith(t, newCmdHold, "hold", "clear", "origin", "rel_01JD2W3K9QXYZ5T7A8B9C0D1E2")
	if err != nil || !reflect.DeepEqual(got, &holdOptions{g: g, Remote: "origin", ReleaseID: "rel_01JD2W3K9QXYZ5T7A8B9C0D1E2"}) {
		t.Fatalf("hold clear: %+v %v", got, err)
	}
	for _, c := range []struct {
		mk   string
		args []string
	}{
		{"log", []string{"log", "verify"}},
		{"log", []string{"log", "verify", "a", "b"}},
		{"log", []string{"log", "show", "a", "--stream", " "}},
		{"log", []string{"log", "nonsense"}},
		{"gc", []string{"gc"}},
		{"gc", []string{"gc", "a", "--older-than", ""}},
		{"hold", []string{"hold", "set", "origin"}},
	} {
		var err error
		var got any
		switch c.mk {
		case "log":
			_, got, err = parseWith(t, newCmdLog, c.args...)
		case "gc":
			_, got, err = parseWith(t, newCmdGC, c.args...)
		case "hold":
			_, got, err = parseWith(t, newCmdHold, c.args...)
		}
		if got != nil || !errcode.Has(err, errcode.InvalidInput) {
			t.Errorf("%v: %v (ran: %v)", c.args, err, got != nil)
		}
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"0s": 0, "30m": 30 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		if got, err := parseAge(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1h", "x", "1.5d", "d"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
