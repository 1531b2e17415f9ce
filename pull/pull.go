package pull

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
	"github.com/evidencerelay/epack/transfer"
)

// SanitizeStream turns a stream name into a file name: bytes outside
// [A-Za-z0-9_-] become '-', and an empty result becomes "pack".
func SanitizeStream(stream string) string {
	b := []byte(stream)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) == 0 {
		return "pack"
	}
	return string(b)
}

// Pull downloads a pack from a remote registry, proves it is what the
// registry published, and moves it into place.
func Pull(ctx context.Context, opts Options) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	if err := r.configStep(); err != nil {
		return nil, err
	}
	if err := r.adapterStep(ctx); err != nil {
		return nil, err
	}
	defer r.session.Close()
	if err := r.prepareStep(ctx); err != nil {
		return nil, err
	}
	if err := r.outputStep(); err != nil {
		return nil, err
	}
	defer r.discardTemp()
	if err := r.downloadStep(ctx); err != nil {
		return nil, err
	}
	if err := r.verifyStep(ctx); err != nil {
		return nil, err
	}
	if err := r.commitStep(); err != nil {
		return nil, err
	}
	r.finalizeStep(ctx)
	return r.receiptStep()
}

// op is what the shared workflow steps need to know about pull.
var op = workflow.Op{Name: "pull", ReceiptDir: DefaultReceiptDir}

// run is one pull in progress: what each step found, for the next ones.
type run struct {
	opts   Options
	steps  workflow.Steps
	stderr io.Writer
	verify bool
	dir    string // the folder the pull runs in (Options.ProjectDir)

	env     *workflow.Env
	session *remote.Session
	target  protocol.TargetConfig
	ref     protocol.PullRef
	prep    *protocol.PullPrepareResponse

	output    string
	tmp       *os.File // the download, private until it is verified
	committed bool
	got       transfer.DownloadResult
	stream    string
	verified  bool
	res       *Result

	packDigest string // the pulled manifest's pack_digest

	signerPolicy *workflow.SignerPolicy
	signers      []sign.Signer
	// wantPackDigest is the pack digest asked for with --digest, when the
	// registry knew it only as a pack digest.
	wantPackDigest string
}

