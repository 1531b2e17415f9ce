package adaptercheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/evidencerelay/epack/protocol"
)

// Target is the adapter binary under test and how it is started.
type Target struct {
	Bin string
	Env []string // the complete environment of the process
	Dir string   // working directory
}

// Case is one invocation the checker makes.
type Case struct {
	Name    string
	Command string // argv[1]
	// Stdin is sent as is (no trailing newline, as hosts send it); nil for
	// --capabilities and --version.
	Stdin []byte
	// RequestID is the id the answer must echo; "" when the request has
	// none that can be read (the answer must then carry "").
	RequestID string
	// Want is the outcome required beyond well-formedness.
	Want Outcome
	// Code, when set, is the error code an error answer must carry.
	Code string
}

// Outcome is what a case requires of the answer.
type Outcome int

const (
	// Either: a result or an error answer; both are conforming.
	Either Outcome = iota
	// Success: ok:true with type "<command>.result".
	Success
	// Failure: ok:false with type "error".
	Failure
)

// Answer is what one invocation produced.
type Answer struct {
	Exit           int
	Stdout, Stderr []byte
	// Doc is the decoded JSON answer of a protocol command.
	Doc map[string]any
}

// zeroHex is an all-zero SHA-256 in hex: a digest no registry has seen.
var zeroHex = strings.Repeat("0", 64)

// Known protocol error codes (COMPAT §5.8).
var knownCodes = map[string]bool{
	protocol.CodeUnsupportedProtocol: true, protocol.CodeInvalidRequest: true, protocol.CodeAuthRequired: true,
	protocol.CodeForbidden: true, protocol.CodeNotFound: true, protocol.CodeConflict: true,
	protocol.CodeRateLimited: true, protocol.CodeServerError: true, protocol.CodeNetworkError: true,
}

