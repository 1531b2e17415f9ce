// Package errcode gives every epack error a stable machine-readable code and
// an optional fix hint. Programs using the epack libraries tell failures apart
// with errors.Is(err, errcode.Sentinel(errcode.DigestMismatch)), errcode.Has
// or errors.As(err, &*errcode.Error) instead of matching error text. The
// codes never change once shipped; process exit statuses are the CLI's
// business (internal/exitstatus), not this package's.
package errcode

import (
	"errors"
	"fmt"
)

// Code is a stable error code string (COMPAT §1.12). Codes never change once shipped.
type Code string

// Pack format and verification codes.
const (
	DuplicateKeys        Code = "duplicate_keys"
	InvalidJSON          Code = "invalid_json"
	MissingRequiredField Code = "missing_required_field"
	InvalidManifest      Code = "invalid_manifest"
	InvalidTimestamp     Code = "invalid_timestamp"
	UnsupportedSpec      Code = "unsupported_spec_version"
	ZipBomb              Code = "zip_bomb"
	TooManyArtifacts     Code = "too_many_artifacts"
	DuplicatePath        Code = "duplicate_path"
	ArtifactTooLarge     Code = "artifact_too_large"
	InvalidPath          Code = "invalid_path"
	MissingEntry         Code = "missing_entry"
	InvalidAttestation   Code = "invalid_attestation"
	AttestationTooLarge  Code = "attestation_too_large"
	SignatureInvalid     Code = "signature_invalid"
	IdentityMismatch     Code = "identity_mismatch"
	DigestMismatch       Code = "digest_mismatch"
	SizeMismatch         Code = "size_mismatch"
	PackDigestMismatch   Code = "pack_digest_mismatch"
	NotAZip              Code = "invalid_zip"
)

// Input, filesystem, runtime and remote codes.
const (
	InvalidInput       Code = "invalid_input"
	SymlinkNotAllowed  Code = "symlink_not_allowed"
	PathTraversal      Code = "path_traversal"
	PermissionDenied   Code = "permission_denied"
	Timeout            Code = "timeout"
	NetworkError       Code = "network_error"
	LockfileInvalid    Code = "lockfile_invalid"
	BinaryNotFound     Code = "binary_not_found"
	InsecureInstall    Code = "insecure_install"
	RemoteNotFound     Code = "remote_not_found"
	AdapterNotFound    Code = "adapter_not_found"
	AdapterExecFailed  Code = "adapter_exec_failed"
	ProtocolMismatch   Code = "protocol_mismatch"
	UploadFailed       Code = "upload_failed"
	DownloadFailed     Code = "download_failed"
	AuthRequired       Code = "auth_required"
	RemoteForbidden    Code = "remote_forbidden"
	RemoteConflict     Code = "remote_conflict"
	ConfigInvalid      Code = "config_invalid"
	ProjectNotFound    Code = "project_not_found"
	PolicyViolation    Code = "policy_violation"
	OutputExists       Code = "output_exists"
	URLExpired         Code = "url_expired"
	URLNotAllowed      Code = "url_not_allowed"
	AdapterError       Code = "adapter_error"
	UnsupportedFeature Code = "unsupported_feature"
	IOError            Code = "io_error"
	Canceled           Code = "canceled"
	Internal           Code = "internal"
)

// Error is an error with a stable code. Message is the human text; Hint tells
// the user how to fix it; Err is the wrapped cause.
type Error struct {
	Code    Code
	Message string
	Hint    string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return e.Message + ": " + e.Err.Error()
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return string(e.Code)
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &Error{Code: X}) match on code alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// New returns a coded error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns a coded error that wraps cause with a formatted message.
func Wrap(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// WithHint sets the fix hint and returns e for chaining.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// Sentinel returns a comparison value for errors.Is(err, errcode.Sentinel(code)).
func Sentinel(code Code) error { return &Error{Code: code} }

// Of returns the code of the outermost coded error in err's chain, or "" if none.
func Of(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Has reports whether any error in err's chain carries code.
func Has(err error, code Code) bool {
	for err != nil {
		if e, ok := err.(*Error); ok && e.Code == code {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				if Has(x, code) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// HintOf returns the first non-empty hint in err's chain (depth first
// through joined errors, like Has).
func HintOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := err.(*Error); ok && e.Hint != "" {
		return e.Hint
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return HintOf(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, x := range u.Unwrap() {
			if h := HintOf(x); h != "" {
				return h
			}
		}
	}
	return ""
}
