package ocistore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/evidencerelay/epack/protocol"
)

// uploadTarget gets the pack's layer to the registry (see PushPrepare);
// byAdapter is true when it sent the bytes itself.
func (r *Registry) uploadTarget(ctx context.Context, repo *remote.Repository, in *pushIn, packPath string) (target protocol.TransferTarget, byAdapter bool, err error) {
	skip := protocol.TransferTarget{Method: protocol.MethodSkip}
	desc, err := repo.Blobs().Resolve(ctx, in.fileDigest())
	switch {
	case err == nil && desc.Size == in.Size:
		return skip, false, nil
	case err == nil:
		return skip, false, protocol.Errorf(protocol.CodeServerError, "registry %s has blob %s with %d bytes, not %d", r.cfg.Registry, in.fileDigest(), desc.Size, in.Size)
	case !notFound(err):
		return skip, false, r.c.fail(err, "checking for the pack in %s", r.ref(repo))
	}
	loc, authz, err := r.startUpload(ctx, repo)
	if err != nil {
		return skip, false, err
	}
	if authz == "" && r.cfg.Direct {
		// The session needs no credential: the host sends the bytes, and
		// the registry refuses them unless they have the digest.
		q := loc.Query()
		q.Set("digest", in.fileDigest())
		loc.RawQuery = q.Encode()
		return protocol.TransferTarget{Method: http.MethodPut, URL: loc.String(), Headers: map[string]string{"Content-Type": "application/octet-stream"}}, false, nil
	}
	if err := r.putLayer(ctx, repo, loc, authz, in, packPath); err != nil {
		return skip, false, err
	}
	return skip, true, nil
}

// startUpload opens a blob upload session (POST /v2/<repo>/blobs/uploads/)
// and returns its URL and the Authorization the session was opened with
// ("" when none was needed).
func (r *Registry) startUpload(ctx context.Context, repo *remote.Repository) (*url.URL, string, error) {
	ctx = auth.AppendRepositoryScope(ctx, repo.Reference, auth.ActionPull, auth.ActionPush)
	u := r.c.baseURL() + "/v2/" + repo.Reference.Repository + "/blobs/uploads/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := r.c.client.Do(req)
	if err != nil {
		return nil, "", r.c.fail(err, "starting the upload to %s", r.ref(repo))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return nil, "", r.c.fail(errorResponse(resp), "starting the upload to %s", r.ref(repo))
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, "", protocol.Errorf(protocol.CodeServerError, "registry %s opened an upload without a Location: %v", r.cfg.Registry, err)
	}
	base, _ := url.Parse(u)
	if !sameHost(loc, base) || base.Scheme == "https" && loc.Scheme != "https" {
		return nil, "", protocol.Errorf(protocol.CodeServerError, "registry %s sent the upload to another place (%s); refused", r.cfg.Registry, loc.Redacted())
	}
	authz := ""
	if resp.Request != nil {
		authz = resp.Request.Header.Get("Authorization")
	}
	return loc, authz, nil
}

