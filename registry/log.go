package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// The adapter's side of the release log commands (protocol/log.go): it
// hands out what is stored, as it is stored; judging it is the host's
// (VerifyChain).

// logPageBytes bounds the record bytes of one log.read answer.
var logPageBytes = 3 << 20

// blobsCheckBudget bounds the time one blobs.check call spends hashing.
var blobsCheckBudget = 30 * time.Second

// BlobHasher is optionally implemented by a store that can read an object
// back and hash it (blobs.check re-hashes every blob it is asked about).
type BlobHasher interface {
	// HashBlob returns the SHA-256 hex and size of the object at key
	// (ErrNotFound when there is none).
	HashBlob(ctx context.Context, key string) (string, int64, error)
}

// LogStreams answers log.streams: the streams of the target's workspace and
// environment that have release records, in key order, one ordered
// listing per stream.
func (r *Registry) LogStreams(ctx context.Context, req *protocol.LogStreamsRequest) (*protocol.LogStreamsResponse, error) {
	if err := req.Check(); err != nil {
		return nil, invalid("%v", err)
	}
	sc, err := newScope(protocol.TargetConfig{Workspace: req.Target.Workspace, Environment: req.Target.Environment}, false)
	if err != nil {
		return nil, err
	}
	prefix := path.Join("releases", sc.wsSeg, sc.envSeg) + "/"
	after := ""
	if req.Cursor != "" {
		seg, err := base64.RawURLEncoding.DecodeString(req.Cursor)
		if err != nil || strings.ContainsAny(string(seg), "/\x00") {
			return nil, invalid("cursor %q is not one this registry hands out", truncate(req.Cursor))
		}
		after = prefix + string(seg) + "0" // past every key below the stream's folder ('0' follows '/')
	}
	out := &protocol.LogStreamsResponse{Streams: []string{}}
	for len(out.Streams) < req.PageLimit() {
		ents, err := listAfter(ctx, r.store, prefix, after, 1)
		if err != nil {
			return nil, storeErr(err, "listing streams")
		}
		if len(ents) == 0 {
			return out, nil
		}
		seg, _, ok := strings.Cut(strings.TrimPrefix(ents[0].Key, prefix), "/")
		after = prefix + seg + "0"
		if !ok {
			continue // an object right in the environment's folder
		}
		if name, ok := unescapeName(seg); ok {
			out.Streams = append(out.Streams, name)
		}
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(seg))
	}
	return out, nil
}

// unescapeName inverts EscapeName for a checked stream name.
func unescapeName(seg string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(seg) {
			return "", false
		}
		var v byte
		for _, h := range seg[i+1 : i+3] {
			switch {
			case h >= '0' && h <= '9':
				v = v<<4 | byte(h-'0')
			case h >= 'A' && h <= 'F':
				v = v<<4 | byte(h-'A'+10)
			default:
				return "", false
			}
		}
		b.WriteByte(v)
		i += 2
	}
	name := b.String()
	if CheckName(KindStream, name) != nil || EscapeName(name) != seg {
		return "", false
	}
	return name, true
}

