package protocol

import "time"

// ProtocolVersion is the Remote Adapter Protocol version described here; a
// request or capabilities document naming another version is not understood.
const ProtocolVersion = 1

// BinaryPrefix is the file-name prefix of every remote adapter executable.
const BinaryPrefix = "epack-remote-"

// Commands a host gives an adapter as its one argument (argv[1]); every one
// but CmdCapabilities reads a JSON request on stdin.
const (
	CmdCapabilities = "--capabilities"
	CmdPushPrepare  = "push.prepare"
	CmdPushFinalize = "push.finalize"
	CmdPullPrepare  = "pull.prepare"
	CmdPullFinalize = "pull.finalize"
	CmdRunsSync     = "runs.sync"
	CmdAuthLogin    = "auth.login"
	CmdAuthWhoami   = "auth.whoami"
	// CmdReleasesList lists what a registry holds (our addition; see
	// ReleasesListRequest). Adapters announce it as features.releases_list.
	CmdReleasesList = "releases.list"
)

// ResultType returns the response type the protocol names for a success
// answer to cmd ("push.prepare" → "push.prepare.result").
func ResultType(cmd string) string { return cmd + ".result" }

// TypeAnswers reports whether typ is an acceptable "type" for a success answer
// to cmd. Two spellings are accepted: the protocol's "<cmd>.result", and cmd
// itself, which is what adapters built with the existing tool's Go SDK send
// (it echoes the request's type; COMPAT §10.1). Anything else, including
// another command's type or a different case, is not an answer to cmd.
func TypeAnswers(cmd, typ string) bool {
	return cmd != "" && (typ == ResultType(cmd) || typ == cmd)
}

// OptionalCommand reports whether cmd is a part of the protocol an adapter
// may leave out. The existing tool's SDK answers such commands with an
// unsupported_protocol error even when the adapter's capabilities announce
// them; the host then treats the command as not supported instead of as a
// protocol failure. push and pull commands are never optional.
func OptionalCommand(cmd string) bool {
	switch cmd {
	case CmdRunsSync, CmdAuthWhoami, CmdAuthLogin, CmdReleasesList,
		CmdLogStreams, CmdLogRead, CmdBlobsCheck, CmdGC, CmdHold:
		return true
	}
	return false
}

// TypeError is the response type of an error answer.
const TypeError = "error"

// MethodSkip is the upload or download method meaning "nothing to
// transfer": the registry already holds the pack, or the host already has it.
const MethodSkip = "skip"

// Capabilities is the answer to `<adapter> --capabilities`.
type Capabilities struct {
	Name                  string         `json:"name"`
	Kind                  string         `json:"kind,omitempty"`
	DeployProtocolVersion int            `json:"deploy_protocol_version"`
	Features              Features       `json:"features"`
	Auth                  *AuthInfo      `json:"auth,omitempty"`
	Limits                Limits         `json:"limits"`
	Extensions            map[string]any `json:"extensions,omitempty"`
}

// Features are the optional protocol parts an adapter implements.
type Features struct {
	PrepareFinalize bool `json:"prepare_finalize"`
	DirectUpload    bool `json:"direct_upload"`
	Pull            bool `json:"pull"`
	RunsSync        bool `json:"runs_sync"`
	AuthLogin       bool `json:"auth_login"`
	Whoami          bool `json:"whoami"`
	// ReleasesList: the adapter answers releases.list (our addition; left
	// out of the document when false, so the existing tool's adapters and
	// ours look alike to it).
	ReleasesList bool `json:"releases_list,omitempty"`
	// ReleaseLog: log.streams, log.read and blobs.check (log.go).
	ReleaseLog bool `json:"release_log,omitempty"`
	// GC: registry.gc (gc.go).
	GC bool `json:"gc,omitempty"`
	// LegalHold: release.hold (hold.go).
	LegalHold bool `json:"legal_hold,omitempty"`
	// MultipartUpload: push.prepare may answer a multipart upload and the
	// adapter answers push.parts (our addition, multipart.go; left out when
	// false).
	MultipartUpload bool `json:"multipart_upload,omitempty"`
	// NoFileChecksum: the adapter does not use pack.checksum (the file's
	// MD5) in push.prepare, so the host may leave it out and save that
	// pass over the file (our addition; an OCI registry addresses blobs by
	// SHA-256).
	NoFileChecksum bool `json:"no_file_checksum,omitempty"`
}

// AuthInfo describes how an adapter authenticates.
type AuthInfo struct {
	Modes        []string `json:"modes,omitempty"`
	TokenStorage string   `json:"token_storage,omitempty"`
}

