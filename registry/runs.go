package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/protocol"
)

// RunsSync stores run results under runs/<file-hex>/<run-id>/result.json.
// Each run is accepted (stored now), duplicate (the same id with the same
// digest is already stored) or rejected with a reason: bad run id or digest,
// a result_path outside the pack's sidecar folder or through a symlink, a
// file over 1 MiB or not JSON, a digest that does not match the bytes, or a
// different result already stored under that id.
//
// The sidecar is <pack_path without .epack>.runs when the request carries
// pack_path (our host always sends it); otherwise the nearest folder named
// *.runs above result_path, and a path with no such folder is rejected.
func (r *Registry) RunsSync(ctx context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
	fileHex, err := ParseDigest("file_digest", req.FileDigest)
	if err != nil {
		return nil, err
	}
	if r.opt.MaxRunsPerSync > 0 && len(req.Runs) > r.opt.MaxRunsPerSync {
		return nil, invalid("%d runs in one request; the limit is %d", len(req.Runs), r.opt.MaxRunsPerSync)
	}
	sidecar := ""
	if req.PackPath != "" {
		if !filepath.IsAbs(req.PackPath) || filepath.Clean(req.PackPath) != req.PackPath {
			return nil, invalid("pack_path %q must be an absolute clean path", truncate(req.PackPath))
		}
		sidecar = strings.TrimSuffix(req.PackPath, ".epack") + ".runs"
	}
	if _, err := r.store.Head(ctx, blobKey(fileHex)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, protocol.Errorf(protocol.CodeNotFound, "no pack %s in this registry; push it before syncing its runs", req.FileDigest)
		}
		return nil, storeErr(err, "checking the pack blob")
	}
	resp := &protocol.RunsSyncResponse{Items: []protocol.RunStatus{}}
	seen := map[string]string{} // run id → digest, within this request
	for _, run := range req.Runs {
		status, reason, err := r.syncRun(ctx, fileHex, sidecar, run, seen)
		if err != nil {
			return nil, err
		}
		resp.Items = append(resp.Items, protocol.RunStatus{RunID: run.RunID, Status: status, Reason: reason})
		switch status {
		case protocol.RunAccepted:
			resp.Accepted++
		case protocol.RunRejected:
			resp.Rejected++
		}
	}
	return resp, nil
}

func (r *Registry) syncRun(ctx context.Context, fileHex, sidecar string, run protocol.RunItem, seen map[string]string) (status, reason string, err error) {
	reject := func(format string, args ...any) (string, string, error) {
		return protocol.RunRejected, invalid(format, args...).Message, nil
	}
	if err := CheckName(KindRunID, run.RunID); err != nil {
		return reject("%v", err)
	}
	wantHex, err := ParseDigest("result_digest", run.ResultDigest)
	if err != nil {
		return reject("%v", err)
	}
	if prev, ok := seen[run.RunID]; ok {
		if prev == wantHex {
			return protocol.RunDuplicate, "", nil
		}
		return reject("run id %q appears twice with different digests", run.RunID)
	}
	seen[run.RunID] = wantHex

	p := run.ResultPath
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return reject("result_path %q must be an absolute clean path", truncate(p))
	}
	dir := sidecar
	if dir == "" {
		dir = nearestRunsDir(p)
		if dir == "" {
			return reject("result_path %q is not inside a <pack>.runs folder (and no pack_path was sent)", truncate(p))
		}
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return reject("result_path %q is outside the pack's sidecar folder %s", truncate(p), dir)
	}
	data, err := safefile.ReadFileNoFollow(dir, rel, MaxRunResultBytes)
	if err != nil {
		return reject("result_path %q: %v", truncate(p), err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != wantHex {
		return reject("result digest mismatch: the file has sha256:%x", sum)
	}
	if !json.Valid(data) {
		return reject("result file is not valid JSON")
	}
	key := runKey(fileHex, EscapeName(run.RunID))
	err = r.store.CreateIfAbsent(ctx, key, data)
	if err == nil {
		return protocol.RunAccepted, "", nil
	}
	if !errors.Is(err, ErrExists) {
		return "", "", storeErr(err, "storing run %s", run.RunID)
	}
	have, _, err := r.store.Get(ctx, key, MaxRunResultBytes)
	if err != nil {
		return "", "", storeErr(err, "reading stored run %s", run.RunID)
	}
	if bytes.Equal(have, data) {
		return protocol.RunDuplicate, "", nil
	}
	hs := sha256.Sum256(have)
	return reject("run id %q is already stored with a different result (sha256:%x)", run.RunID, hs)
}

// nearestRunsDir returns the closest ancestor of p whose name ends in ".runs".
func nearestRunsDir(p string) string {
	for d := filepath.Dir(p); d != filepath.Dir(d); d = filepath.Dir(d) {
		if strings.HasSuffix(filepath.Base(d), ".runs") && len(filepath.Base(d)) > len(".runs") {
			return d
		}
	}
	return ""
}