// newRun applies the defaults and checks an explicit output before
// anything remote happens.
func newRun(opts Options) (*run, error) {
	r := &run{opts: opts, steps: workflow.Steps(opts.OnStep), stderr: opts.Stderr, verify: opts.Verify == nil || *opts.Verify}
	if r.stderr == nil {
		r.stderr = os.Stderr
	}
	dir, err := workflow.Dir(opts.ProjectDir)
	if err != nil {
		return nil, err
	}
	r.dir = dir
	if opts.Output != "" {
		if err := checkOutput(workflow.Abs(dir, opts.Output), opts.Force); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// configStep loads the project and the remote.
func (r *run) configStep() error {
	r.steps.Start(StepConfig)
	env, err := workflow.Load(op, r.dir, r.opts.Remote, r.opts.Environment)
	if err != nil {
		return err
	}
	r.env = env
	if r.signerPolicy, err = workflow.LoadSignerPolicy(r.opts.Remote, env.Remote, r.stderr); err != nil {
		return err
	}
	if r.signerPolicy != nil && r.signerPolicy.Strict && !r.verify {
		// Signatures over a manifest say nothing about unverified bytes.
		fmt.Fprintf(r.stderr, "Note: remote %q has a strict signer policy, so the pack is verified despite --verify=false\n", r.opts.Remote)
		r.verify = true
	}
	r.steps.Done(StepConfig)
	return nil
}

// adapterStep opens the adapter session and checks that it can pull.
func (r *run) adapterStep(ctx context.Context) error {
	r.steps.Start(StepAdapter)
	var prompt func(string, string) bool
	if !r.opts.NonInteractive {
		prompt = r.opts.PromptInstallAdapter
	}
	s, err := r.env.OpenSession(ctx, workflow.SessionSpec{
		Policy: execPolicy(&r.opts), Stderr: r.stderr, NoRedact: r.opts.NoRedact,
		Prompt: prompt, Installer: r.opts.Installer, Steps: r.steps,
	})
	if err != nil {
		return err
	}
	if !s.Capabilities().Features.Pull {
		s.Close()
		return errcode.New(errcode.UnsupportedFeature, "adapter %q does not support pull operations", r.env.Remote.AdapterName())
	}
	r.session = s
	r.steps.Done(StepAdapter)
	return nil
}

// prepareStep asks the adapter which pack it will send and from where.
func (r *run) prepareStep(ctx context.Context) error {
	r.target = protocol.TargetConfig{
		Workspace:   workflow.FirstNonEmpty(r.opts.Workspace, r.env.Remote.Target.Workspace),
		Environment: r.env.Remote.Target.Environment,
		Stream:      r.opts.Stream,
	}
	ref := r.opts.Ref
	r.ref = protocol.PullRef{Digest: ref.Digest, ReleaseID: ref.ReleaseID, Version: ref.Version, Latest: ref.Latest}
	if r.ref == (protocol.PullRef{}) {
		r.ref.Latest = true
	}
	r.steps.Start(StepPrepare)
	prep, err := r.prepare(ctx)
	if err != nil && r.ref.Digest != "" && isNotFound(err) {
		// Not a file digest the registry knows: it may be a pack digest.
		file, ferr := r.fileDigestForPackDigest(ctx, r.ref.Digest)
		if ferr != nil {
			return ferr
		}
		if file == "" {
			return err
		}
		r.wantPackDigest, r.ref.Digest = r.ref.Digest, file
		prep, err = r.prepare(ctx)
	}
	if err != nil {
		return err
	}
	r.prep = prep
	r.steps.Done(StepPrepare)
	return nil
}

// packDigestPages bounds the search for a pack digest: the newest
// packDigestPages × MaxReleasesLimit releases.
const packDigestPages = 20

// fileDigestForPackDigest finds, through releases.list, the file digest of
// the newest release whose pack digest is d ("" when none is found or the
// adapter cannot list). The pulled manifest is checked against d
// afterwards, so the listing is not trusted.
func (r *run) fileDigestForPackDigest(ctx context.Context, d string) (string, error) {
	if !r.session.Capabilities().Features.ReleasesList {
		return "", nil
	}
	cursor := ""
	for page := 0; page < packDigestPages; page++ {
		resp, err := workflow.Call(ctx, protocol.CmdReleasesList, func(ctx context.Context) (*protocol.ReleasesListResponse, error) {
			return r.session.ReleasesList(ctx, &protocol.ReleasesListRequest{
				Remote: r.env.RemoteName, Target: r.target, Limit: protocol.MaxReleasesLimit, Cursor: cursor,
			})
		})
		if err != nil {
			return "", err
		}
		for _, rel := range resp.Releases {
			if rel.PackDigest == d && pack.IsDigest(rel.FileDigest) {
				return rel.FileDigest, nil
			}
		}
		if resp.NextCursor == "" {
			return "", nil
		}
		cursor = resp.NextCursor
	}
	return "", nil
}

// isNotFound reports whether the adapter answered not_found.
func isNotFound(err error) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == protocol.CodeNotFound
}

// prepare calls pull.prepare and checks the answer against the request.
func (r *run) prepare(ctx context.Context) (*protocol.PullPrepareResponse, error) {
	resp, err := workflow.Call(ctx, protocol.CmdPullPrepare, func(ctx context.Context) (*protocol.PullPrepareResponse, error) {
		return r.session.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: r.env.RemoteName, Target: r.target, Ref: r.ref})
	})
	if err != nil {
		return nil, err
	}
	if err := checkAnnounced(resp, r.ref); err != nil {
		return nil, err
	}
	note, err := checkAnswer(resp.Pack, r.ref)
	if err != nil {
		return nil, err
	}
	if note != "" {
		fmt.Fprintf(r.stderr, "Note: %s; the pack is accepted by its file digest and manifest checks.\n", note)
	}
	return resp, nil
}

// outputStep picks the output (by default named after the stream) and
// creates the temporary file beside it.
func (r *run) outputStep() error {
	output := r.opts.Output
	if output == "" {
		output = SanitizeStream(r.prep.Pack.Stream) + ".epack"
	}
	r.output = workflow.Abs(r.dir, output)
	if err := checkOutput(r.output, r.opts.Force); err != nil {
		return err
	}
	r.steps.Start(StepDownload)
	tmp, err := safefile.CreateTempIn(filepath.Dir(r.output), ".epack-pull-*.tmp")
	if err != nil {
		return errcode.Wrap(errcode.IOError, err, "creating a temporary file beside %s", r.output).
			WithHint("make sure the folder %s exists and is writable", filepath.Dir(r.output))
	}
	r.tmp = tmp
	return nil
}

// discardTemp removes the temporary file unless it became the output.
func (r *run) discardTemp() {
	if r.tmp != nil && !r.committed {
		r.tmp.Close()
		os.Remove(r.tmp.Name())
	}
}

