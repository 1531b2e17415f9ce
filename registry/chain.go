package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/internal/jcs"
	"github.com/evidencerelay/epack/protocol"
)

// The release log: every stream's release records form one hash chain.
//
//	releases/<ws>/<env>/<stream>/<release-id>.json        the record that created a release
//	releases/<ws>/<env>/<stream>/<release-id>/<seq>.json  a later record of it (re-push, labels, notes)
//	streams/<ws>/<env>/<stream>/head.json                 the newest record: name, seq, SHA-256, and a copy
//	streams/<ws>/<env>/<stream>/current/<release-id>.json a copy of the newest record of one release
//
// A record is the release's whole state (Release) plus its place in the
// log: seq (1 for the stream's first record, then +1 each), prev_record and
// prev_sha256 (the name of the record before and the SHA-256 of its stored
// bytes; absent in the first), recorded_at (never earlier than the record
// before). Records are stored as RFC 8785 canonical JSON and never edited:
// a re-push or new labels append a record. Anyone can recompute every hash
// from the stored bytes.
//
// The head moves only by compare-and-swap, and it moves first: an appender
// reads the head, builds the next record on it, swaps the head to name the
// new record (the head holds a copy of the record's bytes), and only then
// writes the record at its own key with a conditional create. Of
// concurrent appenders exactly one swap wins; the others build again on the
// new head, so pushes from many machines form one chain. After the swap
// the winner moves the release's current copy forward, then writes the
// record. Before building on a head, an appender does both for the head's
// record if it is missing (its writer died after the swap): every record
// but the head's is therefore stored, and no current copy is behind a
// record the head has moved past. Reading a release's state (pull,
// releases.list) is one read of its current copy; releases without one
// (legacy) are read from their record.
//
// Records written before the log (legacy: no log fields) keep working for
// pull and releases.list. The first record of a stream adopts the legacy
// records the stream holds then: it lists each one's release id and the
// SHA-256 of its bytes (up to maxLegacyAdopted), so verification checks
// them too. A legacy record that is not adopted is reported by
// verification: as a notice in a stream without a log yet (adopted by its
// next push), as a problem in a stream that has one.

// Record kinds.
const (
	// RecordRelease is the record that creates a release.
	RecordRelease = "release"
	// RecordUpdate is a later record of a release: re-pushed, with the
	// labels and notes it has from then on.
	RecordUpdate = "update"
)

// LogVersion is the version of the record format this package writes.
const LogVersion = 1

// MaxRecordBytes bounds one record of the release log.
const MaxRecordBytes = 2 << 20

// maxLegacyAdopted bounds the legacy records a stream's first record adopts.
const maxLegacyAdopted = 10000

// LegacyRecord names a record written before the release log, adopted by
// the first record of its stream: its release id and the SHA-256 hex of its
// bytes at that time.
type LegacyRecord struct {
	ReleaseID string `json:"release_id"`
	SHA256    string `json:"sha256"`
}

// IsLegacy reports whether rel was written before the release log.
func (rel *Release) IsLegacy() bool { return rel.Log == 0 && rel.Kind == "" && rel.Seq == 0 }

// RecordName is the name of rel's record in its stream: the release id for
// the record that created the release, "<release-id>/<seq>" for later ones.
func RecordName(rel *Release) string {
	if rel.Kind == RecordUpdate {
		return rel.ReleaseID + "/" + strconv.FormatInt(rel.Seq, 10)
	}
	return rel.ReleaseID
}

// ParseRecordName splits a record name into release id and sequence (0 for
// the record that created the release); ok is false for anything else.
func ParseRecordName(name string) (id string, seq int64, ok bool) {
	id, rest, hasSeq := strings.Cut(name, "/")
	if !ValidReleaseID(id) {
		return "", 0, false
	}
	if !hasSeq {
		return id, 0, true
	}
	if rest == "" || rest[0] < '1' || rest[0] > '9' || len(rest) > 18 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return id, n, true
}

// recordKey is where record name of sc's stream is stored (name valid).
func (s scope) recordKey(name string) string {
	return path.Join("releases", s.wsSeg, s.envSeg, s.streamSeg, name+".json")
}