// Limits are adapter-declared limits; zero means "no limit".
type Limits struct {
	MaxPackBytes   int64 `json:"max_pack_bytes"`
	MaxRunsPerSync int   `json:"max_runs_per_sync"`
	// MaxPackSize is the same limit as MaxPackBytes under the name the
	// existing tool's Go SDK writes ("max_pack_size"). Read it through MaxPack.
	MaxPackSize int64 `json:"max_pack_size,omitempty"`
	// Multipart bounds multipart uploads (with features.multipart_upload).
	Multipart *MultipartLimits `json:"multipart,omitempty"`
}

// MaxPack is the largest pack the adapter accepts, in bytes (0: no limit).
// When both spellings are set the smaller positive one wins: the host must
// never send more than the adapter said it takes.
func (l Limits) MaxPack() int64 {
	a, b := l.MaxPackBytes, l.MaxPackSize
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

// TargetConfig names where a pack goes: workspace, environment and stream.
type TargetConfig struct {
	Workspace   string `json:"workspace,omitempty"`
	Environment string `json:"environment,omitempty"`
	Stream      string `json:"stream,omitempty"`
}

// RequestHeader is common to every request.
type RequestHeader struct {
	Type            string `json:"type"`
	ProtocolVersion int    `json:"protocol_version"`
	RequestID       string `json:"request_id"`
}

// ResponseHeader is common to every response.
type ResponseHeader struct {
	OK        bool   `json:"ok"`
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
}

// PackInfo describes the pack being pushed. Digest is the manifest's
// pack_digest, ManifestDigest is 64 hex without prefix, FileDigest is
// "sha256:"+hex of the file, Checksum is base64 MD5 of the file.
type PackInfo struct {
	Path           string `json:"path"`
	Digest         string `json:"digest"`
	ManifestDigest string `json:"manifest_digest,omitempty"`
	FileDigest     string `json:"file_digest,omitempty"`
	SizeBytes      int64  `json:"size_bytes"`
	Checksum       string `json:"checksum,omitempty"`
}

// ReleaseInfo is release metadata sent with push.prepare.
type ReleaseInfo struct {
	Labels       []string          `json:"labels,omitempty"`
	Notes        string            `json:"notes,omitempty"`
	BuildContext map[string]string `json:"build_context,omitempty"`
	// Retain asks a registry with write-once storage to keep the release
	// at least this long ("10y", "90d"; ParseRetention) — longer than its
	// own rule, never shorter (our addition; adapters announcing
	// features.legal_hold honour it, others must refuse it).
	Retain string `json:"retain,omitempty"`
	// Signers are who signed the pack, identities only (our addition,
	// signers.go): verified when the host checked them against the
	// remote's signer policy, else claimed. A registry that records them
	// keeps the list of the push that created the release; adapters that
	// do not ignore it.
	Signers []ReleaseSigner `json:"signers,omitempty"`
}

// Identity is an optional caller identity hint (in the schema, never sent by upstream).
type Identity struct {
	Mode  string `json:"mode,omitempty"`
	Token string `json:"token,omitempty"`
}

// PushPrepareRequest asks the adapter where to upload a pack.
type PushPrepareRequest struct {
	RequestHeader
	Remote   string       `json:"remote"`
	Target   TargetConfig `json:"target"`
	Pack     PackInfo     `json:"pack"`
	Release  ReleaseInfo  `json:"release"`
	Identity *Identity    `json:"identity,omitempty"`
	// Multipart offers a multipart upload (only to an adapter announcing
	// features.multipart_upload; multipart.go).
	Multipart *MultipartOffer `json:"multipart,omitempty"`
}

// TransferTarget is an upload or download instruction. ExpiresAt is an
// RFC 3339 string (informational; empty when the URL does not expire).
type TransferTarget struct {
	Method    string            `json:"method"`
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt string            `json:"expires_at,omitempty"`
}

// PushPrepareResponse carries the upload target and the finalize token.
type PushPrepareResponse struct {
	ResponseHeader
	Upload        TransferTarget `json:"upload"`
	FinalizeToken string         `json:"finalize_token"`
	// Multipart is set when upload.method is MethodMultipart.
	Multipart *MultipartUpload `json:"multipart,omitempty"`
}

// PushFinalizeRequest asks the adapter to create the release. Pack carries only
// path, digest and size_bytes.
type PushFinalizeRequest struct {
	RequestHeader
	Remote        string       `json:"remote"`
	Target        TargetConfig `json:"target"`
	Pack          PackInfo     `json:"pack"`
	FinalizeToken string       `json:"finalize_token"`
}

// ReleaseResult is the release an adapter created.
type ReleaseResult struct {
	ReleaseID    string    `json:"release_id"`
	PackDigest   string    `json:"pack_digest"`
	CreatedAt    time.Time `json:"created_at"`
	CanonicalRef string    `json:"canonical_ref"`
	// Log is where the release's record sits in its stream's release log
	// (our addition; adapters with features.release_log send it).
	Log *LogPosition `json:"log,omitempty"`
	// Retention is how long the registry keeps the release (our addition,
	// retention.go; absent when it keeps none).
	Retention *Retention `json:"retention,omitempty"`
}

// PushFinalizeResponse is the answer to push.finalize.
type PushFinalizeResponse struct {
	ResponseHeader
	Release    ReleaseResult     `json:"release"`
	Links      map[string]string `json:"links,omitempty"`
	Extensions map[string]any    `json:"extensions,omitempty"`
}

// PullRef selects a pack; exactly one field is set.
type PullRef struct {
	Digest    string `json:"digest,omitempty"`
	ReleaseID string `json:"release_id,omitempty"`
	Version   string `json:"version,omitempty"`
	Latest    bool   `json:"latest,omitempty"`
}

// PullPrepareRequest asks the adapter where to download a pack from.
type PullPrepareRequest struct {
	RequestHeader
	Remote string       `json:"remote"`
	Target TargetConfig `json:"target"`
	Ref    PullRef      `json:"ref"`
}

// PulledPack describes the pack to download. Digest is the FILE digest.
type PulledPack struct {
	Digest    string    `json:"digest"`
	SizeBytes int64     `json:"size_bytes"`
	Stream    string    `json:"stream"`
	CreatedAt time.Time `json:"created_at"`
	ReleaseID string    `json:"release_id,omitempty"`
	Version   string    `json:"version,omitempty"`
	Labels    []string  `json:"labels,omitempty"`
}

// PullPrepareResponse carries the download target and pack facts.
type PullPrepareResponse struct {
	ResponseHeader
	Download      TransferTarget `json:"download"`
	Pack          PulledPack     `json:"pack"`
	FinalizeToken string         `json:"finalize_token"`
	// Retention is how long the registry keeps the release (our addition,
	// retention.go; absent when it keeps none).
	Retention *Retention `json:"retention,omitempty"`
}

// PullFinalizeRequest confirms a completed download.
type PullFinalizeRequest struct {
	RequestHeader
	Remote        string       `json:"remote"`
	Target        TargetConfig `json:"target"`
	Digest        string       `json:"digest"`
	FinalizeToken string       `json:"finalize_token"`
}

// PullFinalizeResponse is the answer to pull.finalize.
type PullFinalizeResponse struct {
	ResponseHeader
	Confirmed bool `json:"confirmed"`
}

// RunItem is one run result offered to runs.sync.
type RunItem struct {
	RunID        string `json:"run_id"`
	ResultPath   string `json:"result_path"`
	ResultDigest string `json:"result_digest"`
}

// RunsSyncRequest uploads run results tied to a pack. PackPath (our addition)
// is the absolute pack path so adapters can confine result paths to its sidecar.
type RunsSyncRequest struct {
	RequestHeader
	Target     TargetConfig `json:"target"`
	FileDigest string       `json:"file_digest"`
	PackPath   string       `json:"pack_path,omitempty"`
	Runs       []RunItem    `json:"runs"`
}

// Statuses an adapter gives each run in a runs.sync answer (RunStatus.Status).
const (
	RunAccepted  = "accepted"
	RunDuplicate = "duplicate"
	RunRejected  = "rejected"
)

// RunStatus is the adapter's verdict on one run.
type RunStatus struct {
	RunID  string `json:"run_id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// FailedOutput reports an output of a run the adapter could not store.
type FailedOutput struct {
	RunID  string `json:"run_id"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// RunsSyncResponse is the answer to runs.sync.
type RunsSyncResponse struct {
	ResponseHeader
	Accepted      int            `json:"accepted"`
	Rejected      int            `json:"rejected"`
	Items         []RunStatus    `json:"items"`
	FailedOutputs []FailedOutput `json:"failed_outputs,omitempty"`
}

// AuthRequest is the body of auth.login and auth.whoami.
type AuthRequest struct {
	RequestHeader
}

// LoginInstructions tell a user how to complete a device-code login.
type LoginInstructions struct {
	UserCode         string `json:"user_code,omitempty"`
	VerificationURI  string `json:"verification_uri,omitempty"`
	ExpiresInSeconds int    `json:"expires_in_seconds,omitempty"`
}

// AuthLoginResponse is the answer to auth.login.
type AuthLoginResponse struct {
	ResponseHeader
	Instructions LoginInstructions `json:"instructions"`
}

// WhoamiIdentity says who the adapter is acting as.
type WhoamiIdentity struct {
	Authenticated bool   `json:"authenticated"`
	Subject       string `json:"subject,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	ExpiresAt     string `json:"expires_at,omitempty"`
}

// AuthWhoamiResponse is the answer to auth.whoami.
type AuthWhoamiResponse struct {
	ResponseHeader
	Identity WhoamiIdentity `json:"identity"`
}
