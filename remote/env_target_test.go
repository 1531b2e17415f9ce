package remote

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/protocol"
)

// TestTargetShorthandsReachTheAdapter: a remote that names its registry the
// existing tool's way (target.dir, target.bucket) gives our adapters
// EPACK_REMOTE_FILE_ROOT and a bucket in EPACK_REMOTE_CONFIG, also when the
// config.Remote was built in Go rather than loaded.
func TestTargetShorthandsReachTheAdapter(t *testing.T) {
	tests := []struct {
		name   string
		remote *config.Remote
		want   map[string]string
	}{
		{"dir", &config.Remote{Name: "r", Target: config.RemoteTarget{Dir: "published"}},
			map[string]string{protocol.EnvFileRoot: "/proj/published", protocol.EnvRemoteConfig: "{}"}},
		{"file_root wins over nothing", &config.Remote{Name: "r", Transport: config.RemoteTransport{FileRoot: "/srv/x"}},
			map[string]string{protocol.EnvFileRoot: "/srv/x"}},
		{"bucket", &config.Remote{Name: "r", Target: config.RemoteTarget{Bucket: "my-evidence-bucket"}},
			map[string]string{protocol.EnvRemoteConfig: `{"bucket":"my-evidence-bucket"}`, protocol.EnvFileRoot: ""}},
		{"bucket beside extensions", &config.Remote{Name: "r", Target: config.RemoteTarget{Bucket: "b"}, Extensions: map[string]any{"region": "eu"}},
			map[string]string{protocol.EnvRemoteConfig: `{"bucket":"b","region":"eu"}`}},
		{"extensions bucket kept", &config.Remote{Name: "r", Target: config.RemoteTarget{Bucket: "b"}, Extensions: map[string]any{"bucket": "b"}},
			map[string]string{protocol.EnvRemoteConfig: `{"bucket":"b"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := buildEnv(envSpec{parent: []string{"PATH=/bin"}, root: "/proj", remote: tc.remote})
			got := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (env %v)", k, got[k], v, env)
				}
			}
		})
	}
}