// sameHost compares host and port (implicit default ports included).
func sameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "http" {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// putLayer uploads the pack file to an upload session in one PUT ?digest=
// (the pack's file digest, which the host computed while verifying it): the
// registry stores the bytes only if they hash to it, so a pack file that
// changed since it was verified is refused, and nothing is published. The
// adapter does not hash a second time what the registry hashes anyway.
func (r *Registry) putLayer(ctx context.Context, repo *remote.Repository, loc *url.URL, authz string, in *pushIn, packPath string) error {
	if packPath == "" || !filepath.IsAbs(packPath) {
		return bad("pack.path %q must be an absolute path: this registry needs credentials to upload, so the adapter reads the pack itself", truncate(packPath))
	}
	f, err := os.Open(packPath)
	if err != nil {
		return bad("this registry needs credentials to upload, so the adapter uploads the pack itself and could not read pack.path: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return bad("pack.path %s is not a regular file", packPath)
	}
	if st.Size() != in.Size {
		return bad("pack.path %s has %d bytes, not the %d of pack.size_bytes (it changed since it was verified)", packPath, st.Size(), in.Size)
	}
	q := loc.Query()
	q.Set("digest", in.fileDigest())
	u := *loc
	u.RawQuery = q.Encode()
	body := &countingReader{r: io.NewSectionReader(f, 0, in.Size)}
	ctx = auth.AppendRepositoryScope(ctx, repo.Reference, auth.ActionPull, auth.ActionPush)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	req.ContentLength = in.Size
	req.Header.Set("Content-Type", "application/octet-stream")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := r.c.client.Do(req)
	if err != nil {
		return r.c.fail(err, "uploading the pack to %s", r.ref(repo))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		e := errorResponse(resp)
		if hasErrorCode(e, errcode.ErrorCodeDigestInvalid) {
			return protocol.Wrapf(protocol.CodeInvalidRequest, e, "registry %s refused the pack: its bytes do not have digest %s (pack.path changed since it was verified?); nothing was published", r.cfg.Registry, in.fileDigest())
		}
		return r.c.fail(e, "uploading the pack to %s", r.ref(repo))
	}
	if body.n != in.Size {
		return protocol.Errorf(protocol.CodeServerError, "registry %s accepted %d bytes of a %d-byte pack", r.cfg.Registry, body.n, in.Size)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	return n, err
}

// errorResponse reads an error answer the way oras-go does.
func errorResponse(resp *http.Response) *errcode.ErrorResponse {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<10)); err == nil && json.Unmarshal(b, &body) == nil {
		e.Errors = body.Errors
	}
	return e
}

// downloadTarget tells the host where to fetch a release's layer: the blob
// URL when it needs no credential; the URL the registry redirects to when
// that is on another host (its storage, for this blob); otherwise the
// adapter downloads the blob into the file root and names that copy
// (staged: its file name, for PullFinalize to remove).
func (r *Registry) downloadTarget(ctx context.Context, repo *remote.Repository, rel *release) (tgt protocol.TransferTarget, staged string, err error) {
	blobURL := r.c.blobURL(repo.Reference.Repository, rel.FileDigest)
	if r.cfg.Direct {
		pctx := auth.AppendRepositoryScope(ctx, repo.Reference, auth.ActionPull)
		req, err := http.NewRequestWithContext(pctx, http.MethodGet, blobURL, nil)
		if err != nil {
			return tgt, "", err
		}
		resp, err := r.c.noRedirect.Do(req)
		if err != nil {
			return tgt, "", r.c.fail(err, "locating the pack in %s", r.ref(repo))
		}
		resp.Body.Close()
		authz := resp.Request.Header.Get("Authorization")
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err == nil && (authz == "" || !sameHost(loc, resp.Request.URL)) {
				return protocol.TransferTarget{Method: http.MethodGet, URL: loc.String()}, "", nil
			}
		case resp.StatusCode == http.StatusOK:
			if authz == "" {
				return protocol.TransferTarget{Method: http.MethodGet, URL: blobURL}, "", nil
			}
		case resp.StatusCode == http.StatusNotFound:
			return tgt, "", protocol.Errorf(protocol.CodeNotFound, "the pack of release %s (%s) is missing from %s", rel.ID, rel.FileDigest, r.ref(repo))
		default:
			return tgt, "", r.c.fail(errorResponse(resp), "locating the pack in %s", r.ref(repo))
		}
	}
	return r.stageDownload(ctx, repo, rel)
}

// stagingDir is the folder below the file root that holds downloads.
const stagingDir = "oci-downloads"

// stagingMaxAge: staged downloads older than this are swept.
const stagingMaxAge = time.Hour

var stagedName = regexp.MustCompile(`^[a-z2-7]{26}\.epack$`)

