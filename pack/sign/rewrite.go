package sign

import (
	"archive/zip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/pack"
)

// Signed is what SignFile did.
type Signed struct {
	Path           string `json:"path"`
	Entry          string `json:"entry"`
	Identity       string `json:"identity"`
	Kind           string `json:"kind"`
	Replaced       bool   `json:"replaced"` // the same signer's earlier signature was replaced
	DryRun         bool   `json:"dry_run"`
	PackDigest     string `json:"pack_digest"`
	ManifestDigest string `json:"manifest_digest"`
	FileDigest     string `json:"file_digest,omitempty"` // of the signed file
	Signatures     int    `json:"signatures"`            // attestation entries after signing
}

// SignFile signs the pack at path in place. The pack must verify first.
// The new file keeps every other entry's bytes, so pack_digest and the
// manifest digest do not change; it is written next to the pack, synced
// and renamed over it, so a failure leaves the original untouched. Signing
// again with the same key replaces that signer's entry; another signer
// adds one. Concurrent SignFile calls on one pack are serialised with a
// lock on the file, so no signature is lost. With dryRun nothing is
// written (and no service is contacted for keyless signing).
func SignFile(ctx context.Context, path string, o Options, dryRun bool) (*Signed, error) {
	for attempt := 0; ; attempt++ {
		res, retry, err := signOnce(ctx, path, o, dryRun)
		if !retry || attempt >= 5 {
			return res, err
		}
	}
}

func signOnce(ctx context.Context, path string, o Options, dryRun bool) (*Signed, bool, error) {
	f, size, err := pack.OpenRegular(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if !dryRun {
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			return nil, false, errcode.Wrap(errcode.IOError, err, "locking %s", path)
		}
		// Another signer may have replaced the file while we waited.
		if same, err := sameFile(f, path); err != nil {
			return nil, false, err
		} else if !same {
			return nil, true, nil
		}
	}
	v, err := pack.VerifyFile(ctx, f, pack.VerifyOptions{})
	if err != nil {
		return nil, false, fmt.Errorf("%s does not verify, so it is not signed: %w", path, err)
	}
	res := &Signed{Path: path, Kind: "key", DryRun: dryRun, PackDigest: v.Manifest.PackDigest, ManifestDigest: v.ManifestDigest}
	if o.Key == nil {
		res.Kind = "keyless"
	}
	if dryRun {
		if o.Key != nil {
			id, err := KeyID(o.Key.Public())
			if err != nil {
				return nil, false, err
			}
			res.Identity, res.Entry = id, EntryName(id)
			_, res.Replaced = v.Bundles[res.Entry]
		}
		res.Signatures = len(v.Bundles)
		if !res.Replaced {
			res.Signatures++
		}
		res.FileDigest = v.File.SHA256
		return res, false, nil
	}
	b, err := NewBundle(ctx, v.ManifestDigest, o)
	if err != nil {
		return nil, false, err
	}
	res.Entry, res.Identity, res.Kind = b.Entry, b.Identity, b.Kind
	_, res.Replaced = v.Bundles[b.Entry]
	st, err := f.Stat()
	if err != nil {
		return nil, false, errcode.Wrap(errcode.IOError, err, "reading %s", path)
	}
	tmp, err := safefile.CreateTempIn(filepath.Dir(path), "."+filepath.Base(path)+".sign-*")
	if err != nil {
		return nil, false, err
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := rewrite(f, size, tmp, b); err != nil {
		return nil, false, err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return nil, false, errcode.Wrap(errcode.IOError, err, "setting the mode of the signed pack")
	}
	// The signed file must be a pack that verifies, with the same digests.
	nv, err := pack.VerifyFile(ctx, tmp, pack.VerifyOptions{})
	if err != nil {
		return nil, false, errcode.Wrap(errcode.Internal, err, "the signed pack does not verify (original left untouched)")
	}
	if nv.Manifest.PackDigest != v.Manifest.PackDigest || nv.ManifestDigest != v.ManifestDigest {
		return nil, false, errcode.New(errcode.Internal, "signing changed the pack's digests (original left untouched)")
	}
	res.FileDigest, res.Signatures = nv.File.SHA256, len(nv.Bundles)
	committed = true
	if err := safefile.Commit(tmp, path, true); err != nil {
		return nil, false, err
	}
	return res, false, nil
}

// rewrite copies every entry of the pack in src raw (compressed bytes and
// headers as they are), putting b in place of the same signer's entry or
// after the last entry.
func rewrite(src *os.File, size int64, dst *os.File, b *Bundle) error {
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return errcode.Wrap(errcode.NotAZip, err, "reading the pack")
	}
	zw := zip.NewWriter(dst)
	if c := zr.Comment; c != "" {
		if err := zw.SetComment(c); err != nil {
			return errcode.Wrap(errcode.IOError, err, "writing the signed pack")
		}
	}
	put := func() error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: b.Entry, Method: zip.Deflate, Modified: time.Now().UTC().Truncate(time.Second)})
		if err == nil {
			_, err = w.Write(b.JSON)
		}
		return err
	}
	written := false
	for _, f := range zr.File {
		if f.Name == b.Entry {
			if err := put(); err != nil {
				return errcode.Wrap(errcode.IOError, err, "writing the signed pack")
			}
			written = true
			continue
		}
		if err := zw.Copy(f); err != nil {
			return errcode.Wrap(errcode.IOError, err, "copying %s into the signed pack", f.Name)
		}
	}
	if !written {
		if err := put(); err != nil {
			return errcode.Wrap(errcode.IOError, err, "writing the signed pack")
		}
	}
	if err := zw.Close(); err != nil {
		return errcode.Wrap(errcode.IOError, err, "writing the signed pack")
	}
	if err := dst.Sync(); err != nil {
		return errcode.Wrap(errcode.IOError, err, "syncing the signed pack")
	}
	return nil
}

// sameFile reports whether path still names the file f has open.
func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, errcode.Wrap(errcode.IOError, err, "reading %s", path)
	}
	b, err := os.Lstat(path)
	if err != nil {
		return false, errcode.Wrap(errcode.IOError, err, "reading %s", path)
	}
	return os.SameFile(a, b), nil
}
