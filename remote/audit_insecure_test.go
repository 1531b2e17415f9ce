package remote

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/audit"
)

// An insecure opt-in is allowed only because it leaves an audit line. When
// .epack/audit.log cannot be written, the run used to go on unaudited; it
// must stop before the adapter runs, naming the audit log.
func TestInsecureRunFailsClosedWithoutAudit(t *testing.T) {
	breakers := []struct {
		name  string
		setup func(t *testing.T, root string)
	}{
		{"dangling symlink", func(t *testing.T, root string) {
			mkdir(t, filepath.Join(root, ".epack"))
			if err := os.Symlink(filepath.Join(root, "nowhere", "audit.log"), filepath.Join(root, audit.File)); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", func(t *testing.T, root string) {
			mkdir(t, filepath.Join(root, ".epack"))
			if err := syscall.Mkfifo(filepath.Join(root, audit.File), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"folder", func(t *testing.T, root string) { mkdir(t, filepath.Join(root, audit.File)) }},
		{".epack is a file", func(t *testing.T, root string) {
			if err := os.WriteFile(filepath.Join(root, ".epack"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// Permissions do not stop root, so this case exists only for other users
	// (the others above fail for root too).
	if os.Geteuid() != 0 {
		breakers = append(breakers, struct {
			name  string
			setup func(t *testing.T, root string)
		}{"read-only folder", func(t *testing.T, root string) {
			mkdir(t, filepath.Join(root, ".epack"))
			if err := os.Chmod(filepath.Join(root, ".epack"), 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(filepath.Join(root, ".epack"), 0o700) })
		}})
	}
	optIns := []struct {
		name   string
		pinned bool
		pol    Policy
		custom bool
	}{
		{name: "allow unpinned", pol: Policy{AllowUnpinned: true}},
		// The variable set as well changes nothing: the field is the opt-in.
		{name: "env allow unpinned", pol: Policy{AllowUnpinned: true}},
		{name: "custom endpoint", pinned: true, custom: true},
	}
	for _, b := range breakers {
		for _, o := range optIns {
			t.Run(b.name+"/"+o.name, func(t *testing.T) {
				t.Setenv(EnvAllowUnpinned, "")
				if o.name == "env allow unpinned" {
					t.Setenv(EnvAllowUnpinned, "1")
				}
				p := newProject(t)
				bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `exit 0`)
				if o.pinned {
					p.pin("origin", bin)
				}
				r := p.remote("origin", bin)
				if o.custom {
					r.InsecureEndpoint = "https://api.example.com"
				}
				b.setup(t, p.root)
				_, err := p.open(r, o.pol)
				wantCode(t, err, errcode.PolicyViolation, filepath.Join(p.root, audit.File))
				if !strings.Contains(errcode.HintOf(err), audit.File) {
					t.Errorf("hint %q does not say how to fix the audit log", errcode.HintOf(err))
				}
				if _, err := os.Stat(filepath.Join(p.root, "adapter.pid")); err == nil {
					t.Error("the adapter ran although the insecure run could not be audited")
				}
			})
		}
	}
	// With a writable audit log the same runs work and are recorded.
	p := newProject(t)
	bin := scriptAdapter(t, t.TempDir(), "epack-remote-script", `exit 0`)
	s, err := p.open(p.remote("origin", bin), Policy{AllowUnpinned: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if b, err := os.ReadFile(filepath.Join(p.root, audit.File)); err != nil || !strings.Contains(string(b), `"event":"insecure_bypass"`) {
		t.Fatalf("audit log %q (%v)", b, err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}