// recordsPrefix is the folder of sc's stream's records.
func (s scope) recordsPrefix() string {
	return path.Join("releases", s.wsSeg, s.envSeg, s.streamSeg) + "/"
}

func (s scope) headKey() string { return path.Join(s.streamDir(), "head.json") }
func (s scope) currentKey(id string) string {
	return path.Join(s.streamDir(), "current", id+".json")
}

// EncodeRecord returns rel's stored form: RFC 8785 canonical JSON.
func EncodeRecord(rel *Release) ([]byte, error) {
	b, err := json.Marshal(rel)
	if err != nil {
		return nil, err
	}
	return jcs.Canonicalize(b, jcs.General)
}

// SHA256Hex is the lowercase hex SHA-256 of data.
func SHA256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Why ParseRecord refuses a record.
var (
	// ErrNonCanonical: the record is not in the form this package writes
	// (not RFC 8785 canonical, or fields it does not know).
	ErrNonCanonical = errors.New("not a canonical record")
	// ErrMalformedRecord: not a record at all, or one breaking a rule.
	ErrMalformedRecord = errors.New("malformed record")
)

// ParseRecord decodes a stored release record. A record of the release log
// must be exactly what EncodeRecord makes of it (canonical JSON, no field
// this package does not know) and keep the log's rules; a legacy record
// (no log fields) is only decoded. Errors wrap ErrNonCanonical (the
// record is then returned too: it can be read, but not as stored) or
// ErrMalformedRecord. It never panics, whatever data holds.
func ParseRecord(data []byte) (*Release, error) {
	if len(data) > MaxRecordBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformedRecord, len(data), MaxRecordBytes)
	}
	if err := protocol.CheckJSON(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRecord, err)
	}
	var rel Release
	if err := json.Unmarshal(data, &rel); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRecord, err)
	}
	if rel.IsLegacy() && rel.PrevRecord == "" && rel.PrevSHA256 == "" && rel.RecordedAt.IsZero() && rel.Legacy == nil {
		if !ValidReleaseID(rel.ReleaseID) || CheckName(KindStream, rel.Stream) != nil {
			return nil, fmt.Errorf("%w: a release record needs a release id and a stream", ErrMalformedRecord)
		}
		return &rel, nil
	}
	if err := checkRecord(&rel); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRecord, err)
	}
	again, err := EncodeRecord(&rel)
	if err != nil || string(again) != string(data) {
		return &rel, ErrNonCanonical
	}
	return &rel, nil
}

// checkRecord holds the rules of a record of the log.
func checkRecord(rel *Release) error {
	switch {
	case rel.Log != LogVersion:
		return fmt.Errorf("log format version %d (this epack reads %d)", rel.Log, LogVersion)
	case rel.Kind != RecordRelease && rel.Kind != RecordUpdate:
		return fmt.Errorf("kind %q is neither %q nor %q", truncate(rel.Kind), RecordRelease, RecordUpdate)
	case rel.Seq <= 0:
		return fmt.Errorf("seq %d is not positive", rel.Seq)
	case rel.Seq == 1 && (rel.PrevRecord != "" || rel.PrevSHA256 != ""):
		return fmt.Errorf("the first record names a record before it")
	case rel.Seq > 1 && !validPrev(rel.PrevRecord, rel.PrevSHA256):
		return fmt.Errorf("record %d does not name the record before it", rel.Seq)
	case rel.Seq > 1 && rel.Legacy != nil:
		return fmt.Errorf("only the first record adopts legacy records")
	case len(rel.Legacy) > maxLegacyAdopted:
		return fmt.Errorf("%d legacy records adopted, at most %d", len(rel.Legacy), maxLegacyAdopted)
	case !ValidReleaseID(rel.ReleaseID):
		return fmt.Errorf("release id %q is malformed", truncate(rel.ReleaseID))
	case CheckName(KindStream, rel.Stream) != nil:
		return fmt.Errorf("stream %q is not a stream name", truncate(rel.Stream))
	case rel.SizeBytes <= 0:
		return fmt.Errorf("size_bytes %d is not positive", rel.SizeBytes)
	case rel.CreatedAt.IsZero() || rel.RecordedAt.IsZero():
		return fmt.Errorf("created_at and recorded_at are required")
	}
	if _, err := ParseDigest("file_digest", rel.FileDigest); err != nil {
		return err
	}
	for _, l := range rel.Legacy {
		if !ValidReleaseID(l.ReleaseID) || !isHex64(l.SHA256) {
			return fmt.Errorf("legacy entry %q is malformed", truncate(l.ReleaseID))
		}
	}
	if err := protocol.CheckSigners(rel.Signers); err != nil {
		return err
	}
	return nil
}

