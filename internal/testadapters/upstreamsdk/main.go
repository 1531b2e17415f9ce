// Command upstreamsdk is a test remote adapter that puts on the wire exactly
// what an adapter built with the existing epack tool's Go SDK puts there
// (COMPAT §10.1), so tests can prove that our host works with such adapters
// unchanged. It links nothing of ours: its output is produced the way that
// SDK produces it, with encoding/json over maps, which is what makes the
// bytes match:
//
//   - it reads requests as newline-delimited JSON until EOF and dispatches on
//     each request's "type"; the command in argv is ignored;
//   - --capabilities prints indented JSON (sorted keys, two spaces) with
//     limits.max_pack_size and features runs_sync/auth_login/whoami only when
//     true; --version prints the version;
//   - a success answer is compact JSON plus a newline with "type" equal to the
//     request's type, "ok", "request_id" and the handler's fields beside them;
//   - an error answer has "retryable" only when true and "action" as a plain
//     string, and the process still exits 0;
//   - fields its handlers leave empty are sent as empty strings where the
//     SDK's types have no omitempty (release.created_at, download.method);
//     links use the keys "release" and "pack";
//   - only push.prepare, push.finalize, pull.prepare and pull.finalize are
//     handled; anything else gets unsupported_protocol, even when the
//     capabilities announce it (authors announce features by hand).
//
// Its registry is the folder named by UPSDK_STORE (passed through the
// remote's `secrets:`), and its transfer URLs are file:// URLs inside it, so
// the remote's transport.file_root must be that folder. Every request line is
// appended to <store>/requests.log.
//
// Settings come from a JSON file next to the executable's original path
// (argv[0] + ".json"), because --capabilities runs without secrets:
//
//	{"features": {"runs_sync": true, "whoami": true},   // announced, never handled
//	 "max_pack_size": 1000,
//	 "prepare_error": {"code": "auth_required", "message": "…", "action": "upsdk login"},
//	 "mangle": "type" | "request_id" | "finalize_token"} // break push.prepare's answer
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvStore names the registry folder.
const EnvStore = "UPSDK_STORE"

// features mirrors how the SDK declares them: the last three only when true.
type features struct {
	PrepareFinalize bool `json:"prepare_finalize"`
	Pull            bool `json:"pull"`
	RunsSync        bool `json:"runs_sync,omitempty"`
	AuthLogin       bool `json:"auth_login,omitempty"`
	Whoami          bool `json:"whoami,omitempty"`
}

type limits struct {
	MaxPackSize int64 `json:"max_pack_size,omitempty"`
}

// failure is the SDK's error object.
type failure struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable,omitempty"`
	Action    string `json:"action,omitempty"`
}

func (f *failure) Error() string { return f.Message }

type settings struct {
	Features     *features `json:"features"`
	MaxPackSize  int64     `json:"max_pack_size"`
	PrepareError *failure  `json:"prepare_error"`
	Mangle       string    `json:"mangle"`
}

var cfg settings

func main() {
	if b, err := os.ReadFile(os.Args[0] + ".json"); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "upstreamsdk: bad settings:", err)
			os.Exit(2)
		}
	}
	for _, a := range os.Args[1:] {
		switch a {
		case "--capabilities":
			os.Exit(capabilities())
		case "--version":
			fmt.Println("1.0.0")
			os.Exit(0)
		}
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 10<<20)
	for in.Scan() {
		line := in.Bytes()
		if len(line) == 0 {
			continue
		}
		logRequest(line)
		answer := handle(line)
		if err := json.NewEncoder(os.Stdout).Encode(answer); err != nil {
			fmt.Fprintln(os.Stderr, "upstreamsdk: writing answer:", err)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "upstreamsdk: reading requests:", err)
		os.Exit(1)
	}
}

