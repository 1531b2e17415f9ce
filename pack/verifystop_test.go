package pack

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/pack/internal/ziptest"
)

// Once an artifact fails, verification hands out no later artifacts: a pack
// whose first artifact is bad is not read to its end (with one worker, so
// no artifact is in flight when the first one fails).
func TestVerifyStopsAfterFirstFailure(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	arts := []art{{"artifacts/0.txt", []byte("good")}, {"artifacts/1.bin", big}, {"artifacts/2.bin", big}, {"artifacts/3.bin", big}}
	m := testManifest(arts...)
	m.Artifacts[0].Digest = DigestBytes([]byte("else"))
	m.PackDigest = ComputePackDigest(m.Artifacts)
	es := []ziptest.Entry{ziptest.File("manifest.json", mustJSON(t, m)), ziptest.Dir("artifacts/")}
	for _, a := range arts {
		es = append(es, ziptest.File(a.path, a.data)) // stored: bytes read = bytes verified
	}
	b := ziptest.Build(es...)
	c := &countingReaderAt{r: bytes.NewReader(b)}
	p, err := OpenReaderAt(c, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opened := c.n.Load()
	wantCode(t, p.VerifyIntegrity(context.Background()), errcode.DigestMismatch)
	if read := c.n.Load() - opened; read >= 1<<20 {
		t.Fatalf("read %d bytes after the first artifact failed", read)
	}
}