func validPrev(name, sum string) bool {
	_, _, ok := ParseRecordName(name)
	return ok && isHex64(sum)
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// logHead is head.json: the newest record of a stream's log.
type logHead struct {
	Log    int    `json:"log"`
	Stream string `json:"stream"`
	Seq    int64  `json:"seq"`
	Record string `json:"record"`
	SHA256 string `json:"sha256"`
	// Body is the record's stored bytes: the head is swapped before the
	// record is written, and whoever finds the record missing writes it.
	Body []byte `json:"body"`
}

// record checks the head against its copy of the record and returns the
// record.
func (h *logHead) record(stream string) (*Release, error) {
	if h.Log != LogVersion || h.Stream != stream {
		return nil, fmt.Errorf("head of another format or stream")
	}
	if SHA256Hex(h.Body) != h.SHA256 {
		return nil, fmt.Errorf("the head's copy of record %s does not have the SHA-256 the head names", truncate(h.Record))
	}
	rel, err := ParseRecord(h.Body)
	if err != nil {
		return nil, err
	}
	if rel.IsLegacy() || RecordName(rel) != h.Record || rel.Seq != h.Seq || rel.Stream != stream {
		return nil, fmt.Errorf("the head names record %s (seq %d), its copy is another record", truncate(h.Record), h.Seq)
	}
	return rel, nil
}

// appendRecord appends to sc's log the record build makes on the newest
// record (nil when the log is empty; build may read the store, and is
// called again when another appender wins). The log fields of what build
// returns are set here. It returns the record as stored and its position.
func (r *Registry) appendRecord(ctx context.Context, sc scope, until time.Time, build func(head *Release) (*Release, error)) (*Release, protocol.LogPosition, error) {
	key := sc.headKey()
	backoff := 2 * time.Millisecond
	for attempt := 0; attempt < casAttempts; attempt++ {
		var h logHead
		etag := ""
		var head *Release
		info, err := r.getJSON(ctx, key, &h)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, protocol.LogPosition{}, storeErr(err, "reading the release log head of stream %q", sc.stream)
		default:
			etag = info.ETag
			if head, err = r.settleHead(ctx, sc, &h); err != nil {
				return nil, protocol.LogPosition{}, err
			}
		}
		rec, err := build(head)
		if err != nil {
			return nil, protocol.LogPosition{}, err
		}
		rec.Log, rec.Seq, rec.PrevRecord, rec.PrevSHA256, rec.Legacy = LogVersion, 1, "", "", nil
		now := r.opt.Now().UTC()
		if head != nil {
			rec.Seq, rec.PrevRecord, rec.PrevSHA256 = head.Seq+1, h.Record, h.SHA256
			if now.Before(head.RecordedAt) {
				now = head.RecordedAt // the log's times never go back
			}
		} else if rec.Legacy, err = r.legacyRecords(ctx, sc); err != nil {
			return nil, protocol.LogPosition{}, err
		}
		rec.RecordedAt = now
		body, err := EncodeRecord(rec)
		if err != nil {
			return nil, protocol.LogPosition{}, protocol.Errorf(protocol.CodeServerError, "encoding the release record: %v", err)
		}
		if len(body) > MaxRecordBytes {
			return nil, protocol.LogPosition{}, invalid("the release record would be %d bytes, at most %d", len(body), MaxRecordBytes)
		}
		nh := logHead{Log: LogVersion, Stream: sc.stream, Seq: rec.Seq, Record: RecordName(rec), SHA256: SHA256Hex(body), Body: body}
		_, err = r.store.CompareAndSwap(ctx, key, etag, mustJSON(&nh))
		if errors.Is(err, ErrConflict) {
			sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
			select {
			case <-ctx.Done():
				return nil, protocol.LogPosition{}, storeErr(ctx.Err(), "appending to the release log")
			case <-time.After(sleep):
			}
			if backoff < 100*time.Millisecond {
				backoff *= 2
			}
			continue
		}
		if err != nil {
			return nil, protocol.LogPosition{}, storeErr(err, "moving the release log head of stream %q", sc.stream)
		}
		// The record is in the log from here on (the head holds it); a
		// failure below is repaired by the stream's next append.
		pos := protocol.LogPosition{Stream: sc.stream, Sequence: nh.Seq, Record: nh.Record, RecordSHA256: "sha256:" + nh.SHA256}
		if err := r.storeRecord(ctx, sc, rec, body, until); err != nil {
			return nil, pos, err
		}
		return rec, pos, nil
	}
	return nil, protocol.LogPosition{}, protocol.Errorf(protocol.CodeConflict, "too much contention on the release log of stream %q; try again", sc.stream)
}

