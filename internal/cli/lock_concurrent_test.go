package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/internal/e2e"
)

// Several 'epack lock <remote>' runs at once (make -j, parallel CI steps)
// each read epack.lock.yaml, add their pin and write the file back. Every
// run reported success, but only the last writer's pin survived.
func TestConcurrentLocksKeepEveryPin(t *testing.T) {
	bin := e2e.BinDir(t, binDir)
	adapter := filepath.Join(bin, "epack-remote-filesystem")
	for _, tc := range []struct {
		name    string
		remotes []string
	}{
		{"two remotes", []string{"a", "b"}},
		{"four remotes", []string{"a", "b", "c", "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "stream: acme/prod\nremotes:\n"
			for _, n := range tc.remotes {
				yaml += fmt.Sprintf("  %s:\n    binary: %s\n    transport: {file_root: reg-%s}\n", n, adapter, n)
			}
			root := e2e.Project(t, bin, yaml)
			for round := 0; round < 5; round++ {
				os.Remove(filepath.Join(root, config.LockFileName))
				var wg sync.WaitGroup
				errs := make([]error, len(tc.remotes))
				for i, n := range tc.remotes {
					wg.Add(1)
					go func() {
						defer wg.Done()
						cmd := exec.Command(filepath.Join(bin, "epack"), "lock", n, "-q")
						cmd.Dir = root
						if out, err := cmd.CombinedOutput(); err != nil {
							errs[i] = fmt.Errorf("epack lock %s: %v\n%s", n, err, out)
						}
					}()
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				lock, err := config.LoadLock(root)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range tc.remotes {
					if lock.Remotes[n] == nil {
						t.Fatalf("round %d: every 'epack lock' succeeded but %q is not pinned (have %d of %d)", round, n, len(lock.Remotes), len(tc.remotes))
					}
				}
			}
		})
	}
}
