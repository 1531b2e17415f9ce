package s3store_test

import (
	"encoding/json"
	"testing"

	"github.com/evidencerelay/epack/registry/s3store"
)

// settings writes a Config back as the EPACK_REMOTE_CONFIG settings that
// name it. The prefix goes between slashes: blanks are trimmed before the
// slashes are, so "/ a" is the prefix " a", which " a" alone is not.
func settings(c s3store.Config) string {
	prefix := c.Prefix
	if prefix != "" {
		prefix = "/" + prefix + "/"
	}
	m := map[string]any{
		"bucket": c.Bucket, "prefix": prefix, "region": c.Region, "endpoint": c.Endpoint,
		"path_style": c.PathStyle, "presign_expiry": c.PresignExpiry.String(), "upload_headers": c.UploadHeaders,
		"multipart_threshold": c.MultipartThreshold, "multipart_part_urls": c.MultipartPartURLs,
		"multipart_part_md5": !c.MultipartNoPartMD5,
	}
	if c.ObjectLock != nil {
		m["object_lock"] = map[string]any{"mode": c.ObjectLock.Mode, "retain": c.ObjectLock.RetainText}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// sameConfig compares two Configs, the object lock by value.
func sameConfig(a, b s3store.Config) bool {
	la, lb := a.ObjectLock, b.ObjectLock
	a.ObjectLock, b.ObjectLock = nil, nil
	if a != b || (la == nil) != (lb == nil) {
		return false
	}
	return la == nil || *la == *lb
}

// FuzzParseConfig: EPACK_REMOTE_CONFIG comes from the host, any bytes;
// parsing never panics, every warning says something, and an accepted
// configuration written back as settings parses to the same Config.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"bucket":"evidence-bucket"}`, `{"bucket":"b12","prefix":"/team/prod/","region":"eu-west-1","endpoint":"http://127.0.0.1:7070","path_style":"true"}`,
		`{"bucket":"b12","presign_expiry":"30m","upload_headers":"signed"}`, `{"bucket":"b12","presign_expiry":600}`,
		`{"bucket":"b12","multipart_threshold":"64MiB","multipart_part_urls":1000,"multipart_part_md5":false}`,
		`{"bucket":"b12","object_lock":{"mode":" governance ","retain":" 7y "}}`, `{"bucket":"b12","object_lock":{"mode":"COMPLIANCE","retain":"0d"}}`,
		`{"bucket":"b12","prefix":"a/../b"}`, `{"bucket":"b12","prefix":"/ a"}`, `{"bucket":"b12","endpoint":"https://u:p@x"}`,
		`{"bucket":"b12","presign_expiry":1e300}`, `{"bucket":"b12","multipart_threshold":-1}`, `{"bucket":"b12","unknown":1,"":2}`,
		`{"bucket":"b"}`, `{"bucket":7}`, "", "null", "[]", "{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, warnings, err := s3store.ParseConfig(raw)
		for _, w := range warnings {
			if w == "" {
				t.Fatalf("%q: an empty warning in %q", raw, warnings)
			}
		}
		if err != nil {
			return
		}
		again := settings(c)
		c2, w2, err := s3store.ParseConfig(again)
		if err != nil || !sameConfig(c, c2) || len(w2) != 0 {
			t.Fatalf("%q parsed to %+v; written back as %s it parses to %+v, %q, %v", raw, c, again, c2, w2, err)
		}
	})
}