// settleHead checks the head and brings the store up to it: the head's
// record is written if it is missing, and its release's current pointer
// moved to it. It returns the head's record.
func (r *Registry) settleHead(ctx context.Context, sc scope, h *logHead) (*Release, error) {
	head, err := h.record(sc.stream)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeServerError,
			"the release log head of stream %q is corrupt (%v): nothing was published; run epack log verify", sc.stream, err)
	}
	if _, err := r.store.Head(ctx, sc.recordKey(h.Record)); errors.Is(err, ErrNotFound) {
		if err := r.storeRecord(ctx, sc, head, h.Body, time.Time{}); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, storeErr(err, "checking release record %s", h.Record)
	}
	return head, nil
}

// storeRecord writes a record of the log: first the release's current
// copy (moved forward only), then the record at its key, never replacing
// one (sealed where the store can: read-only files, Object Lock).
func (r *Registry) storeRecord(ctx context.Context, sc scope, rec *Release, body []byte, until time.Time) error {
	if err := r.advanceCurrent(ctx, sc, rec, body); err != nil {
		return err
	}
	name := RecordName(rec)
	err := r.createSealed(ctx, sc.recordKey(name), body, until)
	if err != nil && !errors.Is(err, ErrExists) {
		return storeErr(err, "writing release record %s", name)
	}
	return nil
}

// advanceCurrent makes body (rec's stored bytes) the current copy of rec's
// release unless the copy there is as new.
func (r *Registry) advanceCurrent(ctx context.Context, sc scope, rec *Release, body []byte) error {
	key := sc.currentKey(rec.ReleaseID)
	etag := ""
	for attempt := 0; attempt < casAttempts; attempt++ {
		_, err := r.store.CompareAndSwap(ctx, key, etag, body)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return storeErr(err, "updating the current copy of release %s", rec.ReleaseID)
		}
		var cur Release
		info, err := r.getJSON(ctx, key, &cur)
		switch {
		case errors.Is(err, ErrNotFound):
			etag = ""
			continue
		case err != nil:
			return storeErr(err, "reading the current copy of release %s", rec.ReleaseID)
		case cur.ReleaseID == rec.ReleaseID && cur.Seq >= rec.Seq:
			return nil
		}
		etag = info.ETag
	}
	return protocol.Errorf(protocol.CodeConflict, "too much contention updating release %s; try again", rec.ReleaseID)
}

