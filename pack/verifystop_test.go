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
// whose first artifact is bad is not read to its end. With GOMAXPROCS 1
// there is one worker, so no other artifact is in flight while the first
// one (a megabyte, failing at its end) is checked; more workers than that
// would be reading the others meanwhile.
func TestVerifyStopsAfterFirstFailure(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	arts := []art{{"artifacts/0.bin", big}, {"artifacts/1.bin", big}, {"artifacts/2.bin", big}, {"artifacts/3.bin", big}}
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
	if read := c.n.Load() - opened; read >= 2<<20 {
		t.Fatalf("read %d bytes to fail on the first, 1 MiB, artifact", read)
	}
}
