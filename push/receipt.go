package push

import (
	"path/filepath"
	"runtime"
	"time"

	"github.com/evidencerelay/epack/internal/receiptfile"
	"github.com/evidencerelay/epack/internal/version"
	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
)

// ReceiptVersion is the receipt format version written by this package.
const ReceiptVersion = 1

// Receipt records the result of a push operation for audit purposes.
type Receipt struct {
	// ReceiptVersion is the receipt format version.
	ReceiptVersion int `json:"receipt_version"`

	// CreatedAt is when the receipt was created.
	CreatedAt time.Time `json:"created_at"`

	// Remote is the remote name used for the push.
	Remote string `json:"remote"`

	// Target contains the workspace/environment.
	Target protocol.TargetConfig `json:"target"`

	// Pack contains pack metadata.
	Pack PackReceipt `json:"pack"`

	// Release contains the release information from the remote.
	Release ReleaseReceipt `json:"release"`

	// Links contains URLs returned by the remote.
	Links map[string]string `json:"links,omitempty"`

	// Runs contains run syncing results.
	Runs RunsReceipt `json:"runs"`

	// Retention is how long the registry keeps the release, as it
	// answered (an addition to the upstream format; omitted when the
	// registry keeps no retention).
	Retention *protocol.Retention `json:"retention,omitempty"`

	// Client contains epack client metadata.
	Client ClientReceipt `json:"client"`
}

// PackReceipt contains pack metadata in the receipt.
type PackReceipt struct {
	Path      string `json:"path"`
	Digest    string `json:"digest"`
	SizeBytes int64  `json:"size_bytes"`
	// FileDigest is the SHA-256 of the pack file (an addition to the upstream format).
	FileDigest string `json:"file_digest,omitempty"`
	// Signers are the signatures that satisfied the remote's signer policy
	// (an addition to the upstream format).
	Signers []sign.Signer `json:"signers,omitempty"`
}

// ReleaseReceipt contains release information in the receipt.
type ReleaseReceipt struct {
	ReleaseID    string    `json:"release_id"`
	PackDigest   string    `json:"pack_digest"`
	CreatedAt    time.Time `json:"created_at"`
	CanonicalRef string    `json:"canonical_ref"`
	// Log is where the release's record sits in its stream's release log,
	// as the registry answered (an addition to the upstream format; `epack
	// log verify --receipt` checks it is still there).
	Log *protocol.LogPosition `json:"log,omitempty"`
}

// RunsReceipt contains run syncing results in the receipt.
type RunsReceipt struct {
	Synced []string `json:"synced"`
	Failed []string `json:"failed"`
	// Error records why run syncing failed after the release was created.
	Error string `json:"error,omitempty"`
	// Skipped records why run results were not sent at all (the adapter
	// does not support run sync); an addition to the upstream format.
	Skipped string `json:"skipped,omitempty"`
}

// ClientReceipt contains epack client metadata in the receipt.
type ClientReceipt struct {
	EpackVersion string `json:"epack_version"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
}

// NewReceipt creates a new receipt from push result data.
func NewReceipt(
	remoteName string,
	target protocol.TargetConfig,
	packPath string,
	packDigest string,
	packSize int64,
	release *protocol.ReleaseResult,
	links map[string]string,
	syncedRuns []string,
	failedRuns []string,
) *Receipt {
	r := &Receipt{
		ReceiptVersion: ReceiptVersion,
		CreatedAt:      time.Now().UTC(),
		Remote:         remoteName,
		Target:         target,
		Pack:           PackReceipt{Path: packPath, Digest: packDigest, SizeBytes: packSize},
		Links:          links,
		Runs:           RunsReceipt{Synced: syncedRuns, Failed: failedRuns},
		Client:         ClientReceipt{EpackVersion: version.Version, OS: runtime.GOOS, Arch: runtime.GOARCH},
	}
	if len(links) == 0 {
		r.Links = nil
	}
	if release != nil {
		r.Release = ReleaseReceipt{
			ReleaseID:    release.ReleaseID,
			PackDigest:   release.PackDigest,
			CreatedAt:    release.CreatedAt,
			CanonicalRef: release.CanonicalRef,
		}
		if release.Log != nil && release.Log.Check() == nil {
			pos := *release.Log
			r.Release.Log = &pos
		}
		if release.Retention != nil && release.Retention.Check() == nil {
			ret := *release.Retention
			r.Retention = &ret
		}
	}
	return r
}

// ReceiptWriter writes push receipts to disk.
type ReceiptWriter struct {
	// BaseDir is the base directory for receipts.
	// Defaults to .epack/receipts/push if empty.
	BaseDir string

	// ProjectRoot is the project root: an empty BaseDir means
	// <ProjectRoot>/.epack/receipts/push, and every folder from ProjectRoot down to the
	// receipt is opened without following symbolic links. Empty means
	// BaseDir (or the default) is taken relative to the working directory.
	ProjectRoot string
}

// DefaultReceiptDir is the receipt folder relative to the project root.
var DefaultReceiptDir = filepath.Join(".epack", "receipts", "push")

// Write writes a receipt to disk. Returns the path to the written receipt file.
//
// SECURITY: This function validates the remote name to prevent path traversal
// attacks and uses TOCTOU-safe file operations to prevent symlink attacks.
// It never overwrites an existing receipt: a second receipt with the same
// name gets a numeric suffix. It is safe to call from several processes.
func (w *ReceiptWriter) Write(receipt *Receipt) (string, error) {
	return receiptfile.Save(w.ProjectRoot, w.BaseDir, DefaultReceiptDir, receipt.Remote, receipt.CreatedAt, receipt.Pack.Digest, receipt)
}
