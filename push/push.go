package push

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/buildcontext"
	"github.com/evidencerelay/epack/internal/flow"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/pack"
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
	steps := stepper{cb: opts.OnStep}
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	packPath, err := filepath.Abs(opts.PackPath)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "pack path %q", opts.PackPath)
	}
	f, size, err := pack.OpenRegular(packPath) // everything later reads this one descriptor
	if err != nil {
		return nil, err
	}
	defer f.Close()

	// The remote's configuration is read first (milliseconds, so a typo
	// fails at once); then verification runs in the background while the
	// adapter is resolved and started.
	cwd, err := os.Getwd()
	if err != nil {
		steps.start(StepConfig)
		return nil, errcode.Wrap(errcode.IOError, err, "finding the current directory")
	}
	project, err := config.LoadProject(cwd)
	if err != nil {
		steps.start(StepConfig)
		return nil, err
	}
	rcfg, err := project.Config.ResolveRemote(opts.Remote, opts.Environment)
	if err != nil {
		steps.start(StepConfig)
		return nil, err
	}
	// Names and folders are checked before anything runs or is sent: a
	// workspace or environment the registries refuse, or a symbolic link on
	// a folder between the project root and the registry (file_root inside
	// the project) or the receipts folder, stops the push here.
	if err := names.CheckOptional(names.Workspace, rcfg.Target.Workspace); err != nil {
		steps.start(StepConfig)
		return nil, fmt.Errorf("remote %q target.workspace: %w", opts.Remote, err)
	}
	if err := names.CheckOptional(names.Environment, rcfg.Target.Environment); err != nil {
		steps.start(StepConfig)
		return nil, fmt.Errorf("remote %q target.environment: %w", opts.Remote, err)
	}
	if err := safefile.CheckBelow(project.Root, rcfg.Transport.FileRoot, filepath.Join(project.Root, DefaultReceiptDir, opts.Remote)); err != nil {
		steps.start(StepConfig)
		return nil, fmt.Errorf("refusing to push through a linked folder in the project: %w", err)
	}
	policy := transfer.Policy{FileRoot: rcfg.Transport.FileRoot, ProjectRoot: project.Root, AllowLoopbackHTTP: rcfg.Transport.AllowLoopbackHTTP}

	// With a file_root the upload will most likely be a file:// URL inside
	// it: the verification pass then also writes the copy there, so the
	// upload becomes a rename instead of a second pass over the pack.
	var staged *transfer.Staged
	if policy.FileRoot != "" {
		if st, err := transfer.Stage(policy); err == nil {
			staged = st
			defer staged.Discard()
		}
	}
	vctx, cancelVerify := context.WithCancel(ctx)
	defer cancelVerify()
	type verifyResult struct {
		v   *pack.Verified
		err error
	}
	verifyDone := make(chan verifyResult, 1)
	go func() {
		var v *pack.Verified
		var err error
		if staged != nil {
			v, err = pack.VerifyFileCopy(vctx, f, staged.Writer())
			if err == nil && v.CopyErr == nil {
				staged.Seal(v.File.SHA256, v.File.Size)
			}
		} else {
			v, err = pack.VerifyFile(vctx, f)
		}
		verifyDone <- verifyResult{v, err}
	}()
	steps.start(StepVerify)

	abort := func(step string, err error) (*Result, error) {
		cancelVerify()
		<-verifyDone
		steps.start(step)
		return nil, err
	}

	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return abort(StepAdapter, err)
	}
	session, err := remote.Open(ctx, remote.SessionOptions{
		ProjectRoot: project.Root,
		Remote:      rcfg,
		Lock:        lock,
		Policy:      execPolicy(&opts),
		Stderr:      stderr,
		Prompt:      promptFunc(opts),
		Install: flow.ReportInstall(sourceinstall.Installer(project.Root, lock, sourceinstall.Options{
			Stderr: stderr, Frozen: opts.Secure.Frozen, Component: "push"}), steps.cb),
	})
	if err != nil {
		return abort(StepAdapter, err)
	}
	defer session.Close()
	caps := session.Capabilities()
	if !caps.Features.PrepareFinalize {
		return abort(StepAdapter, errcode.New(errcode.UnsupportedFeature,
			"adapter %q does not support the prepare/finalize upload protocol", rcfg.AdapterName()))
	}
	if limit := caps.Limits.MaxPack(); limit > 0 && size > limit {
		return abort(StepAdapter, errcode.New(errcode.InvalidInput,
			"pack is %d bytes but remote %q accepts at most %d bytes", size, opts.Remote, limit).
			WithHint("split the evidence into smaller packs"))
	}

	vr := <-verifyDone
	if vr.err != nil {
		return nil, fmt.Errorf("pack verification failed: %w", vr.err)
	}
	verified := vr.v
	if verified.File.Size != size {
		return nil, errcode.New(errcode.SizeMismatch, "pack file changed while it was being verified (size %d, then %d)", size, verified.File.Size)
	}
	steps.done(StepVerify)
	steps.start(StepConfig)
	steps.done(StepConfig)
	steps.start(StepAdapter)
	steps.done(StepAdapter)

	manifest := verified.Manifest
	if err := names.Check(names.Stream, manifest.Stream); err != nil {
		return nil, fmt.Errorf("the pack's stream cannot be published: %w", err)
	}
	target := protocol.TargetConfig{
		Workspace:   flow.FirstNonEmpty(opts.Workspace, rcfg.Target.Workspace),
		Environment: rcfg.Target.Environment,
		Stream:      manifest.Stream,
	}
	packInfo := protocol.PackInfo{
		Path:           packPath,
		Digest:         manifest.PackDigest,
		ManifestDigest: strings.TrimPrefix(verified.ManifestDigest, "sha256:"),
		FileDigest:     verified.File.SHA256,
		SizeBytes:      size,
		Checksum:       verified.File.MD5Base64,
	}
	release := protocol.ReleaseInfo{
		Labels: mergeLabels(rcfg.Release.Labels, opts.Labels),
		Notes:  flow.FirstNonEmpty(opts.Notes, rcfg.Release.Notes),
	}
	if src := rcfg.Release.Source; src != nil {
		var o buildcontext.Overrides
		if src.Git != nil {
			o.ShaEnv = src.Git.ShaEnv
		}
		if src.CI != nil {
			o.RunURLEnv = src.CI.RunURLEnv
		}
		release.BuildContext = buildcontext.Collect(os.Getenv, o)
	}

	result := &Result{Target: target, PackDigest: manifest.PackDigest, FileDigest: verified.File.SHA256, SizeBytes: size}
	client := transfer.NewClient()

	prepare := func() (*protocol.PushPrepareResponse, error) {
		var resp *protocol.PushPrepareResponse
		err := transfer.Retry(ctx, flow.AdapterRetry, func(int) error {
			var err error
			resp, err = session.PushPrepare(ctx, &protocol.PushPrepareRequest{
				Remote: opts.Remote, Target: target, Pack: packInfo, Release: release,
			})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("push.prepare failed: %w", err)
		}
		return resp, nil
	}

	steps.start(StepPrepare)
	prep, err := prepare()
	if err != nil {
		return nil, err
	}
	steps.done(StepPrepare)

	if prep.Upload.Method == protocol.MethodSkip {
		result.UploadSkipped = true
	} else {
		steps.start(StepUpload)
		for attempt := 0; ; attempt++ {
			err = client.Upload(ctx, transfer.UploadRequest{
				Target:   flow.Target(prep.Upload),
				Policy:   policy,
				Body:     f,
				Size:     size,
				SHA256:   verified.File.SHA256,
				Progress: opts.OnUploadProgress,
				Staged:   staged,
			})
			if err == nil || !errcode.Has(err, errcode.URLExpired) || attempt >= flow.MaxReprepare {
				break
			}
			// The upload URL expired: ask the adapter for a fresh one.
			if prep, err = prepare(); err != nil {
				return nil, err
			}
			if prep.Upload.Method == protocol.MethodSkip {
				result.UploadSkipped = true
				break
			}
		}
		if err != nil {
			// Transfer errors can quote the adapter's URL; secrets go first.
			err = session.RedactError(err)
			flow.AuditBlockedURL(project.Root, opts.Remote, "upload", err)
			return nil, fmt.Errorf("upload failed: %w", err)
		}
		steps.done(StepUpload)
	}

	steps.start(StepFinalize)
	var fin *protocol.PushFinalizeResponse
	err = transfer.Retry(ctx, flow.AdapterRetry, func(int) error {
		var err error
		fin, err = session.PushFinalize(ctx, &protocol.PushFinalizeRequest{
			Remote:        opts.Remote,
			Target:        target,
			Pack:          protocol.PackInfo{Path: packPath, Digest: manifest.PackDigest, SizeBytes: size},
			FinalizeToken: prep.FinalizeToken,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("push.finalize failed: %w", err)
	}
	steps.done(StepFinalize)
	rel := fin.Release
	result.Release = &rel
	if len(fin.Links) > 0 {
		result.Links = fin.Links
	}

	// From here on a release exists: whatever happens, a receipt is written.
	var runsErr error
	if !opts.NoRuns && rcfg.RunsSyncEnabled() {
		runsErr = runSyncStep(ctx, session, syncInput{
			packPath: packPath, cwd: cwd, fileDigest: verified.File.SHA256, target: target,
			patterns: rcfg.Runs.Paths, extra: opts.RunsPaths, maxBatch: caps.Limits.MaxRunsPerSync,
		}, result, steps, stderr)
	}

	receipt := NewReceipt(opts.Remote, target, packPath, manifest.PackDigest, size, result.Release, result.Links, result.SyncedRuns, result.FailedRuns)
	receipt.Pack.FileDigest = verified.File.SHA256
	receipt.Runs.Error = result.RunsError
	receipt.Runs.Skipped = result.RunsSkipped
	writer := ReceiptWriter{BaseDir: filepath.Join(project.Root, DefaultReceiptDir)}
	path, werr := writer.Write(receipt)
	result.ReceiptPath = path
	if werr != nil {
		e := errcode.Wrap(errcode.IOError, werr,
			"release %s was created but its receipt could not be written", rel.ReleaseID)
		if errcode.HintOf(werr) == "" { // keep a precise hint (a symbolic link, say)
			e = e.WithHint("check permissions and free space under %s", writer.BaseDir)
		}
		return result, e
	}
	if runsErr != nil && rcfg.Runs.RequireSuccess {
		return result, fmt.Errorf("run sync failed (require_success=true): %w", runsErr)
	}
	if runsErr != nil {
		fmt.Fprintf(stderr, "Warning: run sync failed: %v\n", runsErr)
	}
	return result, nil
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
	// A workspace or environment given explicitly must be a real name: a
	// blank one used to fall back to the configured one without a word.
	if err := names.CheckOptional(names.Workspace, opts.Workspace); err != nil {
		return fmt.Errorf("workspace option: %w", err)
	}
	if err := names.CheckOptional(names.Environment, opts.Environment); err != nil {
		return fmt.Errorf("environment option: %w", err)
	}
	return nil
}

// execPolicy is the adapter execution policy the options ask for.
func execPolicy(opts *Options) remote.Policy {
	return remote.Policy{Frozen: opts.Secure.Frozen, AllowUnpinned: opts.Unsafe.AllowUnpinned, Component: "push"}
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

// stepper reports step starts and successful completions.
type stepper struct{ cb StepCallback }

func (s stepper) start(name string) {
	if s.cb != nil {
		s.cb(name, true)
	}
}

func (s stepper) done(name string) {
	if s.cb != nil {
		s.cb(name, false)
	}
}
