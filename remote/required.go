package remote

import (
	"encoding/json"
	"fmt"
	"regexp"
)

var sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkRequired checks the fields a response of command must carry (W8).
func checkRequired(command string, raw []byte, out any) error {
	switch v := out.(type) {
	case *PushPrepareResponse:
		if v.Upload.Method == "" {
			return fmt.Errorf("upload.method is missing")
		}
		if v.Upload.Method != MethodSkip && v.Upload.URL == "" {
			return fmt.Errorf("upload.url is missing")
		}
		if v.FinalizeToken == "" {
			return fmt.Errorf("finalize_token is missing")
		}
	case *PushFinalizeResponse:
		if v.Release.ReleaseID == "" {
			return fmt.Errorf("release.release_id is missing")
		}
	case *PullPrepareResponse:
		if v.Download.URL == "" {
			return fmt.Errorf("download.url is missing")
		}
		if !sha256Digest.MatchString(v.Pack.Digest) {
			return fmt.Errorf("pack.digest %q is not sha256:<64 lowercase hex>", v.Pack.Digest)
		}
		if v.Pack.SizeBytes <= 0 {
			return fmt.Errorf("pack.size_bytes must be positive, got %d", v.Pack.SizeBytes)
		}
	case *AuthWhoamiResponse:
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			return err
		}
		if id, ok := top["identity"]; !ok || string(id) == "null" {
			return fmt.Errorf("identity is missing")
		}
	}
	return nil
}
