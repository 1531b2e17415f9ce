package push_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/evidencerelay/epack/push"
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

// BenchmarkPushTiny measures the fixed cost of a push: verify a tiny pack,
// seal the pinned adapter, and four adapter calls (capabilities, prepare,
// finalize, runs.sync) plus the file:// upload and the receipt.
func BenchmarkPushTiny(b *testing.B) {
	e := newBenchEnv(b)
	pinTestAdapter(b, e.root)
	o := push.Options{Remote: "t", PackPath: e.packPath, Stderr: os.Stderr}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := push.Push(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
}
