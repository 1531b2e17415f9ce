package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The release log is our addition to the protocol: a registry keeps, per
// stream, a hash chain of release records (each names the SHA-256 of the
// record before it and its own sequence number), and hands out the raw
// records so the host can recompute every hash itself. An adapter that
// answers log.streams, log.read and blobs.check announces
// features.release_log; a host never sends them to one that does not.
//
// log.streams — the streams that have release records:
//
//	{"type":"log.streams","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{"workspace":"acme","environment":"prod"},"limit":100,"cursor":"…"}
//	{"ok":true,"type":"log.streams.result","request_id":"…",
//	 "streams":["acme/evidence","acme/other"],"next_cursor":"…"}
//
// log.read — one page of a stream's records, exactly as stored (base64), in
// the order of their names, with the stream's head (the newest record, as
// the head object names it; null when the stream has no log):
//
//	{"type":"log.read","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{"workspace":"acme","environment":"prod","stream":"acme/evidence"},
//	 "limit":500,"cursor":"…"}
//	{"ok":true,"type":"log.read.result","request_id":"…","stream":"acme/evidence",
//	 "head":{"sequence":3,"record":"rel_…","record_sha256":"sha256:…","data":"<base64>"},
//	 "records":[{"name":"rel_…","size_bytes":812,"data":"<base64>"},
//	            {"name":"rel_…/3","size_bytes":845,"data":"<base64>"}],
//	 "next_cursor":"…"}
//
// A record is named by where it is stored: "rel_<id>" for the record that
// created a release, "rel_<id>/<sequence>" for a later record of it (a
// re-push, new labels or notes). head.data is the head's own copy of the
// newest record (it is written before the record itself); a record too
// large to send has "omitted" (the reason) instead of data.
//
// blobs.check — whether the registry holds each pack blob with this size
// and SHA-256 (re-hashed by the adapter); the answer may cover only the
// first blobs asked for (an adapter bounds the work of one call), the host
// asks again for the rest:
//
//	{"type":"blobs.check","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{…},"blobs":[{"digest":"sha256:…","size_bytes":3701}]}
//	{"ok":true,"type":"blobs.check.result","request_id":"…",
//	 "blobs":[{"digest":"sha256:…","size_bytes":3701,"status":"ok"}]}
//
// status is "ok", "missing", "size_mismatch" (actual_size_bytes says what
// is there) or "digest_mismatch" (actual_digest).
//
// push.finalize of such an adapter tells where the release's record sits
// in the log (release.log, a LogPosition), and push receipts keep it.

// Commands of the release log (see above).
const (
	CmdLogStreams  = "log.streams"
	CmdLogRead     = "log.read"
	CmdBlobsCheck  = "blobs.check"
	maxLogNameSize = 512
)

// Bounds of the release log commands.
const (
	// DefaultLogLimit is the page size when a request leaves limit 0.
	DefaultLogLimit = 500
	// MaxLogLimit is the largest page a host may ask for.
	MaxLogLimit = 1000
	// MaxBlobsPerCheck is the most blobs one blobs.check may ask about.
	MaxBlobsPerCheck = 256
)

// Blob statuses of a blobs.check answer.
const (
	BlobOK             = "ok"
	BlobMissing        = "missing"
	BlobSizeMismatch   = "size_mismatch"
	BlobDigestMismatch = "digest_mismatch"
)

// LogPosition is where a record sits in its stream's release log: its
// sequence number (1 for the first), its name (see log.read) and the
// SHA-256 of its stored bytes ("sha256:<hex>").
type LogPosition struct {
	Stream       string `json:"stream,omitempty"`
	Sequence     int64  `json:"sequence"`
	Record       string `json:"record"`
	RecordSHA256 string `json:"record_sha256"`
}

// Check refuses a position no registry of ours writes.
func (p *LogPosition) Check() error {
	switch {
	case p.Sequence <= 0:
		return fmt.Errorf("log.sequence must be positive, got %d", p.Sequence)
	case !isSHA256Digest(p.RecordSHA256):
		return fmt.Errorf("log.record_sha256 %q is not sha256:<64 lowercase hex>", p.RecordSHA256)
	case !validLogName(p.Record):
		return fmt.Errorf("log.record %q is not a record name", p.Record)
	}
	return nil
}

// LogStreamsRequest asks for the streams of a workspace and environment
// that have release records.
type LogStreamsRequest struct {
	RequestHeader
	Remote string       `json:"remote"`
	Target TargetConfig `json:"target"`
	Limit  int          `json:"limit,omitempty"`
	Cursor string       `json:"cursor,omitempty"`
}

// PageLimit returns the page size the request asks for, defaults applied.
func (r *LogStreamsRequest) PageLimit() int {
	if r.Limit == 0 {
		return DefaultLogLimit
	}
	return r.Limit
}

// Check refuses a limit out of range or a malformed cursor.
func (r *LogStreamsRequest) Check() error { return checkPage(r.Limit, r.Cursor) }

