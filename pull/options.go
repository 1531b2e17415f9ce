package pull

import (
	"context"
	"io"
	"time"

	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
	"github.com/evidencerelay/epack/transfer"
)

// Ref selects which pack to pull. Set at most one field; none means latest.
type Ref struct {
	// Digest is the pack FILE digest, "sha256:<hex>".
	Digest string
	// ReleaseID is a release id such as "rel_…".
	ReleaseID string
	// Version is a release version label such as "v1.2.0".
	Version string
	// Latest selects the newest release of the target stream.
	Latest bool
}

// String renders the ref the way the CLI shows it.
func (r Ref) String() string {
	switch {
	case r.Digest != "":
		return "digest: " + r.Digest
	case r.ReleaseID != "":
		return "release: " + r.ReleaseID
	case r.Version != "":
		return "version: " + r.Version
	}
	return "latest"
}

// Options configures a pull operation.
type Options struct {
	// Secure defaults.
	Secure struct {
		// Frozen refuses any adapter that is not pinned and verified.
		Frozen bool
		// StrictProduction forbids the insecure overrides (Unsafe.AllowUnpinned,
		// a custom endpoint on the remote): see remote.Policy. The epack CLI
		// sets it from EPACK_STRICT_PRODUCTION; this package reads no
		// environment for it.
		StrictProduction bool
	}

	// Explicit insecure overrides.
	Unsafe struct {
		// AllowUnpinned runs an adapter that has no digest in epack.lock.yaml.
		// The epack CLI also sets it from EPACK_INSECURE_ALLOW_UNPINNED; this
		// package reads no environment for it.
		AllowUnpinned bool
	}

	// Remote is the name of the remote to pull from (required).
	Remote string

	// Environment applies environments.<env> overrides from epack.yaml (optional).
	Environment string

	// Workspace overrides the source workspace (optional).
	Workspace string

	// Ref selects the pack; the zero value means latest.
	Ref Ref
	// NoReceipt skips the pull receipt: for a pack fetched into a
	// temporary file only to be read (epack diff), which the receipt would
	// name after it is gone.
	NoReceipt bool
	// Stream, when set, restricts the lookup to that stream (sent as
	// target.stream): latest then means the newest pack of the stream, and
	// a version is looked up among the stream's releases. Empty means the
	// registry's whole workspace and environment.
	Stream string

	// Output is the destination path, relative to ProjectDir. Empty means
	// <ProjectDir>/<sanitised stream>.epack.
	Output string

	// Force replaces an existing output file (only after the new pack is verified).
	Force bool

	// Verify runs full pack verification after download. nil means true.
	// The file digest announced by the adapter is always checked.
	Verify *bool

	// NonInteractive disables interactive prompts.
	NonInteractive bool

	// Stderr is where adapter stderr output is written. If nil, os.Stderr is used.
	Stderr io.Writer

	// OnStep is called when each step starts (true) or completes (false).
	// A failing step gets no completion call.
	OnStep func(step string, started bool)

	// OnDownloadProgress is called periodically with bytes received and total.
	OnDownloadProgress func(received, total int64)

	// PromptInstallAdapter is called when the adapter is pinned but not
	// installed; returning true installs it. If nil, an error is returned.
	PromptInstallAdapter func(remoteName, adapterName string) bool

	// ProjectDir is the folder the pull runs in, as if it were the working
	// directory: epack.yaml is looked for there and in its parents, and a
	// relative or empty Output is taken relative to it. Empty means the
	// process's working directory.
	ProjectDir string

	// NoRedact shows the remote's secrets in adapter stderr instead of
	// replacing them (the CLI's --no-redact and EPACK_NO_REDACT). Pull never
	// reads the environment for it. For debugging an adapter only.
	NoRedact bool

	// Transfer downloads the pack from the adapter's URL. nil means a new
	// transfer.NewClient() for this pull.
	Transfer *transfer.Client

	// Parallel is how many ranges of a large pack are downloaded at once
	// from an http(s) URL whose server answers range requests (0:
	// transfer.DefaultParallel; 1: one stream). Every byte is hashed
	// before the pack is renamed into place either way.
	Parallel int

	// Installer installs an adapter that epack.lock.yaml pins but that is
	// not installed yet, once PromptInstallAdapter agreed. nil means the
	// installer 'epack sync' uses (the source's GitHub releases, checked
	// against the pinned digest and its Sigstore signature).
	Installer func(ctx context.Context, adapter *remote.Resolved) error
}

// Result describes a completed pull.
type Result struct {
	OutputPath  string
	Digest      string // file digest, "sha256:<hex>"
	SizeBytes   int64
	Stream      string
	ReleaseID   string
	Version     string
	Labels      []string
	CreatedAt   time.Time
	Verified    bool
	Target      protocol.TargetConfig
	ReceiptPath string
	// FinalizeWarning is the pull.finalize failure, if any: the pack is in
	// place and verified regardless. errcode.Has and errors.As work on it.
	FinalizeWarning error
	// Signers are the signatures that satisfied the remote's signer policy
	// (verify.signers); empty when the remote has none.
	Signers []sign.Signer
	// PackDigest is the pulled manifest's pack_digest ("sha256:<hex>"),
	// checked against the artifacts when Verified.
	PackDigest string
	// Retention is how long the registry keeps the release, as its
	// pull.prepare answer said (nil when it keeps none or did not say).
	Retention *protocol.Retention
}

// Step names reported through Options.OnStep.
const (
	StepConfig   = "Loading remote configuration"
	StepAdapter  = "Resolving adapter"
	StepPrepare  = "Preparing download"
	StepDownload = "Downloading pack"
	StepVerify   = "Verifying pack integrity"
	StepFinalize = "Finalizing download"
	// StepSignatures runs only when the remote has a signer policy.
	StepSignatures = "Checking signatures"
)
