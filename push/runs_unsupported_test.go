package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/push"
)

// An adapter that does not support run sync — it leaves runs_sync out of its
// capabilities, or answers runs.sync with unsupported_protocol as adapters
// built with the existing tool's SDK do — gets its release without run sync:
// the push succeeds (even with require_success), no run counts as failed, and
// the Result, the receipt, the steps and stderr say that run sync was skipped.
func TestRunSyncUnsupportedIsSkipped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ext, yaml string
		runs            bool
		wantSteps       string
		skipped         bool
	}{
		{name: "unsupported_protocol answer", ext: `"runs_error":"unsupported_protocol"`, runs: true, skipped: true,
			wantSteps: "+Syncing runs|+" + push.StepRunsSkipped + "|-" + push.StepRunsSkipped},
		{name: "unsupported_protocol with require_success", ext: `"runs_error":"unsupported_protocol"`, yaml: "    runs:\n      require_success: true\n", runs: true, skipped: true,
			wantSteps: "+Syncing runs|+" + push.StepRunsSkipped + "|-" + push.StepRunsSkipped},
		{name: "feature not announced", ext: `"no_runs":true`, runs: true, skipped: true,
			wantSteps: "+" + push.StepRunsSkipped + "|-" + push.StepRunsSkipped},
		{name: "feature not announced and no results", ext: `"no_runs":true`, wantSteps: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.ext, tc.yaml)
			if tc.runs {
				writeRun(t, e.packPath, "tools/aws/run-001/result.json", `{"ok":true}`)
				writeRun(t, e.packPath, "tools/gcp/run-002/result.json", `{"ok":true}`)
			}
			var steps []string
			var stderr bytes.Buffer
			o := e.opts()
			o.Stderr = &stderr
			o.OnStep = func(s string, started bool) {
				if s == push.StepRuns || s == push.StepRunsSkipped {
					steps = append(steps, map[bool]string{true: "+", false: "-"}[started]+s)
				}
			}
			res, err := push.Push(context.Background(), o)
			if err != nil {
				t.Fatalf("push must not fail when run sync is unsupported: %v", err)
			}
			if got := strings.Join(steps, "|"); got != tc.wantSteps {
				t.Errorf("run steps %q, want %q", got, tc.wantSteps)
			}
			if len(res.FailedRuns) != 0 || len(res.SyncedRuns) != 0 || res.RunsError != nil {
				t.Errorf("result runs synced=%v failed=%v error=%v", res.SyncedRuns, res.FailedRuns, res.RunsError)
			}
			if (res.RunsSkipped != "") != tc.skipped {
				t.Errorf("RunsSkipped %q, want skipped=%v", res.RunsSkipped, tc.skipped)
			}
			b, err := os.ReadFile(res.ReceiptPath)
			if err != nil {
				t.Fatal(err)
			}
			var rc struct {
				Runs map[string]any `json:"runs"`
			}
			if err := json.Unmarshal(b, &rc); err != nil {
				t.Fatal(err)
			}
			// The upstream keys stay as upstream writes them; "skipped" is ours.
			if rc.Runs["synced"] != nil || rc.Runs["failed"] != nil || rc.Runs["error"] != nil {
				t.Errorf("receipt runs %v", rc.Runs)
			}
			if s, _ := rc.Runs["skipped"].(string); (s != "") != tc.skipped || (tc.skipped && s != res.RunsSkipped) {
				t.Errorf("receipt runs.skipped %q (result %q)", s, res.RunsSkipped)
			}
			note := strings.Contains(stderr.String(), "run sync skipped") && strings.Contains(stderr.String(), "2 run result(s) not sent")
			if note != tc.skipped {
				t.Errorf("stderr note present=%v, want %v:\n%s", note, tc.skipped, stderr.String())
			}
			if strings.Contains(stderr.String(), "run sync failed") {
				t.Errorf("skipped run sync reported as a failure:\n%s", stderr.String())
			}
		})
	}
}