// Cases returns the checker's invocations. packPath is an absolute path
// for the pack fields of push requests (it need not exist).
func Cases(packPath string) []Case {
	target := map[string]any{"workspace": "checker", "environment": "conformance", "stream": "checker/never-seen"}
	pullTarget := map[string]any{"workspace": "checker", "environment": "conformance"}
	zeroPack := map[string]any{
		"path": packPath, "digest": "sha256:" + zeroHex, "manifest_digest": zeroHex,
		"file_digest": "sha256:" + zeroHex, "size_bytes": 1024, "checksum": "AAAAAAAAAAAAAAAAAAAAAA==",
	}
	req := func(typ, id string, fields map[string]any) []byte {
		m := map[string]any{"type": typ, "protocol_version": protocol.ProtocolVersion, "request_id": id}
		for k, v := range fields {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return b
	}
	pull := func(name string, ref map[string]any) Case {
		id := "chk-pull-prepare-" + strings.ReplaceAll(name, " ", "-")
		return Case{Name: "pull.prepare " + name, Command: protocol.CmdPullPrepare, RequestID: id, Want: Failure, Code: protocol.CodeNotFound,
			Stdin: req(protocol.CmdPullPrepare, id, map[string]any{"remote": "origin", "target": pullTarget, "ref": ref})}
	}
	return []Case{
		{Name: "capabilities", Command: protocol.CmdCapabilities},
		{Name: "version", Command: "--version"},
		{Name: "push.prepare all-zero digests", Command: protocol.CmdPushPrepare, RequestID: "chk-push-prepare", Want: Either,
			Stdin: req(protocol.CmdPushPrepare, "chk-push-prepare", map[string]any{"remote": "origin", "target": target, "pack": zeroPack,
				"release": map[string]any{"labels": []string{"checker"}}})},
		{Name: "push.finalize made-up token", Command: protocol.CmdPushFinalize, RequestID: "chk-push-finalize", Want: Failure,
			Stdin: req(protocol.CmdPushFinalize, "chk-push-finalize", map[string]any{"remote": "origin", "target": target,
				"pack": map[string]any{"path": packPath, "digest": "sha256:" + zeroHex, "size_bytes": 1024}, "finalize_token": "made-up-token-0000"})},
		pull("unknown digest", map[string]any{"digest": "sha256:" + zeroHex}),
		pull("unknown release id", map[string]any{"release_id": "rel_00000000000000000000000000"}),
		pull("unknown version", map[string]any{"version": "v0.0.0-never"}),
		{Name: "pull.prepare latest of an unknown stream", Command: protocol.CmdPullPrepare, RequestID: "chk-pull-latest", Want: Failure, Code: protocol.CodeNotFound,
			Stdin: req(protocol.CmdPullPrepare, "chk-pull-latest", map[string]any{"remote": "origin", "target": target, "ref": map[string]any{"latest": true}})},
		{Name: "pull.finalize made-up token", Command: protocol.CmdPullFinalize, RequestID: "chk-pull-finalize", Want: Either,
			Stdin: req(protocol.CmdPullFinalize, "chk-pull-finalize", map[string]any{"remote": "origin", "target": pullTarget,
				"digest": "sha256:" + zeroHex, "finalize_token": "made-up-token-0000"})},
		{Name: "runs.sync unknown pack", Command: protocol.CmdRunsSync, RequestID: "chk-runs-sync", Want: Either,
			Stdin: req(protocol.CmdRunsSync, "chk-runs-sync", map[string]any{"target": target, "file_digest": "sha256:" + zeroHex,
				"runs": []map[string]any{{"run_id": "run-000", "result_path": packPath + ".runs/tools/x/run-000/result.json", "result_digest": "sha256:" + zeroHex}}})},
		{Name: "releases.list of an unknown stream", Command: protocol.CmdReleasesList, RequestID: "chk-releases", Want: Success,
			Stdin: req(protocol.CmdReleasesList, "chk-releases", map[string]any{"remote": "origin", "target": target, "labels": []string{"checker"}, "limit": 10})},
		{Name: "releases.list bad cursor", Command: protocol.CmdReleasesList, RequestID: "chk-releases-cursor", Want: Failure, Code: protocol.CodeInvalidRequest,
			Stdin: req(protocol.CmdReleasesList, "chk-releases-cursor", map[string]any{"remote": "origin", "target": pullTarget, "cursor": "made-up"})},
		{Name: "auth.whoami", Command: protocol.CmdAuthWhoami, RequestID: "chk-whoami", Want: Success,
			Stdin: req(protocol.CmdAuthWhoami, "chk-whoami", nil)},
		{Name: "auth.login", Command: protocol.CmdAuthLogin, RequestID: "chk-login", Want: Failure, Code: protocol.CodeUnsupportedProtocol,
			Stdin: req(protocol.CmdAuthLogin, "chk-login", nil)},
		{Name: "unknown command", Command: "deploy.everything", RequestID: "chk-unknown", Want: Failure, Code: protocol.CodeUnsupportedProtocol,
			Stdin: req("deploy.everything", "chk-unknown", nil)},
		{Name: "malformed JSON", Command: protocol.CmdPushPrepare, Want: Failure, Code: protocol.CodeInvalidRequest,
			Stdin: []byte(`{"type":"push.prepare","protocol_version":1,"request_id":`)},
		{Name: "empty stdin", Command: protocol.CmdPullPrepare, Want: Failure, Code: protocol.CodeInvalidRequest, Stdin: []byte{}},
		{Name: "duplicate keys", Command: protocol.CmdAuthWhoami, RequestID: "chk-dup", Want: Failure, Code: protocol.CodeInvalidRequest,
			Stdin: []byte(`{"type":"auth.whoami","type":"auth.whoami","protocol_version":1,"request_id":"chk-dup"}`)},
		{Name: "wrong protocol_version", Command: protocol.CmdPushPrepare, RequestID: "chk-proto", Want: Failure, Code: protocol.CodeUnsupportedProtocol,
			Stdin: []byte(`{"type":"push.prepare","protocol_version":99,"request_id":"chk-proto","remote":"origin"}`)},
		{Name: "type does not match command", Command: protocol.CmdPushFinalize, RequestID: "chk-mismatch", Want: Failure, Code: protocol.CodeInvalidRequest,
			Stdin: req(protocol.CmdPullFinalize, "chk-mismatch", nil)},
	}
}

// Run invokes the adapter once for c.
func Run(ctx context.Context, tg Target, c Case) (Answer, error) {
	cmd := exec.CommandContext(ctx, tg.Bin, c.Command)
	cmd.Env, cmd.Dir = tg.Env, tg.Dir
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	a := Answer{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		a.Exit = ee.ExitCode()
	case err != nil:
		return a, fmt.Errorf("starting %s: %w", tg.Bin, err)
	}
	return a, nil
}

// Verify checks an answer against its case; every problem is reported.
func Verify(c Case, a Answer) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if a.Exit != 0 {
		add("exit status %d, want 0", a.Exit)
	}
	switch c.Command {
	case protocol.CmdCapabilities:
		var caps protocol.Capabilities
		if err := protocol.DecodeStrict(a.Stdout, &caps); err != nil {
			add("capabilities are not one JSON object: %v", err)
		} else if caps.Name == "" || caps.Kind != "remote_adapter" || caps.DeployProtocolVersion != protocol.ProtocolVersion {
			add("capabilities name %q kind %q deploy_protocol_version %d", caps.Name, caps.Kind, caps.DeployProtocolVersion)
		}
	case "--version":
		if v := string(a.Stdout); strings.TrimSpace(v) == "" || strings.Count(strings.TrimRight(v, "\n"), "\n") != 0 {
			add("--version printed %q, want one non-empty line", v)
		}
	default:
		verifyProtocolAnswer(c, a, add)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s\n  stdout: %q\n  stderr: %q", c.Name, strings.Join(problems, "; "), a.Stdout, a.Stderr)
}

func verifyProtocolAnswer(c Case, a Answer, add func(string, ...any)) {
	if err := protocol.CheckJSON(a.Stdout); err != nil {
		add("stdout is not exactly one well-formed JSON value: %v", err)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(a.Stdout, &doc); err != nil || doc == nil {
		add("the answer is not a JSON object")
		return
	}
	ok, isBool := doc["ok"].(bool)
	typ, _ := doc["type"].(string)
	id, hasID := doc["request_id"].(string)
	if !isBool {
		add(`"ok" is missing or not a boolean`)
	}
	if !hasID || id != c.RequestID {
		add("request_id %v, want %q", doc["request_id"], c.RequestID)
	}
	if ok {
		if want := protocol.ResultType(c.Command); typ != want {
			add("type %q, want %q", typ, want)
		}
		if _, has := doc["error"]; has {
			add(`ok:true together with an "error" object`)
		}
		if c.Want == Failure {
			add("a result, want an error answer")
		}
		return
	}
	if typ != protocol.TypeError {
		add("error answer with type %q, want %q", typ, protocol.TypeError)
	}
	e, _ := doc["error"].(map[string]any)
	if e == nil {
		add(`error answer without an "error" object`)
		return
	}
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if !knownCodes[code] {
		add("error.code %q is not a protocol code", code)
	}
	if c.Code != "" && code != c.Code {
		add("error.code %q, want %q", code, c.Code)
	}
	if strings.TrimSpace(msg) == "" {
		add("error.message is empty")
	}
	if r, has := e["retryable"]; has {
		if _, isBool := r.(bool); !isBool {
			add("error.retryable %v is not a boolean", r)
		}
	}
	if c.Want == Success {
		add("an error answer (%s: %s), want a result", code, msg)
	}
}

// upstreamAllowlist is the parent environment the existing epack tool's host
// passes to an adapter (COMPAT §4.4), compared ignoring case.
var upstreamAllowlist = strings.Fields(`HOME USER LANG LC_ALL LC_CTYPE TZ TMPDIR TEMP TMP TERM NO_COLOR
	CLICOLOR CLICOLOR_FORCE SSL_CERT_FILE SSL_CERT_DIR HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy
	https_proxy no_proxy XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME XDG_STATE_HOME XDG_RUNTIME_DIR`)

// UpstreamEnv is the environment the existing epack tool's host gives an
// adapter for a protocol command: the allowlisted variables of parent, its
// PATH, EPACK_REMOTE_PROTOCOL_VERSION=1, then each secret ("NAME=value";
// names with the reserved EPACK_ prefix are dropped, as that host refuses
// them, and so are empty values). No EPACK_REMOTE_FILE_ROOT, no
// EPACK_REMOTE_CONFIG, no EPACK_REMOTE_NAME. (That host also strips
// user:pass@ from proxy variables; UpstreamEnv passes them unchanged.)
func UpstreamEnv(parent []string, secrets ...string) []string {
	var env []string
	pathDone := false
	for _, kv := range parent {
		name, _, _ := strings.Cut(kv, "=")
		if strings.EqualFold(name, "PATH") {
			if !pathDone {
				env, pathDone = append(env, kv), true
			}
			continue
		}
		for _, a := range upstreamAllowlist {
			if strings.EqualFold(name, a) {
				env = append(env, kv)
				break
			}
		}
	}
	env = append(env, protocol.EnvProtocolVersion+"=1")
	for _, kv := range secrets {
		name, value, _ := strings.Cut(kv, "=")
		if value == "" || strings.HasPrefix(strings.ToUpper(name), "EPACK_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
