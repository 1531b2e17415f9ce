package protocol

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// releases.list is our addition to the protocol: one page of the releases a
// registry holds, newest first. An adapter that answers it announces
// features.releases_list; a host never sends it to one that does not.
//
// Request:
//
//	{"type":"releases.list","protocol_version":1,"request_id":"…","remote":"origin",
//	 "target":{"workspace":"acme","environment":"prod","stream":"acme/evidence"},
//	 "labels":["monthly"],"limit":50,"cursor":"<next_cursor of the previous page>"}
//
// target.stream, labels, limit and cursor are optional: without a stream the
// page covers every stream of the workspace and environment; labels keep
// only releases carrying every one of them; limit 0 means
// DefaultReleasesLimit.
//
// Response:
//
//	{"ok":true,"type":"releases.list.result","request_id":"…",
//	 "releases":[{"release_id":"rel_…","created_at":"2026-12-01T09:00:00Z",
//	   "stream":"acme/evidence","version":"v1.0.0","labels":["v1.0.0","monthly"],
//	   "pack_digest":"sha256:…","file_digest":"sha256:…","size_bytes":3701,
//	   "canonical_ref":"acme/prod/acme/evidence@rel_…",
//	   "signers":[{"kind":"key","signer":"<key id>","key_id":"<key id>","verified":true}],
//	   "retention":{"mode":"COMPLIANCE","retain_until":"2033-12-01T09:00:01Z"}}],
//	 "next_cursor":"…"}
//
// releases is always present (possibly []), newest first, at most limit
// long. next_cursor is opaque to the host: present when more releases may
// follow, passed back unchanged to get them. A page may be shorter than
// limit, even empty, while next_cursor is set (an adapter bounds the work
// one call does); the listing ends when next_cursor is absent.

// Bounds of releases.list.
const (
	// DefaultReleasesLimit is the page size when a request leaves limit 0.
	DefaultReleasesLimit = 50
	// MaxReleasesLimit is the largest page a host may ask for.
	MaxReleasesLimit = 1000
	// MaxCursorBytes bounds a cursor, in either direction.
	MaxCursorBytes = 512
	// MaxReleaseLabelFilters bounds the labels a request filters on.
	MaxReleaseLabelFilters = 16
	// maxFilterLabelBytes bounds one label of the filter.
	maxFilterLabelBytes = 255
)

// ReleasesListRequest asks for one page of the releases a registry holds.
type ReleasesListRequest struct {
	RequestHeader
	Remote string       `json:"remote"`
	Target TargetConfig `json:"target"`
	// Labels keeps only releases that carry every one of these labels.
	Labels []string `json:"labels,omitempty"`
	// Limit is the largest number of releases wanted (0: DefaultReleasesLimit).
	Limit int `json:"limit,omitempty"`
	// Cursor is the next_cursor of the previous page ("" for the first).
	Cursor string `json:"cursor,omitempty"`
}

// PageLimit returns the page size the request asks for, defaults applied.
func (r *ReleasesListRequest) PageLimit() int {
	if r.Limit == 0 {
		return DefaultReleasesLimit
	}
	return r.Limit
}

// Check refuses a request no adapter should have to read: a limit out of
// 0..MaxReleasesLimit, an over-long or non-printable cursor, too many or
// blank or over-long label filters. Both sides run it: a host before
// sending, an adapter on receipt.
func (r *ReleasesListRequest) Check() error {
	if r.Limit < 0 || r.Limit > MaxReleasesLimit {
		return fmt.Errorf("limit %d is out of range (1 to %d; 0 for %d)", r.Limit, MaxReleasesLimit, DefaultReleasesLimit)
	}
	if err := checkCursor("cursor", r.Cursor); err != nil {
		return err
	}
	if len(r.Labels) > MaxReleaseLabelFilters {
		return fmt.Errorf("%d label filters, at most %d", len(r.Labels), MaxReleaseLabelFilters)
	}
	for _, l := range r.Labels {
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("a label filter is blank")
		}
		if len(l) > maxFilterLabelBytes {
			return fmt.Errorf("label filter %.40q… is longer than %d bytes", l, maxFilterLabelBytes)
		}
	}
	return nil
}