// downloadStep fetches the pack into the temporary file (with a fresh
// pull.prepare when the URL expired) and checks size and file digest.
func (r *run) downloadStep(ctx context.Context) error {
	client := r.opts.Transfer
	if client == nil {
		client = transfer.NewClient()
	}
	download := func() error {
		if err := resetFile(r.tmp); err != nil {
			return err
		}
		var err error
		r.got, err = client.Download(ctx, transfer.DownloadRequest{
			Target:       workflow.Target(r.prep.Download),
			Policy:       r.env.Policy,
			Dest:         r.tmp,
			ExpectedSize: r.prep.Pack.SizeBytes,
			Progress:     r.opts.OnDownloadProgress,
			Parallel:     cmp.Or(r.opts.Parallel, transfer.DefaultParallel),
		})
		return err
	}
	reprepare := func() (bool, error) {
		digest := r.prep.Pack.Digest
		prep, err := r.prepare(ctx)
		if err != nil {
			return false, err
		}
		r.prep = prep
		if prep.Pack.Digest != digest {
			return false, errcode.New(errcode.DigestMismatch, "the remote now announces a different pack (%s, was %s)", prep.Pack.Digest, digest)
		}
		return false, nil
	}
	t := workflow.Transfer{Env: r.env, Session: r.session, Operation: "download", Warn: r.stderr}
	if err := t.Run(download, reprepare); err != nil {
		return err
	}
	if r.got.Size != r.prep.Pack.SizeBytes {
		return errcode.New(errcode.SizeMismatch, "size mismatch: the remote announced %d bytes, received %d", r.prep.Pack.SizeBytes, r.got.Size)
	}
	if r.got.SHA256 != r.prep.Pack.Digest {
		return errcode.New(errcode.DigestMismatch, "digest mismatch: expected %s, got %s", r.prep.Pack.Digest, r.got.SHA256)
	}
	r.steps.Done(StepDownload)
	return nil
}

// verifyStep reads the manifest even without verification: its stream
// must be the one the remote answered, before anything is moved into place.
func (r *run) verifyStep(ctx context.Context) error {
	if r.verify {
		r.steps.Start(StepVerify)
	}
	got, err := readStream(ctx, r.tmp, r.verify)
	if err != nil {
		return err
	}
	if err := checkManifestStream(got.stream, r.prep.Pack.Stream); err != nil {
		return err
	}
	if r.wantPackDigest != "" && got.packDigest != r.wantPackDigest {
		return notAsked("asked for pack digest %s but the pulled manifest says %s", r.wantPackDigest, got.packDigest)
	}
	r.stream = got.stream
	r.packDigest = got.packDigest
	if r.verify {
		r.verified = true
		r.steps.Done(StepVerify)
	}
	if r.signerPolicy != nil {
		r.steps.Start(StepSignatures)
		ok, err := r.signerPolicy.Check("the pulled pack", got.manifestDigest, got.bundles, r.stderr)
		if err != nil {
			return err
		}
		r.signers = sign.Signers(ok)
		r.steps.Done(StepSignatures)
	}
	return nil
}

// commitStep moves the pack into place. Pulled packs are ordinary files
// (the temporary file was private while incomplete).
func (r *run) commitStep() error {
	if err := r.tmp.Chmod(0o644); err != nil {
		return errcode.Wrap(errcode.IOError, err, "setting permissions on %s", r.tmp.Name())
	}
	if err := safefile.Commit(r.tmp, r.output, r.opts.Force); err != nil {
		return fmt.Errorf("saving %s: %w", r.output, err)
	}
	r.committed = true
	r.tmp.Close()
	p := r.prep.Pack
	r.res = &Result{
		OutputPath: r.output, Digest: p.Digest, SizeBytes: r.got.Size, Stream: r.stream,
		ReleaseID: p.ReleaseID, Version: p.Version, Labels: p.Labels,
		CreatedAt: p.CreatedAt, Verified: r.verified, Target: r.target, Signers: r.signers,
		PackDigest: r.packDigest, Retention: r.prep.Retention,
	}
	return nil
}

// finalizeStep confirms the download; a failure is only a warning, the
// pack is already in place.
func (r *run) finalizeStep(ctx context.Context) {
	r.steps.Start(StepFinalize)
	_, err := r.session.PullFinalize(ctx, &protocol.PullFinalizeRequest{
		Remote: r.env.RemoteName, Target: r.target, Digest: r.prep.Pack.Digest, FinalizeToken: r.prep.FinalizeToken,
	})
	if err != nil {
		r.res.FinalizeWarning = err
		fmt.Fprintf(r.stderr, "Warning: pull.finalize failed: %v\n", err)
		return
	}
	r.steps.Done(StepFinalize)
}

