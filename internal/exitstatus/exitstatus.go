// Package exitstatus is the epack CLI's one table from error codes to process
// exit statuses: what each status means, which codes produce it, and the
// Markdown that README.md prints (a test holds the two equal).
package exitstatus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/evidencerelay/epack/errcode"
)

// Exit statuses of the epack CLI. The table below gives each its meaning and
// codes; README.md's "Exit codes" section prints Markdown (a test
// checks the two agree), so scripts have one documented truth.
const (
	OK             = 0
	Failure        = 1
	BadInput       = 2
	Lockfile       = 10
	DigestMismatch = 11
	Signature      = 12
	Timeout        = 13
	BinaryNotFound = 14
	Network        = 15
)

// Row is one row of the exit-status table: a status, what it means in
// one line, and the error codes that produce it.
type Row struct {
	Status  int
	Meaning string
	Codes   []errcode.Code
}

// table is the one table. Every Code constant is in exactly one row (a
// test reads errcode.go to hold that).
var table = []Row{
	{OK, "success", nil},
	{Failure, "any other failure: epack.yaml invalid or missing, unknown remote or environment, adapter or registry error, refused by policy", []errcode.Code{
		errcode.ConfigInvalid, errcode.ProjectNotFound, errcode.RemoteNotFound, errcode.PolicyViolation, errcode.InsecureInstall,
		errcode.AdapterExecFailed, errcode.AdapterError, errcode.ProtocolMismatch, errcode.UnsupportedFeature, errcode.AuthRequired,
		errcode.RemoteForbidden, errcode.RemoteConflict, errcode.UploadFailed, errcode.DownloadFailed, errcode.URLExpired, errcode.URLNotAllowed,
		errcode.SymlinkNotAllowed, errcode.PathTraversal, errcode.PermissionDenied, errcode.OutputExists, errcode.IOError, errcode.Canceled, errcode.Internal,
	}},
	{BadInput, "bad input: usage error, missing or unreadable pack, malformed or hostile pack", []errcode.Code{
		errcode.InvalidInput, errcode.NotAZip, errcode.DuplicateKeys, errcode.InvalidJSON, errcode.MissingRequiredField, errcode.InvalidManifest,
		errcode.InvalidTimestamp, errcode.UnsupportedSpec, errcode.ZipBomb, errcode.TooManyArtifacts, errcode.DuplicatePath, errcode.ArtifactTooLarge,
		errcode.InvalidPath, errcode.MissingEntry, errcode.InvalidAttestation, errcode.AttestationTooLarge,
	}},
	{Lockfile, "lockfile problem: adapter not pinned, epack.lock.yaml invalid or stale, refused by --frozen", []errcode.Code{errcode.LockfileInvalid}},
	{DigestMismatch, "digest or size mismatch: tampered pack, adapter binary that does not match its pin, release log that does not verify", []errcode.Code{errcode.DigestMismatch, errcode.SizeMismatch, errcode.PackDigestMismatch}},
	{Signature, "signature or signer identity does not verify", []errcode.Code{errcode.SignatureInvalid, errcode.IdentityMismatch}},
	{Timeout, "timeout: an adapter command or a transfer took too long", []errcode.Code{errcode.Timeout}},
	{BinaryNotFound, "adapter binary not found", []errcode.Code{errcode.BinaryNotFound, errcode.AdapterNotFound}},
	{Network, "network error: connection refused, reset or unreachable", []errcode.Code{errcode.NetworkError}},
}

var byCode = func() map[errcode.Code]int {
	m := map[errcode.Code]int{}
	for _, row := range table {
		for _, c := range row.Codes {
			m[c] = row.Status
		}
	}
	return m
}()

// Table returns a copy of the exit-status table, in status order.
func Table() []Row {
	out := make([]Row, len(table))
	for i, row := range table {
		out[i] = Row{Status: row.Status, Meaning: row.Meaning, Codes: append([]errcode.Code(nil), row.Codes...)}
	}
	return out
}

// Markdown renders the table as README.md prints it.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| exit | meaning | error codes |\n|---|---|---|\n")
	for _, row := range table {
		codes := make([]string, len(row.Codes))
		for i, c := range row.Codes {
			codes[i] = "`" + string(c) + "`"
		}
		cell := strings.Join(codes, ", ")
		switch {
		case len(codes) == 0:
			cell = "—"
		case row.Status == Failure:
			cell += ", and any error without a code of its own"
		}
		fmt.Fprintf(&b, "| %d | %s | %s |\n", row.Status, row.Meaning, cell)
	}
	return b.String()
}

// Of maps err to the process exit status: nil → OK; otherwise the first code
// in err's chain whose status is not Failure decides; anything else → Failure.
func Of(err error) int {
	if err == nil {
		return OK
	}
	for cur := err; cur != nil; cur = errors.Unwrap(cur) {
		if ce, ok := cur.(*errcode.Error); ok {
			if st, ok := byCode[ce.Code]; ok && st != Failure {
				return st
			}
		}
	}
	return Failure
}