// checkCursor accepts "" or at most MaxCursorBytes of printable ASCII: a
// cursor travels through command lines and JSON output untouched.
func checkCursor(field, c string) error {
	if len(c) > MaxCursorBytes {
		return fmt.Errorf("%s is %d bytes, at most %d", field, len(c), MaxCursorBytes)
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] >= 0x7f {
			return fmt.Errorf("%s contains a character that is not printable ASCII", field)
		}
	}
	return nil
}

// ReleaseSigner is a signature the registry recorded for a release (who
// signed the pack; signers.go): the identity fields are those of a push
// receipt's signers. Verified is true only when the pushing host checked
// it against a signer policy; false: claimed by the pack, unchecked.
type ReleaseSigner struct {
	Kind     string `json:"kind"`
	Signer   string `json:"signer"`
	KeyID    string `json:"key_id,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Subject  string `json:"subject,omitempty"`
	Verified bool   `json:"verified"`
}

// ReleaseEntry is one release in a releases.list answer. FileDigest is the
// SHA-256 of the pack file (what pull --digest takes), PackDigest the
// manifest's pack_digest when the registry knows it; Version is the
// version its labels declare, if any; Signers only when the registry
// records them.
type ReleaseEntry struct {
	ReleaseID    string          `json:"release_id"`
	CreatedAt    time.Time       `json:"created_at"`
	Stream       string          `json:"stream"`
	Version      string          `json:"version,omitempty"`
	Labels       []string        `json:"labels,omitempty"`
	PackDigest   string          `json:"pack_digest,omitempty"`
	FileDigest   string          `json:"file_digest"`
	SizeBytes    int64           `json:"size_bytes"`
	Signers      []ReleaseSigner `json:"signers,omitempty"`
	CanonicalRef string          `json:"canonical_ref,omitempty"`
	// Retention: how long the registry keeps it (retention.go; absent
	// when it keeps none).
	Retention *Retention `json:"retention,omitempty"`
}

// ReleasesListResponse is the answer to releases.list: a page of releases,
// newest first, and where the next page starts.
type ReleasesListResponse struct {
	ResponseHeader
	Releases   []ReleaseEntry `json:"releases"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// checkReleasesList holds the required fields of a releases.list answer:
// releases present (possibly empty) and at most MaxReleasesLimit long, each
// with a release id, a stream, a creation time, a sha256 file digest and a
// positive size, well-formed signers (CheckSigners; absent: none recorded),
// no release twice, and a well-formed next_cursor.
func checkReleasesList(raw []byte, v *ReleasesListResponse) error {
	if !hasMember(raw, "releases") {
		return fmt.Errorf("releases is missing")
	}
	if len(v.Releases) > MaxReleasesLimit {
		return fmt.Errorf("%d releases in one page, at most %d", len(v.Releases), MaxReleasesLimit)
	}
	seen := make(map[string]bool, len(v.Releases))
	for i := range v.Releases {
		e := &v.Releases[i]
		switch {
		case e.ReleaseID == "":
			return fmt.Errorf("releases[%d].release_id is missing", i)
		case !utf8.ValidString(e.ReleaseID) || len(e.ReleaseID) > 255:
			return fmt.Errorf("releases[%d].release_id is not a short UTF-8 string", i)
		case seen[e.ReleaseID]:
			return fmt.Errorf("release %q appears twice in one page", e.ReleaseID)
		case e.Stream == "":
			return fmt.Errorf("releases[%d].stream is missing", i)
		case e.CreatedAt.IsZero():
			return fmt.Errorf("releases[%d].created_at is missing", i)
		case !isSHA256Digest(e.FileDigest):
			return fmt.Errorf("releases[%d].file_digest %q is not sha256:<64 lowercase hex>", i, e.FileDigest)
		case e.SizeBytes <= 0:
			return fmt.Errorf("releases[%d].size_bytes must be positive, got %d", i, e.SizeBytes)
		}
		if err := e.Retention.Check(); err != nil {
			return fmt.Errorf("releases[%d].retention: %v", i, err)
		}
		if err := CheckSigners(e.Signers); err != nil {
			return fmt.Errorf("releases[%d].%v", i, err)
		}
		seen[e.ReleaseID] = true
	}
	return checkCursor("next_cursor", v.NextCursor)
}
