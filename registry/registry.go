package registry

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path"
	"time"

	"github.com/evidencerelay/epack/protocol"
)

// Limits used by the registry.
const (
	// MaxRunResultBytes caps one run result file.
	MaxRunResultBytes = 1 << 20
	// maxRecordBytes caps every JSON record the registry reads back.
	maxRecordBytes = 16 << 20
	// casAttempts bounds compare-and-swap retries on one object.
	casAttempts = 200
	// stagingMaxAge: staged uploads and prepare records older than this are swept.
	stagingMaxAge = 24 * time.Hour
)

// Options configure a Registry.
type Options struct {
	// Name is the adapter name reported in capabilities ("filesystem", "s3").
	Name string
	// MaxPackBytes is advertised in capabilities and enforced in prepare (0 = none).
	MaxPackBytes int64
	// MaxRunsPerSync is advertised and enforced in runs.sync (0 = none).
	MaxRunsPerSync int
	// PresignExpiry is the lifetime of upload/download URLs (default 15m).
	PresignExpiry time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Multipart, when set and the store is a MultipartStore, offers
	// multipart uploads with these limits (multipart.go).
	Multipart *protocol.MultipartLimits
	// NoFileChecksum announces features.no_file_checksum: the store does
	// not use pack.checksum (the filesystem store checks the SHA-256 of
	// what arrived), so the host skips the file's MD5.
	NoFileChecksum bool
	// MaxSingleBytes bounds a pack sent in one upload (0: MaxPackBytes);
	// larger ones must come in parts.
	MaxSingleBytes int64
}

// Registry implements the protocol operations over a Store.
type Registry struct {
	store Store
	opt   Options
}

