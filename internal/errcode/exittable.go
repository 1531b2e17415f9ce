package errcode

import (
	"fmt"
	"strings"
)

// Exit statuses of the epack CLI. The table below gives each its meaning and
// codes; README.md's "Exit codes" section prints ExitTableMarkdown (a test
// checks the two agree), so scripts have one documented truth.
const (
	ExitOK             = 0
	ExitFailure        = 1
	ExitBadInput       = 2
	ExitLockfile       = 10
	ExitDigestMismatch = 11
	ExitSignature      = 12
	ExitTimeout        = 13
	ExitBinaryNotFound = 14
	ExitNetwork        = 15
)

// ExitStatus is one row of the exit-status table: a status, what it means in
// one line, and the error codes that produce it.
type ExitStatus struct {
	Status  int
	Meaning string
	Codes   []Code
}

// exitTable is the one table. Every Code constant is in exactly one row (a
// test reads errcode.go to hold that).
var exitTable = []ExitStatus{
	{ExitOK, "success", nil},
	{ExitFailure, "any other failure: epack.yaml invalid or missing, unknown remote or environment, adapter or registry error, refused by policy", []Code{
		ConfigInvalid, ProjectNotFound, RemoteNotFound, PolicyViolation, InsecureInstall,
		AdapterExecFailed, AdapterError, ProtocolMismatch, UnsupportedFeature, AuthRequired,
		RemoteForbidden, RemoteConflict, UploadFailed, DownloadFailed, URLExpired, URLNotAllowed,
		SymlinkNotAllowed, PathTraversal, PermissionDenied, OutputExists, IOError, Canceled, Internal,
	}},
	{ExitBadInput, "bad input: usage error, missing or unreadable pack, malformed or hostile pack", []Code{
		InvalidInput, NotAZip, DuplicateKeys, InvalidJSON, MissingRequiredField, InvalidManifest,
		InvalidTimestamp, UnsupportedSpec, ZipBomb, TooManyArtifacts, DuplicatePath, ArtifactTooLarge,
		InvalidPath, MissingEntry, InvalidAttestation, AttestationTooLarge,
	}},
	{ExitLockfile, "lockfile problem: adapter not pinned, epack.lock.yaml invalid or stale, refused by --frozen", []Code{LockfileInvalid}},
	{ExitDigestMismatch, "digest or size mismatch: tampered pack, adapter binary that does not match its pin", []Code{DigestMismatch, SizeMismatch, PackDigestMismatch}},
	{ExitSignature, "signature or signer identity does not verify", []Code{SignatureInvalid, IdentityMismatch}},
	{ExitTimeout, "timeout: an adapter command or a transfer took too long", []Code{Timeout}},
	{ExitBinaryNotFound, "adapter binary not found", []Code{BinaryNotFound, AdapterNotFound}},
	{ExitNetwork, "network error: connection refused, reset or unreachable", []Code{NetworkError}},
}

var exitByCode = func() map[Code]int {
	m := map[Code]int{}
	for _, row := range exitTable {
		for _, c := range row.Codes {
			m[c] = row.Status
		}
	}
	return m
}()

// ExitStatuses returns a copy of the exit-status table, in status order.
func ExitStatuses() []ExitStatus {
	out := make([]ExitStatus, len(exitTable))
	for i, row := range exitTable {
		out[i] = ExitStatus{Status: row.Status, Meaning: row.Meaning, Codes: append([]Code(nil), row.Codes...)}
	}
	return out
}

// ExitTableMarkdown renders the table as README.md prints it.
func ExitTableMarkdown() string {
	var b strings.Builder
	b.WriteString("| exit | meaning | error codes |\n|---|---|---|\n")
	for _, row := range exitTable {
		codes := make([]string, len(row.Codes))
		for i, c := range row.Codes {
			codes[i] = "`" + string(c) + "`"
		}
		cell := strings.Join(codes, ", ")
		switch {
		case len(codes) == 0:
			cell = "—"
		case row.Status == ExitFailure:
			cell += ", and any error without a code of its own"
		}
		fmt.Fprintf(&b, "| %d | %s | %s |\n", row.Status, row.Meaning, cell)
	}
	return b.String()
}