// LogRead answers log.read: the stream's head and one page of its stored
// records, in key order, with their bytes as stored.
func (r *Registry) LogRead(ctx context.Context, req *protocol.LogReadRequest) (*protocol.LogReadResponse, error) {
	if err := req.Check(); err != nil {
		return nil, invalid("%v", err)
	}
	sc, err := newScope(req.Target, true)
	if err != nil {
		return nil, err
	}
	prefix := sc.recordsPrefix()
	after := ""
	if req.Cursor != "" {
		rel, err := base64.RawURLEncoding.DecodeString(req.Cursor)
		if err != nil {
			return nil, invalid("cursor %q is not one this registry hands out", truncate(req.Cursor))
		}
		after = prefix + string(rel)
	}
	out := &protocol.LogReadResponse{Stream: sc.stream, Records: []protocol.LogRecord{}, Head: r.readHead(ctx, sc)}
	limit := req.PageLimit()
	ents, err := listAfter(ctx, r.store, prefix, after, limit+1)
	if err != nil {
		return nil, storeErr(err, "listing the records of stream %q", sc.stream)
	}
	more := len(ents) > limit
	if more {
		ents = ents[:limit]
	}
	recs := make([]protocol.LogRecord, len(ents))
	keys := make([]string, len(ents))
	idx := map[string]int{}
	for i, e := range ents {
		keys[i] = e.Key
		idx[e.Key] = i
		name := strings.TrimPrefix(e.Key, prefix)
		name = strings.TrimSuffix(name, ".json")
		recs[i] = protocol.LogRecord{Name: name, SizeBytes: e.Size}
	}
	var mu sync.Mutex
	err = parallel(ctx, keys, func(ctx context.Context, key string) error {
		i := idx[key]
		data, info, err := r.store.Get(ctx, key, MaxRecordBytes)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case errors.Is(err, ErrNotFound):
			recs[i].Omitted = "removed while being read"
		case err != nil && recs[i].SizeBytes > MaxRecordBytes:
			recs[i].Omitted = fmt.Sprintf("larger than %d bytes", MaxRecordBytes)
		case err != nil:
			return err
		default:
			recs[i].Data, recs[i].SizeBytes = data, info.Size
		}
		return nil
	})
	if err != nil {
		return nil, storeErr(err, "reading the records of stream %q", sc.stream)
	}
	size := 0
	for i, rec := range recs {
		size += len(rec.Data)
		if i > 0 && size > logPageBytes {
			more = true
			break
		}
		out.Records = append(out.Records, rec)
	}
	if more && len(out.Records) > 0 {
		last := keys[len(out.Records)-1]
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strings.TrimPrefix(last, prefix)))
		return out, nil
	}
	altered, err := r.alteredCurrents(ctx, sc, protocol.MaxLogLimit-len(out.Records))
	if err != nil {
		return nil, err
	}
	out.Records = append(out.Records, altered...)
	return out, nil
}

// CurrentPrefix starts the name of a log.read entry that is not a record
// but the current copy of a release (what pull, releases and hold read),
// handed out on a stream's last page when it is not the release's newest
// record: "current/<release-id>". VerifyChain names each as altered.
const CurrentPrefix = "current/"

// alteredCurrents returns, as log.read entries named CurrentPrefix+id (at
// most limit), the current copies of sc's releases that are not byte for
// byte the record they name, name a record older than the release's newest
// stored one, or name a release the log does not have. A clean registry
// hands out none, so log.read answers as it always did.
func (r *Registry) alteredCurrents(ctx context.Context, sc scope, limit int) ([]protocol.LogRecord, error) {
	if limit <= 0 {
		return nil, nil
	}
	prefix := sc.currentKey("")
	prefix = strings.TrimSuffix(prefix, ".json")
	ents, err := r.store.List(ctx, prefix, 0)
	if err != nil {
		return nil, storeErr(err, "listing the current copies of stream %q", sc.stream)
	}
	if len(ents) == 0 {
		return nil, nil
	}
	recs, err := r.store.List(ctx, sc.recordsPrefix(), 0)
	if err != nil {
		return nil, storeErr(err, "listing the records of stream %q", sc.stream)
	}
	newest := map[string]int64{} // release id → highest stored sequence (0: only its first record)
	for _, e := range recs {
		name, ok := strings.CutSuffix(strings.TrimPrefix(e.Key, sc.recordsPrefix()), ".json")
		if !ok {
			continue
		}
		if id, seq, ok := ParseRecordName(name); ok {
			if old, seen := newest[id]; !seen || seq > old {
				newest[id] = seq
			}
		}
	}
	var out []protocol.LogRecord
	for _, e := range ents {
		id, ok := strings.CutSuffix(strings.TrimPrefix(e.Key, prefix), ".json")
		if !ok || !ValidReleaseID(id) {
			continue
		}
		data, _, err := r.store.Get(ctx, e.Key, MaxRecordBytes)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, storeErr(err, "reading the current copy of release %s", id)
		}
		rel, err := r.checkCurrent(ctx, sc, id, data)
		switch {
		case err == nil:
			nameSeq := int64(0)
			if rel.Kind == RecordUpdate {
				nameSeq = rel.Seq
			}
			if seq, known := newest[id]; !known || nameSeq >= seq {
				continue // the release's newest record (or the head's, not stored yet)
			}
		case !errors.Is(err, ErrAlteredCurrent):
			return nil, err
		}
		out = append(out, protocol.LogRecord{Name: CurrentPrefix + id, SizeBytes: int64(len(data)), Data: data})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// readHead reads the stream's head for log.read; a head that cannot be
// read is reported as such, never an error of the call.
func (r *Registry) readHead(ctx context.Context, sc scope) *protocol.LogHead {
	var h logHead
	_, err := r.getJSON(ctx, sc.headKey(), &h)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return &protocol.LogHead{Problem: truncate(err.Error())}
	}
	if h.Log != LogVersion || h.Stream != sc.stream {
		return &protocol.LogHead{Problem: fmt.Sprintf("head of log format %d for stream %q", h.Log, truncate(h.Stream))}
	}
	return &protocol.LogHead{Sequence: h.Seq, Record: truncate(h.Record), RecordSHA256: "sha256:" + truncate(h.SHA256), Data: h.Body}
}

