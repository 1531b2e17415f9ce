package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// EnvCI is set to "true" by CI systems (GitHub Actions, GitLab CI, …) and by
// the project's own test script.
const EnvCI = "CI"

// StrictSkips reports whether a test that lacks a machine feature must fail
// instead of skipping: in CI the suite is the proof, so a silently missing
// tool is a defect of the machine set-up, not a reason to pass.
func StrictSkips() bool {
	v := strings.TrimSpace(os.Getenv(EnvCI))
	return v == "1" || strings.EqualFold(v, "true")
}

// NeedFeature skips t because the machine lacks something the test needs
// (a program, a server, a kernel feature) — or fails it under CI=true, where
// every such feature is expected to be present.
func NeedFeature(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if StrictSkips() {
		t.Fatalf("missing machine feature (CI=true makes this a failure): %s", msg)
	}
	t.Skip(msg)
}