// New returns a registry over store.
func New(store Store, opt Options) *Registry {
	if opt.PresignExpiry <= 0 {
		opt.PresignExpiry = 15 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Name == "" {
		opt.Name = "registry"
	}
	return &Registry{store: store, opt: opt}
}

// Store returns the registry's store.
func (r *Registry) Store() Store { return r.store }

// Capabilities returns the adapter's capabilities document.
func (r *Registry) Capabilities() protocol.Capabilities {
	return protocol.Capabilities{
		Name:                  r.opt.Name,
		Kind:                  "remote_adapter",
		DeployProtocolVersion: protocol.ProtocolVersion,
		Features: protocol.Features{
			PrepareFinalize: true,
			Pull:            true,
			RunsSync:        true,
			Whoami:          true,
			ReleasesList:    true,
			ReleaseLog:      true,
			GC:              true,
			LegalHold:       r.holds(),
			MultipartUpload: r.opt.Multipart != nil,
			NoFileChecksum:  r.opt.NoFileChecksum,
		},
		Limits: protocol.Limits{MaxPackBytes: r.opt.MaxPackBytes, MaxRunsPerSync: r.opt.MaxRunsPerSync, Multipart: r.opt.Multipart},
		Extensions: map[string]any{
			"blob_key":        "file_digest",
			"version_labels":  "v<digit>… or version:<v> / version=<v>",
			"release_id_form": "rel_<ULID>",
		},
	}
}

// Release is the stored release record. Records written since the release
// log (chain.go) carry its fields and are canonical JSON, never edited;
// records written before it (legacy) have none of them.
type Release struct {
	// Release log fields (chain.go).
	Log        int            `json:"log,omitempty"`         // log format version (1)
	Kind       string         `json:"kind,omitempty"`        // RecordRelease or RecordUpdate
	Seq        int64          `json:"seq,omitempty"`         // 1 for the stream's first record
	PrevRecord string         `json:"prev_record,omitempty"` // name of the record before (none for the first)
	PrevSHA256 string         `json:"prev_sha256,omitempty"` // SHA-256 hex of its stored bytes
	RecordedAt time.Time      `json:"recorded_at,omitzero"`  // when this record was appended
	Legacy     []LegacyRecord `json:"legacy,omitempty"`      // first record only: records adopted from before the log

	ReleaseID      string            `json:"release_id"`
	Workspace      string            `json:"workspace,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	Stream         string            `json:"stream"`
	FileDigest     string            `json:"file_digest"`
	PackDigest     string            `json:"pack_digest,omitempty"`
	ManifestDigest string            `json:"manifest_digest,omitempty"`
	SizeBytes      int64             `json:"size_bytes"`
	Labels         []string          `json:"labels,omitempty"`
	Notes          string            `json:"notes,omitempty"`
	BuildContext   map[string]string `json:"build_context,omitempty"`
	Remote         string            `json:"remote,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at,omitzero"`
	// RetainUntil is the longest retention a push of the release asked
	// for (push --retain; zero: only the store's own rule). Records of
	// releases pushed before it existed lack it.
	RetainUntil time.Time `json:"retain_until,omitzero"`
	// Signers are who signed the pack as the push that created the
	// release told (release.signers; verified only when that host checked
	// them against its signer policy). Later records of the release keep
	// them: the first push's list wins, a re-push's is not merged. Absent
	// when there were none, and in records written before signers were
	// recorded, so their canonical form is unchanged.
	Signers []protocol.ReleaseSigner `json:"signers,omitempty"`
}

// scope is a validated (workspace, environment, stream) with escaped segments.
type scope struct {
	ws, env, stream          string // raw
	wsSeg, envSeg, streamSeg string // escaped; streamSeg "" when no stream
}

func newScope(t protocol.TargetConfig, needStream bool) (scope, error) {
	s := scope{ws: t.Workspace, env: t.Environment, stream: t.Stream}
	var err error
	if s.wsSeg, err = scopeSegment(KindWorkspace, t.Workspace); err != nil {
		return s, err
	}
	if s.envSeg, err = scopeSegment(KindEnvironment, t.Environment); err != nil {
		return s, err
	}
	if t.Stream == "" {
		if needStream {
			return s, invalid("target.stream is required")
		}
		return s, nil
	}
	if err := CheckName(KindStream, t.Stream); err != nil {
		return s, err
	}
	s.streamSeg = EscapeName(t.Stream)
	return s, nil
}

// Key layout.

func blobKey(hex string) string          { return "blobs/sha256/" + hex }
func stagingRecordKey(tok string) string { return "staging/" + tok + ".json" }
func stagingBlobKey(tok string) string   { return "staging/" + tok + ".epack" }

func (s scope) releaseKey(id string) string {
	return path.Join("releases", s.wsSeg, s.envSeg, s.streamSeg, id+".json")
}
func (s scope) streamDir() string { return path.Join("streams", s.wsSeg, s.envSeg, s.streamSeg) }
func (s scope) allDir() string    { return path.Join("streams", s.wsSeg, s.envSeg, allSegment) }
func (s scope) canonicalRef(id string) string {
	ref := ""
	for _, p := range []string{s.ws, s.env, s.stream} {
		if p != "" {
			if ref != "" {
				ref += "/"
			}
			ref += p
		}
	}
	return ref + "@" + id
}

func runKey(fileHex, runSeg string) string { return path.Join("runs", fileHex, runSeg, "result.json") }

// JSON helpers.

func (r *Registry) getJSON(ctx context.Context, key string, v any) (Info, error) {
	data, info, err := r.store.Get(ctx, key, maxRecordBytes)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return info, protocol.Errorf(protocol.CodeServerError, "registry record %s is corrupt: %v", key, err)
	}
	return info, nil
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// update applies fn to the JSON object at key under compare-and-swap,
// retrying with jittered backoff when another writer wins. fn gets the
// current value (zero value and exists=false when absent) and returns
// whether to write.
func update[T any](ctx context.Context, r *Registry, key string, fn func(cur *T, exists bool) (write bool, err error)) error {
	backoff := 2 * time.Millisecond
	for attempt := 0; attempt < casAttempts; attempt++ {
		var cur T
		etag := ""
		exists := true
		info, err := r.getJSON(ctx, key, &cur)
		switch {
		case errors.Is(err, ErrNotFound):
			exists = false
			cur = *new(T)
		case err != nil:
			return err
		default:
			etag = info.ETag
		}
		write, err := fn(&cur, exists)
		if err != nil || !write {
			return err
		}
		_, err = r.store.CompareAndSwap(ctx, key, etag, mustJSON(&cur))
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return err
		}
		sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sleep):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
	return protocol.Errorf(protocol.CodeConflict, "too much contention updating %s; try again", key)
}

// storeErr turns a store error into a protocol error with context.
func storeErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var e *protocol.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return protocol.Wrapf(protocol.CodeNetworkError, err, format, args...)
	}
	return protocol.Wrapf(CodeOf(err), err, format, args...)
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
