package sign

import (
	"encoding/hex"
	"errors"
	"path/filepath"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
)

// maxTrustedRoot bounds a trusted_root.json read (the public-good one is
// about 10 KiB).
const maxTrustedRoot = 4 << 20

// LoadTrustedRoot reads a Sigstore trusted_root.json, refusing a symbolic
// link.
func LoadTrustedRoot(path string) (*root.TrustedRoot, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "trusted root path %q", path)
	}
	raw, err := safefile.ReadFileNoFollow(filepath.Dir(abs), filepath.Base(abs), maxTrustedRoot)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "reading trusted root %s", path)
	}
	tr, err := root.NewTrustedRootFromJSON(raw)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "%s is not a Sigstore trusted root", path)
	}
	return tr, nil
}

// PublicGoodRoot returns Sigstore's public-good trusted root through TUF
// (cached under ~/.sigstore/root). Offline uses the cache (or the root
// embedded in sigstore-go) without contacting the TUF repository.
func PublicGoodRoot(offline bool) (*root.TrustedRoot, error) {
	opts := tuf.DefaultOptions()
	if offline {
		opts = opts.WithForceCache()
	}
	tr, err := root.FetchTrustedRootWithOptions(opts)
	if err != nil {
		hint := "check network access to tuf-repo-cdn.sigstore.dev, or give --trust-root <trusted_root.json>"
		if offline {
			hint = "no cached Sigstore root on this machine: give --trust-root <trusted_root.json>"
		}
		return nil, errcode.Wrap(errcode.NetworkError, err, "loading the Sigstore public-good trusted root").WithHint("%s", hint)
	}
	return tr, nil
}

func decodeHex32(s string) ([]byte, error) {
	raw, err := hex.DecodeString(s)
	if err != nil || len(raw) != 32 {
		return nil, errors.New("not 32 bytes of hex")
	}
	return raw, nil
}