// BlobsCheck answers blobs.check: for each blob, whether the store holds
// it with that size and SHA-256 (read back and hashed when the store can).
// It answers for as many blobs as it can within blobsCheckBudget, at least
// one.
func (r *Registry) BlobsCheck(ctx context.Context, req *protocol.BlobsCheckRequest) (*protocol.BlobsCheckResponse, error) {
	if err := req.Check(); err != nil {
		return nil, invalid("%v", err)
	}
	if _, err := newScope(req.Target, false); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(blobsCheckBudget)
	out := &protocol.BlobsCheckResponse{Blobs: []protocol.BlobStatus{}}
	for i, b := range req.Blobs {
		if i > 0 && time.Now().After(deadline) {
			break
		}
		st, err := r.checkBlob(ctx, b)
		if err != nil {
			return nil, err
		}
		out.Blobs = append(out.Blobs, st)
	}
	return out, nil
}

func (r *Registry) checkBlob(ctx context.Context, b protocol.BlobRef) (protocol.BlobStatus, error) {
	st := protocol.BlobStatus{Digest: b.Digest, SizeBytes: b.SizeBytes, Status: protocol.BlobOK}
	hex, err := ParseDigest("digest", b.Digest)
	if err != nil {
		return st, err
	}
	key := blobKey(hex)
	if h, ok := r.store.(BlobHasher); ok {
		sum, n, err := h.HashBlob(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			st.Status = protocol.BlobMissing
		case err != nil:
			return st, storeErr(err, "reading blob %s", b.Digest)
		case n != b.SizeBytes:
			st.Status, st.ActualSizeBytes = protocol.BlobSizeMismatch, n
		case sum != hex:
			st.Status, st.ActualDigest = protocol.BlobDigestMismatch, "sha256:"+sum
		}
		return st, nil
	}
	info, err := r.store.Head(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		st.Status = protocol.BlobMissing
		return st, nil
	case err != nil:
		return st, storeErr(err, "checking blob %s", b.Digest)
	case info.Size != b.SizeBytes:
		st.Status, st.ActualSizeBytes = protocol.BlobSizeMismatch, info.Size
		return st, nil
	}
	ok, err := r.store.BlobMatches(ctx, key, Blob{Size: b.SizeBytes, SHA256Hex: hex})
	if err != nil {
		return st, storeErr(err, "checking blob %s", b.Digest)
	}
	if !ok {
		st.Status = protocol.BlobDigestMismatch
	}
	return st, nil
}
