// Command testadapter is a configurable remote adapter for end-to-end tests.
// Its behaviour comes from the remote's extensions (EPACK_REMOTE_CONFIG); it
// records every request as a JSON line in <state_dir>/requests.log.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/adapter"
	"github.com/evidencerelay/epack/protocol"
)

type settings struct {
	StateDir          string            `json:"state_dir"`
	UploadURLs        []string          `json:"upload_urls"`
	UploadMethod      string            `json:"upload_method"`
	UploadHeaders     map[string]string `json:"upload_headers"`
	ExpiresAt         []string          `json:"expires_at"`
	Skip              bool              `json:"skip"`
	FinalizeError     string            `json:"finalize_error"`
	NoRuns            bool              `json:"no_runs"`
	RunsError         string            `json:"runs_error"`
	RunsReject        []string          `json:"runs_reject"`
	MaxRunsPerSync    int               `json:"max_runs_per_sync"`
	MaxPackBytes      int64             `json:"max_pack_bytes"`
	DownloadURL       string            `json:"download_url"`
	PullDigest        string            `json:"pull_digest"`
	PullSize          int64             `json:"pull_size"`
	PullStream        string            `json:"pull_stream"`
	PullFinalizeError string            `json:"pull_finalize_error"`
	RetryableFailures int               `json:"retryable_failures"`
	// VerifyBlobPath, when set, is hashed at finalize and must match the pack.
	VerifyBlobPath string `json:"verify_blob_path"`
	// PullReleaseID, PullVersion and PullLabels replace what pull.prepare
	// says about the release (nil keeps "rel_0001", "v1" and no labels).
	PullReleaseID *string  `json:"pull_release_id"`
	PullVersion   *string  `json:"pull_version"`
	PullLabels    []string `json:"pull_labels"`
	// DownloadURLs and PullDigests are picked by the pull.prepare count
	// (1-based, the last entry repeats), so a test can hand out an expiring
	// URL first and a good one on the re-prepare, or announce another pack
	// the second time. An empty entry keeps download_url / the pushed digest.
	DownloadURLs []string `json:"download_urls"`
	PullDigests  []string `json:"pull_digests"`
	// PullSizes is picked the same way (0 keeps the size).
	PullSizes []int64 `json:"pull_sizes"`
	// PullSizeAnnounced, when set, is the announced size as is (0 and
	// negative sizes included, which pull_size cannot express).
	PullSizeAnnounced *int64 `json:"pull_size_announced"`
	// PullNoStream leaves the stream out of the pull.prepare answer (the
	// protocol does not require it).
	PullNoStream bool `json:"pull_no_stream"`
	// NoPull leaves the pull feature out of the capabilities.
	NoPull bool `json:"no_pull"`
	// NoFileChecksum announces features.no_file_checksum.
	NoFileChecksum bool `json:"no_file_checksum"`
}