// stageDownload fetches the layer into <file root>/oci-downloads/, checks
// its size, and answers with a file:// URL.
func (r *Registry) stageDownload(ctx context.Context, repo *remote.Repository, rel *release) (protocol.TransferTarget, string, error) {
	var tgt protocol.TransferTarget
	if r.opt.FileRoot == "" {
		return tgt, "", bad("registry %s needs credentials to download this pack (or serves it only to the adapter), so the adapter downloads it for epack: "+
			"set transport.file_root in the remote (e.g. file_root: .epack/oci) to give it a folder", r.cfg.Registry)
	}
	dir := filepath.Join(r.opt.FileRoot, stagingDir)
	if err := os.MkdirAll(r.opt.FileRoot, 0o755); err != nil {
		return tgt, "", protocol.Wrapf(protocol.CodeServerError, err, "making transport.file_root")
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return tgt, "", protocol.Wrapf(protocol.CodeServerError, err, "making the download folder in transport.file_root")
	}
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		return tgt, "", protocol.Errorf(protocol.CodeServerError, "%s is not a folder (a link?); refused", dir)
	}
	r.sweepStaged(dir)
	name := newName() + ".epack"
	p := filepath.Join(dir, name)
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return tgt, "", protocol.Wrapf(protocol.CodeServerError, err, "creating the download file")
	}
	ok := false
	defer func() {
		out.Close()
		if !ok {
			os.Remove(p)
		}
	}()
	rc, err := repo.Blobs().Fetch(ctx, rel.layer())
	if err != nil {
		if notFound(err) {
			return tgt, "", protocol.Errorf(protocol.CodeNotFound, "the pack of release %s (%s) is missing from %s", rel.ID, rel.FileDigest, r.ref(repo))
		}
		return tgt, "", r.c.fail(err, "downloading the pack from %s", r.ref(repo))
	}
	defer rc.Close()
	// The host checks the digest of what it gets from the copy, as for
	// every registry; the adapter checks the size.
	n, err := io.Copy(out, io.LimitReader(rc, rel.Size+1))
	if err != nil {
		return tgt, "", r.c.fail(err, "downloading the pack from %s", r.ref(repo))
	}
	if n != rel.Size {
		return tgt, "", protocol.Errorf(protocol.CodeServerError, "registry %s served %d bytes for blob %s (%d bytes)", r.cfg.Registry, n, rel.FileDigest, rel.Size)
	}
	if err := out.Close(); err != nil {
		return tgt, "", protocol.Wrapf(protocol.CodeServerError, err, "writing the download file")
	}
	ok = true
	return protocol.TransferTarget{Method: http.MethodGet, URL: (&url.URL{Scheme: "file", Path: p}).String()}, name, nil
}

// sweepStaged removes downloads nobody finalized (best effort).
func (r *Registry) sweepStaged(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	now := r.opt.Now()
	for _, e := range ents {
		if !stagedName.MatchString(e.Name()) {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && now.Sub(info.ModTime()) > stagingMaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// removeStaged removes one staged download (named by the pull token).
func (r *Registry) removeStaged(name string) {
	if r.opt.FileRoot == "" || !stagedName.MatchString(name) {
		return
	}
	os.Remove(filepath.Join(r.opt.FileRoot, stagingDir, name))
}

var nameEnc = base32.StdEncoding.WithPadding(base32.NoPadding)

// newName is 128 random bits as 26 lowercase base32 characters.
func newName() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return strings.ToLower(nameEnc.EncodeToString(b[:]))
}

// pullToken is what pull.prepare hands to pull.finalize.
type pullToken struct {
	Digest    string `json:"d"`
	ReleaseID string `json:"r,omitempty"`
	Staged    string `json:"s,omitempty"`
}

const pullTokenPrefix = "ocipull."

func (t pullToken) encode() string {
	b, _ := json.Marshal(t)
	return pullTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodePullToken(s string) (pullToken, error) {
	var t pullToken
	raw, ok := strings.CutPrefix(s, pullTokenPrefix)
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if !ok || err != nil || json.Unmarshal(b, &t) != nil {
		return t, bad("malformed pull finalize_token")
	}
	return t, nil
}
