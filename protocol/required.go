package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
)

// isSHA256Digest reports whether s is "sha256:" and 64 lowercase hex digits
// (checked by hand: a compiled {64} costs every process start).
func isSHA256Digest(s string) bool {
	return len(s) == 71 && strings.HasPrefix(s, "sha256:") && onlyBytes(s[7:], "0123456789abcdef")
}

// onlyBytes reports whether every byte of s is in set.
func onlyBytes(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// CheckRequired checks that a decoded success answer carries the fields its
// type requires (presence, and the form of a few: a sha256 digest, a
// positive size). raw is the answer as received, for fields whose mere
// presence counts; resp is the decoded answer (a pointer to one of the
// *Response types; other types have no required fields).
func CheckRequired(raw []byte, resp any) error {
	switch v := resp.(type) {
	case *PushPrepareResponse:
		if v.Upload.Method == "" {
			return fmt.Errorf("upload.method is missing")
		}
		if v.Upload.Method == MethodMultipart {
			if err := checkMultipartAnswer(v.Multipart); err != nil {
				return err
			}
		} else if v.Upload.Method != MethodSkip && v.Upload.URL == "" {
			return fmt.Errorf("upload.url is missing")
		}
		// The token is the adapter's to choose and may be empty (the
		// existing host sends it back as is), but it must be there.
		if !hasMember(raw, "finalize_token") {
			return fmt.Errorf("finalize_token is missing")
		}
	case *PushFinalizeResponse:
		if v.Release.ReleaseID == "" {
			return fmt.Errorf("release.release_id is missing")
		}
		if err := v.Release.Retention.Check(); err != nil {
			return fmt.Errorf("release.retention: %v", err)
		}
	case *PullPrepareResponse:
		if v.Download.URL == "" {
			return fmt.Errorf("download.url is missing")
		}
		if !isSHA256Digest(v.Pack.Digest) {
			return fmt.Errorf("pack.digest %q is not sha256:<64 lowercase hex>", v.Pack.Digest)
		}
		if v.Pack.SizeBytes <= 0 {
			return fmt.Errorf("pack.size_bytes must be positive, got %d", v.Pack.SizeBytes)
		}
		if err := v.Retention.Check(); err != nil {
			return fmt.Errorf("retention: %v", err)
		}
	case *AuthWhoamiResponse:
		if !hasMember(raw, "identity") {
			return fmt.Errorf("identity is missing")
		}
	case *ReleasesListResponse:
		return checkReleasesList(raw, v)
	case interface{ checkRequired([]byte) error }:
		return v.checkRequired(raw) // our additions (log.go, gc.go)
	}
	return nil
}

// hasMember reports whether raw's top-level object holds name with a non-null
// value. The name is compared case-insensitively, because that is how
// encoding/json filled the struct; CheckJSON has already refused an answer
// spelling one name two ways.
func hasMember(raw []byte, name string) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return false
	}
	for k, v := range top {
		if strings.EqualFold(k, name) {
			return string(v) != "null"
		}
	}
	return false
}
