package fsstore_test

import (
	"strings"
	"testing"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
	"github.com/evidencerelay/epack/registry/fsstore"
)

func TestRegistryRoot(t *testing.T) {
	for _, tc := range []struct {
		name, fileRoot, fsRoot string
		want                   string
		errText                string // "" = no error
	}{
		{"file root", "/srv/reg", "", "/srv/reg", ""},
		{"file root wins", "/srv/a", "/srv/b", "/srv/a", ""},
		{"fs registry root", "", "/srv/b", "/srv/b", ""},
		{"neither", "", "", "", "FS_REGISTRY_ROOT=<absolute directory>"},
		{"relative file root", "rel/dir", "/srv/b", "", "EPACK_REMOTE_FILE_ROOT"},
		{"relative fs registry root", "", "./reg", "", `FS_REGISTRY_ROOT "./reg" must be an absolute path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fsstore.RegistryRoot(tc.fileRoot, tc.fsRoot)
			if tc.errText == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || registry.CodeOf(err) != protocol.CodeInvalidRequest || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("got %q, %v; want invalid_request containing %q", got, err, tc.errText)
			}
		})
	}
}
