package pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidencerelay/epack/config"
	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/flow"
	"github.com/evidencerelay/epack/internal/names"
	"github.com/evidencerelay/epack/internal/safefile"
	"github.com/evidencerelay/epack/internal/sourceinstall"
	"github.com/evidencerelay/epack/pack"
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
	step := func(name string, started bool) {
		if opts.OnStep != nil {
			opts.OnStep(name, started)
		}
	}
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	verify := opts.Verify == nil || *opts.Verify
	cwd, err := os.Getwd()
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "finding the current directory")
	}
	// An explicit output is checked before anything remote happens.
	if opts.Output != "" {
		out, err := filepath.Abs(opts.Output)
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "output path %q", opts.Output)
		}
		if err := checkOutput(out, opts.Force); err != nil {
			return nil, err
		}
	}

	step(StepConfig, true)
	project, err := config.LoadProject(cwd)
	if err != nil {
		return nil, err
	}
	rcfg, err := project.Config.ResolveRemote(opts.Remote, opts.Environment)
	if err != nil {
		return nil, err
	}
	// Names and folders are checked before the adapter runs: a workspace or
	// environment the registries refuse, or a symbolic link on a folder
	// between the project root and the registry (file_root inside the
	// project) or the receipts folder, stops the pull here.
	if err := names.CheckOptional(names.Workspace, rcfg.Target.Workspace); err != nil {
		return nil, fmt.Errorf("remote %q target.workspace: %w", opts.Remote, err)
	}
	if err := names.CheckOptional(names.Environment, rcfg.Target.Environment); err != nil {
		return nil, fmt.Errorf("remote %q target.environment: %w", opts.Remote, err)
	}
	if err := safefile.CheckBelow(project.Root, rcfg.Transport.FileRoot, filepath.Join(project.Root, DefaultReceiptDir, opts.Remote)); err != nil {
		return nil, fmt.Errorf("refusing to pull through a linked folder in the project: %w", err)
	}
	step(StepConfig, false)

	step(StepAdapter, true)
	lock, err := config.LoadLock(project.Root)
	if err != nil {
		return nil, err
	}
	var prompt func(string, string) bool
	if !opts.NonInteractive {
		prompt = opts.PromptInstallAdapter
	}
	session, err := remote.Open(ctx, remote.SessionOptions{
		ProjectRoot: project.Root,
		Remote:      rcfg,
		Lock:        lock,
		Policy:      execPolicy(&opts),
		Stderr:      stderr,
		Prompt:      prompt,
		Install: flow.ReportInstall(sourceinstall.Installer(project.Root, lock, sourceinstall.Options{
			Stderr: stderr, Frozen: opts.Secure.Frozen, Component: "pull"}), opts.OnStep),
	})
	if err != nil {
		return nil, err
	}
	defer session.Close()
	if !session.Capabilities().Features.Pull {
		return nil, errcode.New(errcode.UnsupportedFeature, "adapter %q does not support pull operations", rcfg.AdapterName())
	}
	step(StepAdapter, false)

	target := protocol.TargetConfig{
		Workspace:   flow.FirstNonEmpty(opts.Workspace, rcfg.Target.Workspace),
		Environment: rcfg.Target.Environment,
	}
	ref := protocol.PullRef{Digest: opts.Ref.Digest, ReleaseID: opts.Ref.ReleaseID, Version: opts.Ref.Version, Latest: opts.Ref.Latest}
	if ref == (protocol.PullRef{}) {
		ref.Latest = true
	}
	prepare := func() (*protocol.PullPrepareResponse, error) {
		var resp *protocol.PullPrepareResponse
		err := transfer.Retry(ctx, flow.AdapterRetry, func(int) error {
			var err error
			resp, err = session.PullPrepare(ctx, &protocol.PullPrepareRequest{Remote: opts.Remote, Target: target, Ref: ref})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("pull.prepare failed: %w", err)
		}
		if err := checkAnnounced(resp, ref); err != nil {
			return nil, err
		}
		note, err := checkAnswer(resp.Pack, ref)
		if err != nil {
			return nil, err
		}
		if note != "" {
			fmt.Fprintf(stderr, "Note: %s; the pack is accepted by its file digest and manifest checks.\n", note)
		}
		return resp, nil
	}
	step(StepPrepare, true)
	prep, err := prepare()
	if err != nil {
		return nil, err
	}
	step(StepPrepare, false)

	output := opts.Output
	if output == "" {
		output = filepath.Join(cwd, SanitizeStream(prep.Pack.Stream)+".epack")
	}
	output, err = filepath.Abs(output)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "output path")
	}
	if err := checkOutput(output, opts.Force); err != nil {
		return nil, err
	}

	step(StepDownload, true)
	tmp, err := safefile.CreateTempIn(filepath.Dir(output), ".epack-pull-*.tmp")
	if err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "creating a temporary file beside %s", output).
			WithHint("make sure the folder %s exists and is writable", filepath.Dir(output))
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	client := transfer.NewClient()
	policy := transfer.Policy{FileRoot: rcfg.Transport.FileRoot, ProjectRoot: project.Root, AllowLoopbackHTTP: rcfg.Transport.AllowLoopbackHTTP}
	var got transfer.DownloadResult
	for attempt := 0; ; attempt++ {
		if err := resetFile(tmp); err != nil {
			return nil, err
		}
		got, err = client.Download(ctx, transfer.DownloadRequest{
			Target:       flow.Target(prep.Download),
			Policy:       policy,
			Dest:         tmp,
			ExpectedSize: prep.Pack.SizeBytes,
			Progress:     opts.OnDownloadProgress,
		})
		if err == nil || !errcode.Has(err, errcode.URLExpired) || attempt >= flow.MaxReprepare {
			break
		}
		digest := prep.Pack.Digest
		if prep, err = prepare(); err != nil {
			return nil, err
		}
		if prep.Pack.Digest != digest {
			return nil, errcode.New(errcode.DigestMismatch, "the remote now announces a different pack (%s, was %s)", prep.Pack.Digest, digest)
		}
	}
	if err != nil {
		// Transfer errors can quote the adapter's URL; secrets go first.
		err = session.RedactError(err)
		flow.AuditBlockedURL(project.Root, opts.Remote, "download", err)
		return nil, fmt.Errorf("download failed: %w", err)
	}
	if got.Size != prep.Pack.SizeBytes {
		return nil, errcode.New(errcode.SizeMismatch, "size mismatch: the remote announced %d bytes, received %d", prep.Pack.SizeBytes, got.Size)
	}
	if got.SHA256 != prep.Pack.Digest {
		return nil, errcode.New(errcode.DigestMismatch, "digest mismatch: expected %s, got %s", prep.Pack.Digest, got.SHA256)
	}
	step(StepDownload, false)

	// The manifest is read even without verification: its stream must be
	// the one the remote answered, before anything is moved into place.
	verified := false
	if verify {
		step(StepVerify, true)
	}
	stream, err := readStream(ctx, tmp, verify)
	if err != nil {
		return nil, err
	}
	if err := checkManifestStream(stream, prep.Pack.Stream); err != nil {
		return nil, err
	}
	if verify {
		verified = true
		step(StepVerify, false)
	}

	// Pulled packs are ordinary files (the temp file was private while incomplete).
	if err := tmp.Chmod(0o644); err != nil {
		return nil, errcode.Wrap(errcode.IOError, err, "setting permissions on %s", tmp.Name())
	}
	if err := safefile.Commit(tmp, output, opts.Force); err != nil {
		return nil, fmt.Errorf("saving %s: %w", output, err)
	}
	committed = true
	tmp.Close()

	res := &Result{
		OutputPath: output, Digest: prep.Pack.Digest, SizeBytes: got.Size, Stream: stream,
		ReleaseID: prep.Pack.ReleaseID, Version: prep.Pack.Version, Labels: prep.Pack.Labels,
		CreatedAt: prep.Pack.CreatedAt, Verified: verified, Target: target,
	}

	step(StepFinalize, true)
	_, ferr := session.PullFinalize(ctx, &protocol.PullFinalizeRequest{
		Remote: opts.Remote, Target: target, Digest: prep.Pack.Digest, FinalizeToken: prep.FinalizeToken,
	})
	if ferr != nil {
		res.FinalizeWarning = ferr.Error()
		fmt.Fprintf(stderr, "Warning: pull.finalize failed: %v\n", ferr)
	} else {
		step(StepFinalize, false)
	}

	receipt := NewReceipt(opts.Remote, target, output, prep.Pack, verified)
	w := ReceiptWriter{BaseDir: filepath.Join(project.Root, DefaultReceiptDir)}
	path, werr := w.Write(receipt)
	res.ReceiptPath = path
	if werr != nil {
		return res, errcode.Wrap(errcode.IOError, werr, "the pack was saved to %s but its receipt could not be written", output)
	}
	return res, nil
}

// execPolicy is the adapter execution policy the options ask for.
func execPolicy(opts *Options) remote.Policy {
	return remote.Policy{Frozen: opts.Secure.Frozen, AllowUnpinned: opts.Unsafe.AllowUnpinned, Component: "pull"}
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
