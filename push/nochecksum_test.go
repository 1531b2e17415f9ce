package push_test

import (
	"context"
	"testing"

	"github.com/evidencerelay/epack/internal/e2e"
	"github.com/evidencerelay/epack/push"
)

// TestNoFileChecksumSkipsMD5: an adapter announcing
// features.no_file_checksum gets push.prepare without pack.checksum (the
// verification pass computed no MD5), everything else as usual, and the
// release is created; an adapter without it still gets the checksum.
func TestNoFileChecksumSkipsMD5(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ext          string
		wantChecksum bool
	}{
		{`"no_file_checksum":true`, false},
		{`"no_file_checksum":false`, true},
	} {
		e := newEnv(t, c.ext, "")
		res, err := push.Push(context.Background(), e.opts())
		if err != nil {
			t.Fatalf("%s: %v", c.ext, err)
		}
		if res.Release == nil || res.FileDigest != e2e.FileSHA256(t, e.packPath) {
			t.Fatalf("%s: result %+v", c.ext, res)
		}
		log := e2e.ReadLog(t, e.state)
		if len(log) == 0 || log[0]["type"] != "push.prepare" {
			t.Fatalf("%s: requests %v", c.ext, log)
		}
		pk := log[0]["pack"].(map[string]any)
		sum, has := pk["checksum"].(string)
		if has != c.wantChecksum || c.wantChecksum && len(sum) != 24 {
			t.Fatalf("%s: pack.checksum %q (present %v), want present %v", c.ext, sum, has, c.wantChecksum)
		}
		if pk["file_digest"] != res.FileDigest {
			t.Fatalf("%s: file_digest %v", c.ext, pk["file_digest"])
		}
	}
}