// LogStreamsResponse is one page of stream names, in the registry's order.
type LogStreamsResponse struct {
	ResponseHeader
	Streams    []string `json:"streams"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

func (v *LogStreamsResponse) checkRequired(raw []byte) error {
	if !hasMember(raw, "streams") {
		return fmt.Errorf("streams is missing")
	}
	if len(v.Streams) > MaxLogLimit {
		return fmt.Errorf("%d streams in one page, at most %d", len(v.Streams), MaxLogLimit)
	}
	for i, s := range v.Streams {
		if s == "" || !utf8.ValidString(s) || len(s) > maxLogNameSize {
			return fmt.Errorf("streams[%d] is not a stream name", i)
		}
	}
	return checkCursor("next_cursor", v.NextCursor)
}

// LogReadRequest asks for one page of the records of target.stream.
type LogReadRequest struct {
	RequestHeader
	Remote string       `json:"remote"`
	Target TargetConfig `json:"target"`
	Limit  int          `json:"limit,omitempty"`
	Cursor string       `json:"cursor,omitempty"`
}

// PageLimit returns the page size the request asks for, defaults applied.
func (r *LogReadRequest) PageLimit() int {
	if r.Limit == 0 {
		return DefaultLogLimit
	}
	return r.Limit
}

// Check refuses a request without a stream, a limit out of range or a
// malformed cursor.
func (r *LogReadRequest) Check() error {
	if strings.TrimSpace(r.Target.Stream) == "" {
		return fmt.Errorf("target.stream is required")
	}
	return checkPage(r.Limit, r.Cursor)
}

// LogHead is a stream's head: the newest record of its log, as the head
// object names it, and the head's own copy of that record's bytes.
// Problem, when set, says why the head object could not be read (the other
// fields are then empty).
type LogHead struct {
	Sequence     int64  `json:"sequence"`
	Record       string `json:"record"`
	RecordSHA256 string `json:"record_sha256"`
	Data         []byte `json:"data,omitempty"`
	Problem      string `json:"problem,omitempty"`
}

// LogRecord is one stored record: its name, size, and bytes (base64 in
// JSON) unless Omitted says why they are not sent.
type LogRecord struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	Data      []byte `json:"data,omitempty"`
	Omitted   string `json:"omitted,omitempty"`
}

// LogReadResponse is one page of a stream's records.
type LogReadResponse struct {
	ResponseHeader
	Stream     string      `json:"stream"`
	Head       *LogHead    `json:"head"`
	Records    []LogRecord `json:"records"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (v *LogReadResponse) checkRequired(raw []byte) error {
	if !hasMember(raw, "records") {
		return fmt.Errorf("records is missing")
	}
	if len(v.Records) > MaxLogLimit {
		return fmt.Errorf("%d records in one page, at most %d", len(v.Records), MaxLogLimit)
	}
	for i, r := range v.Records {
		if r.Name == "" || !utf8.ValidString(r.Name) || len(r.Name) > maxLogNameSize {
			return fmt.Errorf("records[%d].name is not a record name", i)
		}
	}
	return checkCursor("next_cursor", v.NextCursor)
}

// BlobRef names a pack blob by file digest and size.
type BlobRef struct {
	Digest    string `json:"digest"`
	SizeBytes int64  `json:"size_bytes"`
}

// BlobsCheckRequest asks whether the registry holds these blobs.
type BlobsCheckRequest struct {
	RequestHeader
	Remote string       `json:"remote"`
	Target TargetConfig `json:"target"`
	Blobs  []BlobRef    `json:"blobs"`
}

// Check refuses an empty or too long list and malformed digests.
func (r *BlobsCheckRequest) Check() error {
	if len(r.Blobs) == 0 || len(r.Blobs) > MaxBlobsPerCheck {
		return fmt.Errorf("blobs must list 1 to %d blobs, got %d", MaxBlobsPerCheck, len(r.Blobs))
	}
	for i, b := range r.Blobs {
		if !isSHA256Digest(b.Digest) {
			return fmt.Errorf("blobs[%d].digest %q is not sha256:<64 lowercase hex>", i, b.Digest)
		}
	}
	return nil
}

// BlobStatus is the answer for one blob.
type BlobStatus struct {
	Digest          string `json:"digest"`
	SizeBytes       int64  `json:"size_bytes"`
	Status          string `json:"status"`
	ActualSizeBytes int64  `json:"actual_size_bytes,omitempty"`
	ActualDigest    string `json:"actual_digest,omitempty"`
}

// BlobsCheckResponse answers for the first len(Blobs) blobs asked about.
type BlobsCheckResponse struct {
	ResponseHeader
	Blobs []BlobStatus `json:"blobs"`
}

func (v *BlobsCheckResponse) checkRequired(raw []byte) error {
	if !hasMember(raw, "blobs") {
		return fmt.Errorf("blobs is missing")
	}
	if len(v.Blobs) > MaxBlobsPerCheck {
		return fmt.Errorf("%d blob answers, at most %d", len(v.Blobs), MaxBlobsPerCheck)
	}
	for i, b := range v.Blobs {
		switch b.Status {
		case BlobOK, BlobMissing, BlobSizeMismatch, BlobDigestMismatch:
		default:
			return fmt.Errorf("blobs[%d].status %q is not one of ok, missing, size_mismatch, digest_mismatch", i, b.Status)
		}
	}
	return nil
}

// checkPage holds the limit and cursor of a paged log request.
func checkPage(limit int, cursor string) error {
	if limit < 0 || limit > MaxLogLimit {
		return fmt.Errorf("limit %d is out of range (1 to %d; 0 for %d)", limit, MaxLogLimit, DefaultLogLimit)
	}
	return checkCursor("cursor", cursor)
}

// validLogName reports whether s has the form of a record name:
// ^rel_[0-9A-Z]{26}(/[1-9][0-9]{0,17})?$.
func validLogName(s string) bool {
	id, seq, hasSeq := strings.Cut(s, "/")
	if len(id) != 30 || !strings.HasPrefix(id, "rel_") || !onlyBytes(id[4:], "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return false
	}
	return !hasSeq || (len(seq) >= 1 && len(seq) <= 18 && seq[0] != '0' && onlyBytes(seq, "0123456789"))
}
