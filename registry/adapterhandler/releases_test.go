package adapterhandler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/adapterhandler"
	"github.com/evidencerelay/epack/registry/fsstore"
)

// Our adapters announce and answer releases.list; one whose store cannot
// be opened answers it with the reason.
func TestReleasesListWired(t *testing.T) {
	s, err := fsstore.New(filepath.Join(t.TempDir(), "reg"))
	if err != nil {
		t.Fatal(err)
	}
	h := adapterhandler.New(registry.New(s, registry.Options{Name: "filesystem"}))
	if !h.Capabilities.Features.ReleasesList || h.ReleasesList == nil {
		t.Fatal("releases.list not wired")
	}
	req := `{"type":"releases.list","protocol_version":1,"request_id":"r","remote":"origin","target":{"workspace":"acme"}}`
	var out bytes.Buffer
	if code := adapter.Run([]string{protocol.CmdReleasesList}, strings.NewReader(req), &out, &bytes.Buffer{}, h); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var resp protocol.ReleasesListResponse
	if err := protocol.DecodeStrict(out.Bytes(), &resp); err != nil || !resp.OK || protocol.CheckRequired(out.Bytes(), &resp) != nil {
		t.Fatalf("answer %s: %v", out.String(), err)
	}
	_, err = h.ReleasesList(context.Background(), &protocol.ReleasesListRequest{Cursor: "bogus"})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeInvalidRequest {
		t.Fatalf("bad cursor: %v", err)
	}

	down := adapterhandler.Unavailable(h, protocol.Errorf(protocol.CodeNotFound, "no such bucket"))
	_, err = down.ReleasesList(context.Background(), &protocol.ReleasesListRequest{})
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotFound {
		t.Fatalf("unavailable store: %v", err)
	}
	b, _ := json.Marshal(down.Capabilities.Features)
	if !strings.Contains(string(b), `"releases_list":true`) {
		t.Fatalf("features %s", b)
	}
}