// receiptStep records the pull under the project's receipts folder.
func (r *run) receiptStep() (*Result, error) {
	if r.opts.NoReceipt {
		return r.res, nil
	}
	receipt := NewReceipt(r.env.RemoteName, r.target, r.output, r.prep.Pack, r.verified)
	receipt.Location = r.env.Location
	receipt.Pack.Signers = r.signers
	receipt.Retention = r.prep.Retention
	base, err := r.env.ReceiptsDir()
	if err != nil {
		return r.res, workflow.ReceiptFailed(err, "", fmt.Sprintf("the pack was saved to %s", r.output))
	}
	w := ReceiptWriter{BaseDir: base, ProjectRoot: r.env.Root}
	path, err := w.Write(receipt)
	r.res.ReceiptPath = path
	if err != nil {
		return r.res, workflow.ReceiptFailed(err, "", fmt.Sprintf("the pack was saved to %s", r.output))
	}
	return r.res, nil
}

// execPolicy is the adapter execution policy the options ask for.
func execPolicy(opts *Options) remote.Policy {
	return remote.Policy{Frozen: opts.Secure.Frozen, AllowUnpinned: opts.Unsafe.AllowUnpinned, StrictProduction: opts.Secure.StrictProduction, Component: "pull"}
}

func checkOptions(opts *Options) error {
	if strings.TrimSpace(opts.Remote) == "" {
		return errcode.New(errcode.InvalidInput, "remote is required")
	}
	if _, err := execPolicy(opts).Check(nil); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{opts.Ref.Digest, opts.Ref.ReleaseID, opts.Ref.Version} {
		if s != "" {
			n++
		}
	}
	if opts.Ref.Latest {
		n++
	}
	if n > 1 {
		return errcode.New(errcode.InvalidInput, "choose one of digest, release id, version or latest")
	}
	if d := opts.Ref.Digest; d != "" && !pack.IsDigest(d) {
		return errcode.New(errcode.InvalidInput, "digest %q is not of the form sha256:<64 hex>", d)
	}
	if err := names.CheckOptional(names.Stream, opts.Stream); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return workflow.CheckNames(opts.Workspace, opts.Environment)
}

// checkAnnounced validates what the adapter says it will send.
func checkAnnounced(resp *protocol.PullPrepareResponse, ref protocol.PullRef) error {
	if !pack.IsDigest(resp.Pack.Digest) {
		return errcode.New(errcode.ProtocolMismatch, "pull.prepare returned pack.digest %q, not sha256:<64 hex>", resp.Pack.Digest)
	}
	if resp.Pack.SizeBytes <= 0 {
		return errcode.New(errcode.ProtocolMismatch, "pull.prepare returned no pack size")
	}
	if ref.Digest != "" && resp.Pack.Digest != ref.Digest {
		return errcode.New(errcode.DigestMismatch, "asked for %s but the remote offers %s", ref.Digest, resp.Pack.Digest)
	}
	return nil
}

// checkOutput refuses a symlinked output, a folder or other non-regular
// file, a missing parent folder, and an existing file without force.
func checkOutput(path string, force bool) error {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		return errcode.New(errcode.SymlinkNotAllowed, "output %q is a symbolic link", path).WithHint("choose another output path with -o")
	case err == nil && fi.IsDir():
		return errcode.New(errcode.InvalidInput, "output %q is a folder", path).WithHint("give a file name with -o")
	case err == nil && !fi.Mode().IsRegular():
		// --force replaces a pack file, never a FIFO, socket or device node.
		return errcode.New(errcode.InvalidInput, "output %q is not a regular file", path).WithHint("give a file name with -o")
	case err == nil && !force:
		return errcode.New(errcode.OutputExists, "output file %q already exists (use --force to overwrite)", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return errcode.Wrap(errcode.IOError, err, "checking output %q", path)
	}
	dir := filepath.Dir(path)
	// The temp file is created in dir without following a link (safefile),
	// so a symlinked folder is refused here, before anything remote happens.
	if di, err := os.Lstat(dir); err == nil && di.Mode()&os.ModeSymlink != 0 {
		return errcode.New(errcode.SymlinkNotAllowed, "output folder %q is a symbolic link", dir).
			WithHint("write the pack to a real folder")
	}
	if di, err := os.Stat(dir); err != nil || !di.IsDir() {
		return errcode.New(errcode.InvalidInput, "output folder %q does not exist", dir).WithHint("create it first: mkdir -p %s", dir)
	}
	return nil
}

func resetFile(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return errcode.Wrap(errcode.IOError, err, "resetting the temporary file")
	}
	if _, err := f.Seek(0, 0); err != nil {
		return errcode.Wrap(errcode.IOError, err, "resetting the temporary file")
	}
	return nil
}