func capabilities() int {
	f := features{PrepareFinalize: true, Pull: true}
	if cfg.Features != nil {
		f = *cfg.Features
	}
	caps := map[string]any{
		"name": "upsdk", "kind": "remote_adapter", "deploy_protocol_version": 1,
		"version": "1.0.0", "description": "test adapter shaped like the existing SDK's",
		"features": f,
	}
	if cfg.MaxPackSize > 0 {
		caps["limits"] = limits{MaxPackSize: cfg.MaxPackSize}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(caps); err != nil {
		return 1
	}
	return 0
}

// handle answers one request line.
func handle(line []byte) map[string]any {
	var head struct {
		Type      string `json:"type"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return errorAnswer("", &failure{Code: "invalid_request", Message: "failed to parse request JSON"})
	}
	var (
		resp any
		err  error
	)
	switch head.Type {
	case "push.prepare":
		resp, err = decodeAnd(line, pushPrepare)
	case "push.finalize":
		resp, err = decodeAnd(line, pushFinalize)
	case "pull.prepare":
		resp, err = decodeAnd(line, pullPrepare)
	case "pull.finalize":
		resp, err = decodeAnd(line, pullFinalize)
	default:
		err = &failure{Code: "unsupported_protocol", Message: "unknown request type: " + head.Type}
	}
	if err != nil {
		var f *failure
		if !errors.As(err, &f) {
			f = &failure{Code: "server_error", Message: err.Error()}
		}
		return errorAnswer(head.RequestID, f)
	}
	out := map[string]any{"type": head.Type, "ok": true, "request_id": head.RequestID}
	b, _ := json.Marshal(resp)
	var fields map[string]any
	_ = json.Unmarshal(b, &fields)
	for k, v := range fields {
		out[k] = v
	}
	if head.Type == "push.prepare" {
		switch cfg.Mangle {
		case "type":
			out["type"] = "pull.prepare"
		case "request_id":
			out["request_id"] = "not-" + head.RequestID
		case "finalize_token":
			delete(out, "finalize_token")
		}
	}
	return out
}

func decodeAnd[T any](line []byte, fn func(*T) (any, error)) (any, error) {
	var req T
	if err := json.Unmarshal(line, &req); err != nil {
		return nil, &failure{Code: "invalid_request", Message: "failed to parse request"}
	}
	return fn(&req)
}

func errorAnswer(id string, f *failure) map[string]any {
	return map[string]any{"type": "error", "ok": false, "request_id": id, "error": f}
}

// --- the handlers: a tiny registry in a folder ---

type packRef struct {
	Digest    string `json:"digest"`
	SizeBytes int64  `json:"size_bytes"`
}

// pulledPack is the SDK's pull answer about the pack: everything but the
// digest is left out when empty.
type pulledPack struct {
	Digest    string `json:"digest"`
	SizeBytes int64  `json:"size_bytes,omitempty"`
	Stream    string `json:"stream,omitempty"`
	CreatedAt string `json:"created_at,omitempty"`
	ReleaseID string `json:"release_id,omitempty"`
}

// pending is what prepare remembers for finalize.
type pending struct {
	Pack   packRef `json:"pack"`
	Stream string  `json:"stream"`
}

type upload struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt string            `json:"expires_at,omitempty"`
}

type release struct {
	ReleaseID  string `json:"release_id"`
	PackDigest string `json:"pack_digest"`
	Version    string `json:"version,omitempty"`
	CreatedAt  string `json:"created_at"` // handlers commonly leave it ""
}

type links struct {
	Release string `json:"release,omitempty"`
	Pack    string `json:"pack,omitempty"`
}

// record is what the store keeps per release.
type record struct {
	ReleaseID  string `json:"release_id"`
	PackDigest string `json:"pack_digest"`
	FileDigest string `json:"file_digest"`
	Size       int64  `json:"size"`
	Stream     string `json:"stream"`
}

func store() (string, error) {
	dir := os.Getenv(EnvStore)
	if dir == "" {
		return "", &failure{Code: "invalid_request", Message: EnvStore + " is not set; list it under the remote's secrets"}
	}
	return dir, nil
}

func logRequest(line []byte) {
	dir := os.Getenv(EnvStore)
	if dir == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "requests.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.Write(append(append([]byte{}, line...), '\n'))
}

func token() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func expiry() string { return time.Now().Add(time.Hour).UTC().Format(time.RFC3339) }

func pushPrepare(r *struct {
	RequestID string `json:"request_id"`
	Target    struct {
		Stream string `json:"stream"`
	} `json:"target"`
	Pack packRef `json:"pack"`
}) (any, error) {
	if cfg.PrepareError != nil {
		return nil, cfg.PrepareError
	}
	dir, err := store()
	if err != nil {
		return nil, err
	}
	tok := token()
	for _, d := range []string{"uploads", "pending", "packs", "releases"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	p, _ := json.Marshal(pending{Pack: r.Pack, Stream: r.Target.Stream})
	if err := os.WriteFile(filepath.Join(dir, "pending", tok+".json"), p, 0o644); err != nil {
		return nil, err
	}
	return struct {
		Upload        upload `json:"upload"`
		FinalizeToken string `json:"finalize_token"`
	}{upload{Method: "PUT", URL: fileURL(dir, "uploads", tok+".epack"), ExpiresAt: expiry()}, tok}, nil
}

func pushFinalize(r *struct {
	RequestID     string `json:"request_id"`
	FinalizeToken string `json:"finalize_token"`
}) (any, error) {
	dir, err := store()
	if err != nil {
		return nil, err
	}
	tok := filepath.Base(r.FinalizeToken)
	b, err := os.ReadFile(filepath.Join(dir, "pending", tok+".json"))
	if err != nil {
		return nil, &failure{Code: "not_found", Message: "unknown finalize token"}
	}
	var pend pending
	if err := json.Unmarshal(b, &pend); err != nil {
		return nil, err
	}
	want := pend.Pack
	up := filepath.Join(dir, "uploads", tok+".epack")
	sum, size, err := hashFile(up)
	if err != nil {
		return nil, &failure{Code: "not_found", Message: "nothing was uploaded for this token"}
	}
	if size != want.SizeBytes {
		return nil, &failure{Code: "invalid_request", Message: fmt.Sprintf("uploaded %d bytes, expected %d", size, want.SizeBytes)}
	}
	id := "rel-" + tok[:8]
	if err := os.Rename(up, filepath.Join(dir, "packs", id+".epack")); err != nil {
		return nil, err
	}
	rec, _ := json.Marshal(record{ReleaseID: id, PackDigest: want.Digest, FileDigest: sum, Size: size, Stream: pend.Stream})
	if err := os.WriteFile(filepath.Join(dir, "releases", id+".json"), rec, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest"), []byte(id), 0o644); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, "pending", tok+".json"))
	return struct {
		Release release `json:"release"`
		Links   *links  `json:"links,omitempty"`
	}{release{ReleaseID: id, PackDigest: want.Digest},
		&links{Release: "https://upsdk.invalid/releases/" + id, Pack: "https://upsdk.invalid/packs/" + id}}, nil
}

func pullPrepare(r *struct {
	RequestID string `json:"request_id"`
	Ref       struct {
		Digest    string `json:"digest"`
		ReleaseID string `json:"release_id"`
		Version   string `json:"version"`
		Latest    bool   `json:"latest"`
	} `json:"ref"`
}) (any, error) {
	dir, err := store()
	if err != nil {
		return nil, err
	}
	id := filepath.Base(r.Ref.ReleaseID)
	switch {
	case r.Ref.Latest:
		b, err := os.ReadFile(filepath.Join(dir, "latest"))
		if err != nil {
			return nil, &failure{Code: "not_found", Message: "nothing has been pushed"}
		}
		id = strings.TrimSpace(string(b))
	case r.Ref.Digest != "":
		id = ""
		ents, _ := os.ReadDir(filepath.Join(dir, "releases"))
		for _, e := range ents {
			if rec, err := readRecord(dir, strings.TrimSuffix(e.Name(), ".json")); err == nil && (rec.FileDigest == r.Ref.Digest || rec.PackDigest == r.Ref.Digest) {
				id = rec.ReleaseID
			}
		}
	case r.Ref.Version != "":
		return nil, &failure{Code: "not_found", Message: "versions are not supported"}
	}
	rec, err := readRecord(dir, id)
	if err != nil {
		return nil, &failure{Code: "not_found", Message: "no such release"}
	}
	// The handler leaves the method empty: the SDK still sends "method":"".
	type download struct {
		Method    string `json:"method"`
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at,omitempty"`
	}
	return struct {
		Download      download   `json:"download"`
		Pack          pulledPack `json:"pack"`
		FinalizeToken string     `json:"finalize_token"`
	}{download{URL: fileURL(dir, "packs", rec.ReleaseID+".epack"), ExpiresAt: expiry()},
		pulledPack{Digest: rec.FileDigest, SizeBytes: rec.Size, Stream: rec.Stream, ReleaseID: rec.ReleaseID}, token()}, nil
}

func pullFinalize(r *struct {
	RequestID     string `json:"request_id"`
	FinalizeToken string `json:"finalize_token"`
	PackDigest    string `json:"pack_digest"`
}) (any, error) {
	return struct {
		Confirmed bool `json:"confirmed"`
	}{true}, nil
}

func readRecord(dir, id string) (*record, error) {
	if id == "" || id != filepath.Base(id) {
		return nil, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(dir, "releases", id+".json"))
	if err != nil {
		return nil, err
	}
	var rec record
	return &rec, json.Unmarshal(b, &rec)
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

func fileURL(dir string, elem ...string) string {
	return "file://" + filepath.ToSlash(filepath.Join(append([]string{dir}, elem...)...))
}
