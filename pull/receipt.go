package pull

import (
	"path/filepath"
	"runtime"
	"time"

	"github.com/evidencerelay/epack/internal/receiptfile"
	"github.com/evidencerelay/epack/internal/version"
	"github.com/evidencerelay/epack/pack/sign"
	"github.com/evidencerelay/epack/protocol"
)

// ReceiptVersion is the pull receipt format version.
const ReceiptVersion = 1

// Receipt records a pull for audit purposes.
type Receipt struct {
	ReceiptVersion int       `json:"receipt_version"`
	CreatedAt      time.Time `json:"created_at"`
	Remote         string    `json:"remote"`
	// Location is the registry location pulled from when no remote of
	// epack.yaml was used (an addition to the upstream format).
	Location string                `json:"location,omitempty"`
	Target   protocol.TargetConfig `json:"target"`
	Pack     PackReceipt           `json:"pack"`
	Verified bool                  `json:"verified"`
	Client   ClientReceipt         `json:"client"`
	// Retention is how long the registry keeps the release, as its
	// pull.prepare answer said (an addition to the upstream format;
	// omitted when the registry keeps no retention). epack inspect shows
	// it for the pack at Pack.OutputPath.
	Retention *protocol.Retention `json:"retention,omitempty"`
}

// PackReceipt is the pulled pack as the adapter described it.
type PackReceipt struct {
	OutputPath string    `json:"output_path"`
	Digest     string    `json:"digest"`
	SizeBytes  int64     `json:"size_bytes"`
	Stream     string    `json:"stream"`
	CreatedAt  time.Time `json:"created_at"`
	ReleaseID  string    `json:"release_id,omitempty"`
	Version    string    `json:"version,omitempty"`
	Labels     []string  `json:"labels,omitempty"`
	// Signers are the signatures that satisfied the remote's signer policy
	// (an addition to the upstream format).
	Signers []sign.Signer `json:"signers,omitempty"`
}

// ClientReceipt contains epack client metadata in the receipt.
type ClientReceipt struct {
	EpackVersion string `json:"epack_version"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
}

// NewReceipt builds a receipt for a finished pull.
func NewReceipt(remoteName string, target protocol.TargetConfig, outputPath string, p protocol.PulledPack, verified bool) *Receipt {
	return &Receipt{
		ReceiptVersion: ReceiptVersion,
		CreatedAt:      time.Now().UTC(),
		Remote:         remoteName,
		Target:         target,
		Pack: PackReceipt{
			OutputPath: outputPath, Digest: p.Digest, SizeBytes: p.SizeBytes, Stream: p.Stream,
			CreatedAt: p.CreatedAt, ReleaseID: p.ReleaseID, Version: p.Version, Labels: p.Labels,
		},
		Verified: verified,
		Client:   ClientReceipt{EpackVersion: version.Version, OS: runtime.GOOS, Arch: runtime.GOARCH},
	}
}

// ReceiptWriter writes pull receipts to disk.
type ReceiptWriter struct {
	// BaseDir is the base directory for receipts.
	// Defaults to <ProjectRoot>/.epack/receipts/pull if empty.
	BaseDir string

	// ProjectRoot is the project root: an empty BaseDir means
	// <ProjectRoot>/.epack/receipts/pull, and every folder from ProjectRoot down to the
	// receipt is opened without following symbolic links. Empty means
	// BaseDir (or the default) is taken relative to the working directory.
	ProjectRoot string
}

// DefaultReceiptDir is the receipt folder relative to the project root.
var DefaultReceiptDir = filepath.Join(".epack", "receipts", "pull")

// Write stores the receipt durably under a unique name and returns its path.
// It never follows symbolic links and never overwrites an existing receipt.
func (w *ReceiptWriter) Write(r *Receipt) (string, error) {
	return receiptfile.Save(w.ProjectRoot, w.BaseDir, DefaultReceiptDir, r.Remote, r.CreatedAt, r.Pack.Digest, r)
}
