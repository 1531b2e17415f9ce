package push_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
)

// pinTestAdapter writes epack.lock.yaml pinning the test adapter for remote "t".
func pinTestAdapter(b testing.TB, root string) {
	data, err := os.ReadFile(filepath.Join(binDir, "epack-remote-test"))
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(data)
	lock := fmt.Sprintf("schema_version: 1\nremotes:\n  t:\n    kind: external\n    platforms:\n      %s/%s:\n        digest: sha256:%s\n",
		runtime.GOOS, runtime.GOARCH, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(filepath.Join(root, "epack.lock.yaml"), []byte(lock), 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPushTiny measures the fixed cost of one `epack push` of a tiny
// pack, as a user pays it: a fresh epack process that verifies the pack,
// seals the pinned adapter and makes four adapter calls (capabilities,
// prepare, finalize, runs.sync), uploads over file:// and writes a receipt.
// (In one process, repeated pushes would mostly measure the adapter-call
// rate limit of 10/s, burst 5.)
func BenchmarkPushTiny(b *testing.B) {
	e := newEnvWith(b, e2e.TestRemote{})
	pinTestAdapter(b, e.root)
	epack := filepath.Join(e2e.BinDir(b, binDir), "epack")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(epack, "push", "t", e.packPath, "-q")
		cmd.Dir = e.root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
}