type last struct {
	Hex    string `json:"hex"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Stream string `json:"stream"`
}

var cfg settings

func main() {
	if raw := os.Getenv("EPACK_REMOTE_CONFIG"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "bad EPACK_REMOTE_CONFIG:", err)
			os.Exit(2)
		}
	}
	if cfg.StateDir == "" {
		cfg.StateDir = os.Getenv("EPACK_REMOTE_FILE_ROOT")
	}
	h := adapter.Handler{
		Capabilities: protocol.Capabilities{
			Name: "test", Kind: "remote_adapter", DeployProtocolVersion: 1,
			Features: protocol.Features{PrepareFinalize: true, Pull: !cfg.NoPull, RunsSync: !cfg.NoRuns, Whoami: true, NoFileChecksum: cfg.NoFileChecksum},
			Limits:   protocol.Limits{MaxPackBytes: cfg.MaxPackBytes, MaxRunsPerSync: cfg.MaxRunsPerSync},
		},
		PushPrepare:  pushPrepare,
		PushFinalize: pushFinalize,
		PullPrepare:  pullPrepare,
		PullFinalize: pullFinalize,
		Whoami: func(context.Context) (*protocol.WhoamiIdentity, error) {
			return &protocol.WhoamiIdentity{Authenticated: true, Subject: "tester", Issuer: "test"}, nil
		},
	}
	if !cfg.NoRuns {
		h.RunsSync = runsSync
	}
	adapter.Serve(h)
}

func record(v any) {
	if cfg.StateDir == "" {
		return
	}
	b, _ := json.Marshal(v)
	f, err := os.OpenFile(filepath.Join(cfg.StateDir, "requests.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(b, '\n'))
}

// bump increments and returns a named counter in the state folder.
func bump(name string) int {
	p := filepath.Join(cfg.StateDir, name+".count")
	b, _ := os.ReadFile(p)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n++
	os.WriteFile(p, []byte(strconv.Itoa(n)), 0o644)
	return n
}

func expand(s, fileHex string) string {
	return strings.NewReplacer("{root}", os.Getenv("EPACK_REMOTE_FILE_ROOT"), "{hex}", fileHex).Replace(s)
}

func pick(list []string, n int) string {
	if len(list) == 0 {
		return ""
	}
	if n > len(list) {
		n = len(list)
	}
	return list[n-1]
}

func pushPrepare(_ context.Context, req *protocol.PushPrepareRequest) (*protocol.PushPrepareResponse, error) {
	record(req)
	if cfg.RetryableFailures > 0 && bump("prepare-fail") <= cfg.RetryableFailures {
		return nil, protocol.Errorf(protocol.CodeServerError, "temporary failure")
	}
	n := bump("prepare")
	fileHex := strings.TrimPrefix(req.Pack.FileDigest, "sha256:")
	resp := &protocol.PushPrepareResponse{FinalizeToken: "tok_" + strconv.Itoa(n)}
	if cfg.Skip {
		resp.Upload.Method = protocol.MethodSkip
		return resp, nil
	}
	url := pick(cfg.UploadURLs, n)
	if url == "" {
		url = "file://{root}/blobs/{hex}.epack"
	}
	resp.Upload = protocol.TransferTarget{Method: "PUT", URL: expand(url, fileHex), Headers: cfg.UploadHeaders, ExpiresAt: pick(cfg.ExpiresAt, n)}
	if cfg.UploadMethod != "" {
		resp.Upload.Method = cfg.UploadMethod
	}
	l := last{Hex: fileHex, Digest: req.Pack.FileDigest, Size: req.Pack.SizeBytes, Stream: req.Target.Stream}
	b, _ := json.Marshal(l)
	os.WriteFile(filepath.Join(cfg.StateDir, "pending.json"), b, 0o644)
	return resp, nil
}

func pushFinalize(_ context.Context, req *protocol.PushFinalizeRequest) (*protocol.PushFinalizeResponse, error) {
	record(req)
	if cfg.FinalizeError != "" {
		return nil, protocol.Errorf(cfg.FinalizeError, "finalize refused by test adapter")
	}
	if cfg.VerifyBlobPath != "" {
		var p last
		b, _ := os.ReadFile(filepath.Join(cfg.StateDir, "pending.json"))
		json.Unmarshal(b, &p)
		data, err := os.ReadFile(expand(cfg.VerifyBlobPath, p.Hex))
		sum := sha256.Sum256(data)
		if err != nil || "sha256:"+hex.EncodeToString(sum[:]) != p.Digest {
			return nil, protocol.Errorf(protocol.CodeConflict, "stored bytes do not match the announced digest")
		}
	}
	n := bump("finalize")
	if b, err := os.ReadFile(filepath.Join(cfg.StateDir, "pending.json")); err == nil {
		os.WriteFile(filepath.Join(cfg.StateDir, "last.json"), b, 0o644)
	}
	id := fmt.Sprintf("rel_%04d", n)
	return &protocol.PushFinalizeResponse{
		Release: protocol.ReleaseResult{ReleaseID: id, PackDigest: req.Pack.Digest,
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), CanonicalRef: req.Target.Stream + "@" + id},
		Links: map[string]string{"view": "https://registry.example/" + id},
	}, nil
}

func runsSync(_ context.Context, req *protocol.RunsSyncRequest) (*protocol.RunsSyncResponse, error) {
	record(req)
	if cfg.RunsError != "" {
		return nil, protocol.Errorf(cfg.RunsError, "runs.sync refused by test adapter")
	}
	resp := &protocol.RunsSyncResponse{Items: []protocol.RunStatus{}}
	reject := map[string]bool{}
	for _, id := range cfg.RunsReject {
		reject[id] = true
	}
	for _, r := range req.Runs {
		st := protocol.RunAccepted
		if reject[r.RunID] {
			st = protocol.RunRejected
			resp.Rejected++
		} else {
			resp.Accepted++
		}
		resp.Items = append(resp.Items, protocol.RunStatus{RunID: r.RunID, Status: st})
	}
	return resp, nil
}

func pullPrepare(_ context.Context, req *protocol.PullPrepareRequest) (*protocol.PullPrepareResponse, error) {
	record(req)
	var l last
	if b, err := os.ReadFile(filepath.Join(cfg.StateDir, "last.json")); err == nil {
		json.Unmarshal(b, &l)
	}
	if cfg.PullDigest != "" {
		l.Digest = cfg.PullDigest
	}
	if cfg.PullSize != 0 {
		l.Size = cfg.PullSize
	}
	if cfg.PullStream != "" {
		l.Stream = cfg.PullStream
	}
	if l.Digest == "" {
		return nil, protocol.Errorf(protocol.CodeNotFound, "nothing has been pushed")
	}
	url := cfg.DownloadURL
	if url == "" {
		url = "file://{root}/blobs/{hex}.epack"
	}
	n := bump("pull-prepare")
	if u := pick(cfg.DownloadURLs, n); u != "" {
		url = u
	}
	if d := pick(cfg.PullDigests, n); d != "" {
		l.Digest = d
	}
	if len(cfg.PullSizes) > 0 {
		if sz := cfg.PullSizes[min(n, len(cfg.PullSizes))-1]; sz != 0 {
			l.Size = sz
		}
	}
	if cfg.PullSizeAnnounced != nil {
		l.Size = *cfg.PullSizeAnnounced
	}
	if cfg.PullNoStream {
		l.Stream = ""
	}
	releaseID, version := "rel_0001", "v1"
	if cfg.PullReleaseID != nil {
		releaseID = *cfg.PullReleaseID
	}
	if cfg.PullVersion != nil {
		version = *cfg.PullVersion
	}
	return &protocol.PullPrepareResponse{
		Download: protocol.TransferTarget{Method: "GET", URL: expand(url, l.Hex)},
		Pack: protocol.PulledPack{Digest: l.Digest, SizeBytes: l.Size, Stream: l.Stream, ReleaseID: releaseID, Version: version,
			Labels: cfg.PullLabels, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		FinalizeToken: "ptok_" + strconv.Itoa(n),
	}, nil
}

func pullFinalize(_ context.Context, req *protocol.PullFinalizeRequest) (*protocol.PullFinalizeResponse, error) {
	record(req)
	if cfg.PullFinalizeError != "" {
		return nil, protocol.Errorf(cfg.PullFinalizeError, "pull.finalize refused by test adapter")
	}
	return &protocol.PullFinalizeResponse{Confirmed: true}, nil
}
