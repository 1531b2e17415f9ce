package push

import (
	"context"
	"io"
	"os"

	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/remote"
	"github.com/evidencerelay/epack/transfer"
)

// Options configures a push operation.
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

	// Remote is the name of the remote to push to (required).
	Remote string

	// PackPath is the path to the pack file (required).
	PackPath string

	// Environment is the environment override (optional).
	// Applies configuration from environments.<env> section.
	Environment string

	// Workspace overrides the target workspace (optional).
	Workspace string

	// Labels are release labels to apply (optional).
	Labels []string

	// Notes are release notes (optional).
	Notes string

	// Retain asks a registry with write-once storage to keep the release at
	// least this long ("10y", "90d", "36h"; optional). It lengthens the
	// registry's own retention, never shortens it; a registry without
	// write-once storage (features.legal_hold) refuses the push.
	Retain string

	// RunsPaths are additional paths to search for run results (optional).
	// Relative paths are taken relative to ProjectDir.
	RunsPaths []string

	// NoRuns disables automatic run syncing.
	NoRuns bool

	// NonInteractive disables interactive prompts.
	NonInteractive bool

	// Stderr is where adapter stderr output is written.
	// If nil, os.Stderr is used.
	Stderr io.Writer

	// OnStep is called when each step of the push workflow starts/completes.
	// Optional; if nil, no callbacks are made.
	OnStep StepCallback

	// OnUploadProgress is called periodically during upload.
	// Optional; if nil, no progress is reported.
	OnUploadProgress UploadProgressCallback

	// PromptInstallAdapter is called when the adapter is not installed.
	// If it returns true, the adapter will be installed automatically.
	// If nil, no prompt is shown and an error is returned instead.
	PromptInstallAdapter func(remoteName, adapterName string) bool

	// ProjectDir is the folder the push runs in, as if it were the working
	// directory: epack.yaml is looked for there and in its parents, and a
	// relative PackPath or RunsPaths entry is taken relative to it. Empty
	// means the process's working directory; a program serving several
	// projects sets it instead of changing directory.
	ProjectDir string

	// NoRedact shows the remote's secrets in adapter stderr instead of
	// replacing them (the CLI's --no-redact and EPACK_NO_REDACT). Push never
	// reads the environment for it. For debugging an adapter only.
	NoRedact bool

	// Transfer moves the pack bytes to the adapter's upload URL. nil means a
	// new transfer.NewClient() for this push; set it to share connections
	// between pushes or to tune retries and timeouts.
	Transfer *transfer.Client

	// Parallel is how many parts of a multipart upload are sent at once
	// (0: transfer.DefaultParallel). It only matters for adapters that take
	// multipart uploads (features.multipart_upload).
	Parallel int

	// PartSize is the part size of a multipart upload (0: the default,
	// transfer.DefaultPartSize, adjusted to the adapter's limits).
	PartSize int64

	// Getenv looks up the variables of the release's build context (the
	// git sha, the CI run URL, and the variables epack.yaml's
	// release.source.git.sha_env / ci.run_url_env names). nil means
	// os.Getenv; a program serving several builds passes each one's own
	// environment.
	Getenv func(string) string

	// Installer installs an adapter that epack.lock.yaml pins but that is
	// not installed yet, once PromptInstallAdapter agreed. nil means the
	// installer 'epack sync' uses (the source's GitHub releases, checked
	// against the pinned digest and its Sigstore signature).
	Installer func(ctx context.Context, adapter *remote.Resolved) error
}

// StepCallback is called when a push step starts or completes. step is the
// step name, started indicates whether the step is starting (true) or done
// (false). A step that fails gets no "done" call; the error returned by Push
// belongs to the last step that started.
type StepCallback func(step string, started bool)

// UploadProgressCallback is called periodically during upload with bytes
// written and total.
type UploadProgressCallback func(written, total int64)

// Result contains the result of a push operation.
type Result struct {
	// Release contains the release information from the remote.
	Release *protocol.ReleaseResult

	// Links contains URLs returned by the remote.
	Links map[string]string

	// SyncedRuns lists run IDs that were successfully synced.
	SyncedRuns []string

	// FailedRuns lists run IDs that failed to sync.
	FailedRuns []string

	// FailedOutputs lists run outputs the remote could not store.
	FailedOutputs []protocol.FailedOutput

	// RunsError is the run sync failure, if any (the release exists
	// regardless); errcode.Has and errors.As work on it. The receipt stores
	// its text.
	RunsError error

	// RunsSkipped says why run results were found but not sent: the adapter
	// does not support run sync (its capabilities leave runs_sync out, or it
	// answered runs.sync with unsupported_protocol, as adapters built with the
	// existing tool's SDK do). A skip is not a failure, even with
	// runs.require_success. Empty when results were sent or there were none.
	RunsSkipped string

	// UploadSkipped is true when the registry already had the pack bytes.
	UploadSkipped bool

	// UploadedByAdapter is true when the host sent no bytes because the
	// adapter stored them itself (an OCI registry that needs a credential
	// the host must not hold); UploadSkipped is true as well.
	UploadedByAdapter bool

	// BytesSent is how many pack bytes this push sent to the store;
	// BytesResumed how many an interrupted push of the same pack had sent
	// already (the parts of a multipart upload the store held), which this
	// one did not send again.
	BytesSent    int64
	BytesResumed int64

	// Signers are the signatures that satisfied the remote's signer policy
	// (verify.signers); empty when the remote has none.
	Signers []sign.Signer

	// Target is where the pack went.
	Target protocol.TargetConfig

	// PackDigest, FileDigest and SizeBytes describe the pushed pack.
	PackDigest string
	FileDigest string
	SizeBytes  int64

	// ReceiptPath is the path to the written receipt file.
	ReceiptPath string

	// Retention is how long the registry keeps the release, as its
	// push.finalize answer said (nil when it keeps none or did not say).
	Retention *protocol.Retention
}

// Step names reported through Options.OnStep.
const (
	StepVerify   = "Verifying pack integrity"
	StepConfig   = "Loading remote configuration"
	StepAdapter  = "Resolving adapter"
	StepPrepare  = "Preparing upload"
	StepUpload   = "Uploading pack"
	StepFinalize = "Finalizing release"
	StepRuns     = "Syncing runs"
	// StepSignatures runs only when the remote has a signer policy.
	StepSignatures = "Checking signatures"
	// StepRunsSkipped is reported (started, then done) when run results
	// exist but the adapter does not support run sync. If StepRuns had
	// started, it gets no "done" call: StepRunsSkipped takes its place.
	StepRunsSkipped = "Run sync skipped: adapter does not support it"
)

// getenv is Getenv, or os.Getenv when it is nil.
func (o *Options) getenv() func(string) string {
	if o.Getenv != nil {
		return o.Getenv
	}
	return os.Getenv
}
