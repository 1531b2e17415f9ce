package push

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/buildcontext"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/workflow"
	"github.com/evidencerelay/epack/pack"
	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
	"github.com/evidencerelay/epack/transfer"
)

// Push uploads a pack to a remote registry.
//
// SECURITY: This function performs TOCTOU-safe execution for source-based
// adapters. The adapter binary is verified against the lockfile digest before
// execution, preventing attacks where an attacker modifies the binary between
// resolution and execution. The pack is opened once: the bytes that are
// verified and hashed are the bytes that are uploaded.
//
// When a release was created but a later step failed (run sync with
// require_success, or the receipt write), Push returns both the Result and
// the error.
func Push(ctx context.Context, opts Options) (*Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	r, err := openPackStep(opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.configStep(); err != nil {
		return nil, err
	}
	if err := r.verifyAndAdapterStep(ctx); err != nil {
		return nil, err
	}
	if err := r.signersStep(); err != nil {
		return nil, err
	}
	if err := r.describeStep(); err != nil {
		return nil, err
	}
	if err := r.prepareStep(ctx); err != nil {
		return nil, err
	}
	if err := r.uploadStep(ctx); err != nil {
		return nil, err
	}
	if err := r.finalizeStep(ctx); err != nil {
		return nil, err
	}
	// From here on a release exists: whatever happens, a receipt is written.
	runsErr := r.runsStep(ctx)
	return r.receiptStep(runsErr)
}

// op is what the shared workflow steps need to know about push.
var op = workflow.Op{Name: "push", ReceiptDir: DefaultReceiptDir}

// run is one push in progress: what each step found, for the next ones.
type run struct {
	opts     Options
	steps    workflow.Steps
	stderr   io.Writer
	dir      string // the folder the push runs in (Options.ProjectDir)
	packPath string
	file     *os.File // the pack, opened once; every later step reads it
	size     int64

	env          *workflow.Env
	staged       *transfer.Staged
	cancelVerify context.CancelFunc
	session      *remote.Session
	caps         *protocol.Capabilities
	verified     *pack.Verified
	signerPolicy *workflow.SignerPolicy
	signers      []sign.Signer
	checked      []sign.Signature // the signatures that satisfied the policy

	target   protocol.TargetConfig
	packInfo protocol.PackInfo
	release  protocol.ReleaseInfo
	prep     *protocol.PushPrepareResponse
	result   *Result
	mp       multipartRun // multipart.go
}

// openPackStep resolves the folder the push runs in and opens the pack.
func openPackStep(opts Options) (*run, error) {
	r := &run{opts: opts, steps: workflow.Steps(opts.OnStep), stderr: opts.Stderr, cancelVerify: func() {}}
	if r.stderr == nil {
		r.stderr = os.Stderr
	}
	dir, err := workflow.Dir(opts.ProjectDir)
	if err != nil {
		r.steps.Start(StepConfig)
		return nil, err
	}
	r.dir, r.packPath = dir, workflow.Abs(dir, opts.PackPath)
	if r.file, r.size, err = pack.OpenRegular(r.packPath); err != nil {
		return nil, err
	}
	return r, nil
}

// close releases what the steps opened, the session first.
func (r *run) close() {
	r.session.Close()
	r.cancelVerify()
	if r.staged != nil {
		r.staged.Discard()
	}
	r.file.Close()
}

// configStep reads the remote's configuration. It runs before the pack is
// verified (milliseconds, so a typo fails at once) but is reported after.
func (r *run) configStep() error {
	env, err := workflow.Load(op, r.dir, r.opts.Remote, r.opts.Environment)
	if err != nil {
		r.steps.Start(StepConfig)
		return err
	}
	if env.Location != "" {
		r.steps.Start(StepConfig)
		return errcode.New(errcode.InvalidInput, "push needs a remote from epack.yaml, not a registry location (%s)", env.Location).
			WithHint("add the registry to epack.yaml under remotes: (run 'epack init' for a starter file)")
	}
	r.env = env
	sp, err := workflow.LoadSignerPolicy(r.opts.Remote, env.Remote, r.stderr)
	if err != nil {
		r.steps.Start(StepConfig)
		return err
	}
	r.signerPolicy = sp
	return nil
}

// signersStep checks the pack against the remote's signer policy before
// anything is sent: a strict policy refuses the push (exit 12).
func (r *run) signersStep() error {
	if r.signerPolicy == nil {
		return nil
	}
	r.steps.Start(StepSignatures)
	ok, err := r.signerPolicy.Check("the pack", r.verified.ManifestDigest, r.verified.Bundles, r.stderr)
	if err != nil {
		return err
	}
	r.signers, r.checked = sign.Signers(ok), ok
	r.steps.Done(StepSignatures)
	return nil
}

type verifyResult struct {
	v   *pack.Verified
	err error
}

// verifyAndAdapterStep verifies the pack in the background while the
// adapter is resolved, started and probed; both must succeed.
func (r *run) verifyAndAdapterStep(ctx context.Context) error {
	done := r.startVerify(ctx)
	r.steps.Start(StepVerify)
	if err := r.openAdapter(ctx); err != nil {
		r.cancelVerify()
		<-done
		r.steps.Start(StepAdapter)
		return err
	}
	if err := r.mp.decide(r); err != nil {
		r.cancelVerify()
		<-done
		return err
	}
	vr := <-done
	if vr.err != nil {
		return fmt.Errorf("pack verification failed: %w", vr.err)
	}
	if err := r.mp.collect(); err != nil {
		return err
	}
	if vr.v.File.Size != r.size {
		return errcode.New(errcode.SizeMismatch, "pack file changed while it was being verified (size %d, then %d)", r.size, vr.v.File.Size)
	}
	r.verified = vr.v
	r.steps.Done(StepVerify)
	for _, s := range []string{StepConfig, StepAdapter} {
		r.steps.Start(s)
		r.steps.Done(s)
	}
	return nil
}

// startVerify starts verification. With a file_root the upload will most
// likely be a file:// URL inside it: the verification pass then also writes
// the copy there, so the upload becomes a rename instead of a second pass.
func (r *run) startVerify(ctx context.Context) <-chan verifyResult {
	if r.env.Policy.FileRoot != "" {
		if st, err := transfer.Stage(r.env.Policy); err == nil {
			r.staged = st
		}
	}
	vctx, cancel := context.WithCancel(ctx)
	r.cancelVerify = cancel
	done := make(chan verifyResult, 1)
	staged, f := r.staged, r.file
	var stagedW io.Writer
	if staged != nil {
		stagedW = staged.Writer()
	}
	vo := r.mp.verifyOptions(vctx, r.size, stagedW)
	tee := r.mp.tee
	go func() {
		v, err := pack.VerifyFile(vctx, f, vo)
		if staged != nil && err == nil && v.CopyErr == nil && tee.stagedErr == nil {
			staged.Seal(v.File.SHA256, v.File.Size)
		}
		done <- verifyResult{v, err}
	}()
	return done
}

// openAdapter opens the session and checks what the adapter can take.
func (r *run) openAdapter(ctx context.Context) error {
	s, err := r.env.OpenSession(ctx, workflow.SessionSpec{
		Policy: execPolicy(&r.opts), Stderr: r.stderr, NoRedact: r.opts.NoRedact,
		Prompt: promptFunc(r.opts), Installer: r.opts.Installer, Steps: r.steps,
	})
	if err != nil {
		return err
	}
	r.session, r.caps = s, s.Capabilities()
	if !r.caps.Features.PrepareFinalize {
		return errcode.New(errcode.UnsupportedFeature,
			"adapter %q does not support the prepare/finalize upload protocol", r.env.Remote.AdapterName())
	}
	if r.opts.Retain != "" && !r.caps.Features.LegalHold {
		return errcode.New(errcode.UnsupportedFeature, "remote %q keeps no retention, so --retain %s cannot be honoured", r.opts.Remote, r.opts.Retain).
			WithHint("retention needs a registry with write-once storage: an S3 bucket with Object Lock and extensions.object_lock")
	}
	if limit := r.caps.Limits.MaxPack(); limit > 0 && r.size > limit {
		return errcode.New(errcode.InvalidInput,
			"pack is %d bytes but remote %q accepts at most %d bytes", r.size, r.opts.Remote, limit).
			WithHint("split the evidence into smaller packs")
	}
	return nil
}

// describeStep turns the verified pack and the remote into what the
// adapter is told: target, pack identity and release metadata.
func (r *run) describeStep() error {
	manifest, rcfg := r.verified.Manifest, r.env.Remote
	if err := names.Check(names.Stream, manifest.Stream); err != nil {
		return fmt.Errorf("the pack's stream cannot be published: %w", err)
	}
	r.target = protocol.TargetConfig{
		Workspace:   workflow.FirstNonEmpty(r.opts.Workspace, rcfg.Target.Workspace),
		Environment: rcfg.Target.Environment,
		Stream:      manifest.Stream,
	}
	r.packInfo = protocol.PackInfo{
		Path:           r.packPath,
		Digest:         manifest.PackDigest,
		ManifestDigest: strings.TrimPrefix(r.verified.ManifestDigest, "sha256:"),
		FileDigest:     r.verified.File.SHA256,
		SizeBytes:      r.size,
		Checksum:       r.verified.File.MD5Base64,
	}
	r.release = protocol.ReleaseInfo{
		Labels: mergeLabels(rcfg.Release.Labels, r.opts.Labels),
		Notes:  workflow.FirstNonEmpty(r.opts.Notes, rcfg.Release.Notes),
		Retain: r.opts.Retain,
		// Who signed the pack, identities only (signers.go).
		Signers: releaseSigners(r.verified.Attestations, r.verified.Bundles, r.checked),
	}
	if src := rcfg.Release.Source; src != nil {
		var o buildcontext.Overrides
		if src.Git != nil {
			o.ShaEnv = src.Git.ShaEnv
		}
		if src.CI != nil {
			o.RunURLEnv = src.CI.RunURLEnv
		}
		r.release.BuildContext = buildcontext.Collect(r.opts.getenv(), o)
	}
	r.result = &Result{Target: r.target, PackDigest: manifest.PackDigest, FileDigest: r.verified.File.SHA256, SizeBytes: r.size, Signers: r.signers}
	return nil
}

// prepareStep asks the adapter where to upload.
func (r *run) prepareStep(ctx context.Context) error {
	r.mp.buildOffer(r)
	r.steps.Start(StepPrepare)
	prep, err := r.prepare(ctx)
	if err != nil {
		return err
	}
	r.prep = prep
	r.steps.Done(StepPrepare)
	return nil
}

func (r *run) prepare(ctx context.Context) (*protocol.PushPrepareResponse, error) {
	return workflow.Call(ctx, protocol.CmdPushPrepare, func(ctx context.Context) (*protocol.PushPrepareResponse, error) {
		return r.session.PushPrepare(ctx, &protocol.PushPrepareRequest{
			Remote: r.opts.Remote, Target: r.target, Pack: r.packInfo, Release: r.release,
			Multipart: r.mp.offer,
		})
	})
}

// uploadStep sends the bytes, unless the registry already has them. An
// expired upload URL is replaced by a fresh push.prepare.
func (r *run) uploadStep(ctx context.Context) error {
	if r.prep.Upload.Method == protocol.MethodSkip {
		r.result.UploadSkipped = true
		return nil
	}
	r.steps.Start(StepUpload)
	client := r.opts.Transfer
	if client == nil {
		client = transfer.NewClient()
	}
	upload := func() error {
		if r.prep.Upload.Method == protocol.MethodMultipart {
			return r.mp.upload(ctx, r, client)
		}
		return client.Upload(ctx, transfer.UploadRequest{
			Target:   workflow.Target(r.prep.Upload),
			Policy:   r.env.Policy,
			Body:     r.file,
			Size:     r.size,
			SHA256:   r.verified.File.SHA256,
			Progress: r.opts.OnUploadProgress,
			Staged:   r.staged,
		})
	}
	reprepare := func() (bool, error) {
		prep, err := r.prepare(ctx)
		if err != nil {
			return false, err
		}
		r.prep = prep
		r.result.UploadSkipped = prep.Upload.Method == protocol.MethodSkip
		return r.result.UploadSkipped, nil
	}
	t := workflow.Transfer{Env: r.env, Session: r.session, Operation: "upload", Warn: r.stderr}
	if err := t.Run(upload, reprepare); err != nil {
		return err
	}
	if r.prep.Upload.Method != protocol.MethodMultipart && !r.result.UploadSkipped {
		r.result.BytesSent = r.size
	}
	r.steps.Done(StepUpload)
	return nil
}

// finalizeStep asks the adapter to create the release.
func (r *run) finalizeStep(ctx context.Context) error {
	r.steps.Start(StepFinalize)
	fin, err := workflow.Call(ctx, protocol.CmdPushFinalize, func(ctx context.Context) (*protocol.PushFinalizeResponse, error) {
		return r.session.PushFinalize(ctx, &protocol.PushFinalizeRequest{
			Remote:        r.opts.Remote,
			Target:        r.target,
			Pack:          protocol.PackInfo{Path: r.packPath, Digest: r.packInfo.Digest, SizeBytes: r.size},
			FinalizeToken: r.prep.FinalizeToken,
		})
	})
	if err != nil {
		return err
	}
	r.mp.done()
	r.steps.Done(StepFinalize)
	rel := fin.Release
	r.result.Release = &rel
	r.result.Retention = rel.Retention
	if by, _ := fin.Extensions["uploaded_by_adapter"].(bool); by && r.result.UploadSkipped {
		r.result.UploadedByAdapter = true
	}
	if len(fin.Links) > 0 {
		r.result.Links = fin.Links
	}
	return nil
}

// runsStep syncs run results unless disabled; its error is kept for the
// receipt and decided on after it.
func (r *run) runsStep(ctx context.Context) error {
	rcfg := r.env.Remote
	if r.opts.NoRuns || !rcfg.RunsSyncEnabled() {
		return nil
	}
	return runSyncStep(ctx, r.session, syncInput{
		packPath: r.packPath, cwd: r.dir, fileDigest: r.verified.File.SHA256, target: r.target,
		patterns: rcfg.Runs.Paths, extra: r.opts.RunsPaths, maxBatch: r.caps.Limits.MaxRunsPerSync,
	}, r.result, r.steps, r.stderr)
}

// receiptStep writes the receipt (recording a run sync failure), then
// decides whether that failure fails the push.
func (r *run) receiptStep(runsErr error) (*Result, error) {
	res := r.result
	receipt := NewReceipt(r.opts.Remote, r.target, r.packPath, r.packInfo.Digest, r.size, res.Release, res.Links, res.SyncedRuns, res.FailedRuns)
	receipt.Pack.FileDigest = r.verified.File.SHA256
	receipt.Pack.Signers = r.signers
	if res.RunsError != nil {
		receipt.Runs.Error = res.RunsError.Error()
	}
	receipt.Runs.Skipped = res.RunsSkipped
	writer := ReceiptWriter{BaseDir: filepath.Join(r.env.Root, DefaultReceiptDir), ProjectRoot: r.env.Root}
	path, err := writer.Write(receipt)
	res.ReceiptPath = path
	if err != nil {
		return res, workflow.ReceiptFailed(err, writer.BaseDir, fmt.Sprintf("release %s was created", res.Release.ReleaseID))
	}
	if runsErr != nil && r.env.Remote.Runs.RequireSuccess {
		return res, fmt.Errorf("run sync failed (require_success=true): %w", runsErr)
	}
	if runsErr != nil {
		fmt.Fprintf(r.stderr, "Warning: run sync failed: %v\n", runsErr)
	}
	return res, nil
}

// checkOptions validates options and the execution policy before any work.
func checkOptions(opts *Options) error {
	if strings.TrimSpace(opts.Remote) == "" {
		return errcode.New(errcode.InvalidInput, "remote is required").WithHint("name a remote from epack.yaml, e.g. 'epack push local pack.epack'")
	}
	if _, err := execPolicy(opts).Check(nil); err != nil {
		return err
	}
	if strings.TrimSpace(opts.PackPath) == "" {
		return errcode.New(errcode.InvalidInput, "pack path is required")
	}
	return workflow.CheckNames(opts.Workspace, opts.Environment)
}

// execPolicy is the adapter execution policy the options ask for.
func execPolicy(opts *Options) remote.Policy {
	return remote.Policy{Frozen: opts.Secure.Frozen, AllowUnpinned: opts.Unsafe.AllowUnpinned, StrictProduction: opts.Secure.StrictProduction, Component: "push"}
}

func promptFunc(opts Options) func(string, string) bool {
	if opts.NonInteractive || opts.PromptInstallAdapter == nil {
		return nil
	}
	return opts.PromptInstallAdapter
}

// mergeLabels returns config labels then CLI labels, dropping blanks and repeats.
func mergeLabels(lists ...[]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			s = strings.TrimSpace(s)
			if s == "" || seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