// legacyRecords returns the records sc's stream holds from before the log
// (for its first record to adopt), sorted by release id.
func (r *Registry) legacyRecords(ctx context.Context, sc scope) ([]LegacyRecord, error) {
	ents, err := r.store.List(ctx, sc.recordsPrefix(), 0)
	if err != nil {
		return nil, storeErr(err, "listing the release records of stream %q", sc.stream)
	}
	var keys []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(strings.TrimPrefix(e.Key, sc.recordsPrefix()), ".json")
		if ok && ValidReleaseID(name) {
			keys = append(keys, e.Key)
		}
	}
	slices.Sort(keys)
	if len(keys) > maxLegacyAdopted {
		keys = keys[:maxLegacyAdopted]
	}
	out := make([]LegacyRecord, len(keys))
	err = parallel(ctx, keys, func(ctx context.Context, key string) error {
		data, _, err := r.store.Get(ctx, key, maxRecordBytes)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		i, _ := slices.BinarySearch(keys, key)
		out[i] = LegacyRecord{ReleaseID: strings.TrimSuffix(path.Base(key), ".json"), SHA256: SHA256Hex(data)}
		return nil
	})
	if err != nil {
		return nil, storeErr(err, "reading the release records of stream %q", sc.stream)
	}
	out = slices.DeleteFunc(out, func(l LegacyRecord) bool { return l.ReleaseID == "" })
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// releaseState returns the newest state of release id of sc's stream: its
// current copy, checked against the record of the log it is a copy of,
// else the record that created it (a legacy record). ErrNotFound when it
// has neither. A current copy that is not byte for byte the record it
// names (edited, or naming a record the log does not have) is refused
// with CodeConflict: the current copy is writable and outside the hash
// chain, so nothing is answered from it unchecked.
func (r *Registry) releaseState(ctx context.Context, sc scope, id string) (*Release, error) {
	data, _, err := r.store.Get(ctx, sc.currentKey(id), MaxRecordBytes)
	switch {
	case errors.Is(err, ErrNotFound):
		var rel Release
		if _, err := r.getJSON(ctx, sc.releaseKey(id), &rel); err != nil {
			return nil, err
		}
		return &rel, nil
	case err != nil:
		return nil, err
	}
	return r.checkCurrent(ctx, sc, id, data)
}

// checkCurrent returns the release state in data, the stored current copy
// of release id, once it is checked to be exactly the record it names: the
// stored record, or the head's copy when the head names it and the record
// is not stored yet (its writer died after moving the head).
func (r *Registry) checkCurrent(ctx context.Context, sc scope, id string, data []byte) (*Release, error) {
	rel, err := ParseRecord(data)
	if err != nil {
		return nil, alteredCurrent(id, "it is not a record as this registry stores them (%v)", err)
	}
	if rel.ReleaseID != id || rel.Stream != sc.stream {
		return nil, alteredCurrent(id, "it is a copy of release %s of stream %q", truncate(rel.ReleaseID), truncate(rel.Stream))
	}
	name := RecordName(rel)
	// The record, else the head's copy of it, else the record again: a
	// head that moved past a record was moved after the record was stored,
	// so a record that was not there before the head was read is there now
	// unless the log does not have it.
	for attempt := 0; attempt < 2; attempt++ {
		rec, _, err := r.store.Get(ctx, sc.recordKey(name), MaxRecordBytes)
		switch {
		case err == nil:
			if !bytes.Equal(rec, data) {
				return nil, alteredCurrent(id, "its SHA-256 is %s, record %s of the release log has %s", short(SHA256Hex(data)), name, short(SHA256Hex(rec)))
			}
			return rel, nil
		case !errors.Is(err, ErrNotFound):
			return nil, storeErr(err, "reading release record %s", name)
		}
		if attempt > 0 {
			break
		}
		var h logHead
		if _, err := r.getJSON(ctx, sc.headKey(), &h); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, storeErr(err, "reading the release log head of stream %q", sc.stream)
		}
		if h.Record == name && h.Seq == rel.Seq && h.SHA256 == SHA256Hex(data) && bytes.Equal(h.Body, data) {
			return rel, nil
		}
	}
	return nil, alteredCurrent(id, "it is a copy of record %s, which the release log does not have", name)
}

// alteredCurrent is the error of a current copy that is not its record.
func alteredCurrent(id, format string, args ...any) error {
	e := protocol.Errorf(protocol.CodeConflict,
		"the current copy of release %s was altered: %s; the registry was tampered with, nothing was read from it: run epack log verify",
		id, fmt.Sprintf(format, args...))
	e.Err = ErrAlteredCurrent
	return e
}

// ErrAlteredCurrent is in the chain of the error refusing a release whose
// current copy is not the record of the log it names.
var ErrAlteredCurrent = errors.New("the current copy of a release was altered")

// stateRecord is the state a release's next record starts from: its
// newest record, found through the log's head (the newest of all) or the
// store; nil when the release has no record yet.
func (r *Registry) stateRecord(ctx context.Context, sc scope, id string, head *Release) (*Release, error) {
	if head != nil && head.ReleaseID == id {
		return head, nil
	}
	rel, err := r.releaseState(ctx, sc, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr(err, "reading release %s", id)
	}
	return rel, nil
}
