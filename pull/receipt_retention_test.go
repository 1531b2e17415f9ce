package pull_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/pull"
)

// TestReceiptRetention: a pull receipt written with the retention of the
// pull.prepare answer has it as "retention" and reads back the same; one
// without leaves the member out.
func TestReceiptRetention(t *testing.T) {
	t.Parallel()
	p := protocol.PulledPack{Digest: "sha256:" + strings.Repeat("ab", 32), SizeBytes: 3, Stream: "acme/evidence", CreatedAt: time.Now().UTC()}
	root := t.TempDir()
	w := pull.ReceiptWriter{ProjectRoot: root}
	rc := pull.NewReceipt("origin", protocol.TargetConfig{Workspace: "acme"}, root+"/p.epack", p, true)
	rc.Retention = protocol.NewRetention(protocol.RetentionGovernance, time.Date(2033, 12, 1, 9, 0, 1, 0, time.UTC), true)
	path, err := w.Write(rc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"retention": {`) && !strings.Contains(string(b), `"retention":{`) {
		t.Fatalf("receipt without retention: %s", b)
	}
	var back pull.Receipt
	if err := json.Unmarshal(b, &back); err != nil || back.Retention == nil || *back.Retention != *rc.Retention {
		t.Fatalf("read back %+v %v", back.Retention, err)
	}
	rc.Retention = nil
	b, _ = json.Marshal(rc)
	if strings.Contains(string(b), "retention") {
		t.Fatalf("receipt without a retention has the member: %s", b)
	}
}
