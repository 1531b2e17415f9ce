package sourceinstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/evidencerelay/epack/errcode"
)

// Environment variables read by NewGitHubFromEnv.
const (
	EnvGitHubAPIURL = "GITHUB_API_URL"
	EnvGitHubToken  = "GITHUB_TOKEN"
	DefaultAPIURL   = "https://api.github.com"
)

// Response size limits.
const (
	maxAPIBytes          = 8 << 20   // one page of JSON
	maxBundleBytes       = 4 << 20   // a Sigstore bundle
	DefaultMaxAssetBytes = 512 << 20 // an adapter binary
	maxReleasePages      = 20        // 100 releases a page
	maxRedirects         = 5
)

// GitHub is a small client for the GitHub REST API releases endpoints.
type GitHub struct {
	// BaseURL is the API root, e.g. https://api.github.com. It must be https.
	BaseURL string
	// Token is sent as "Authorization: Bearer" to the API host only.
	Token string
	// HTTP is the client used; nil means a client with a 60 s timeout.
	// Tests inject one that trusts their TLS server.
	HTTP *http.Client
	// Attempts is how many times a rate-limited or failed (5xx, network)
	// request is tried in all (default 4).
	Attempts int
	// MaxWait caps one wait for a rate-limit reset; a longer reset fails at
	// once with a clear message (default 60 s).
	MaxWait time.Duration
	// Sleep waits between attempts (default: a timer honouring ctx). Tests
	// replace it to run without delay.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxAssetBytes bounds one downloaded asset (default DefaultMaxAssetBytes).
	MaxAssetBytes int64
}

// NewGitHubFromEnv returns a client for $GITHUB_API_URL (default
// https://api.github.com) with $GITHUB_TOKEN.
func NewGitHubFromEnv() *GitHub {
	base := strings.TrimSpace(os.Getenv(EnvGitHubAPIURL))
	if base == "" {
		base = DefaultAPIURL
	}
	return &GitHub{BaseURL: base, Token: strings.TrimSpace(os.Getenv(EnvGitHubToken))}
}

// Release is the part of a GitHub release this package uses.
type Release struct {
	TagName    string  `json:"tag_name"`
	Draft      bool    `json:"draft"`
	Prerelease bool    `json:"prerelease"`
	HTMLURL    string  `json:"html_url"`
	Assets     []Asset `json:"assets"`
}

// Asset is a release asset.
type Asset struct {
	Name               string `json:"name"`
	Size               int64  `json:"size"`
	URL                string `json:"url"`                  // API URL (Accept: application/octet-stream)
	BrowserDownloadURL string `json:"browser_download_url"` // public download URL
	// Digest is GitHub's own "sha256:<hex>" for the asset when it reports one.
	Digest string `json:"digest,omitempty"`
}

// Asset returns the asset called name, or nil.
func (r *Release) Asset(name string) *Asset {
	for i := range r.Assets {
		if r.Assets[i].Name == name {
			return &r.Assets[i]
		}
	}
	return nil
}

func (g *GitHub) base() (*url.URL, error) {
	raw := strings.TrimRight(strings.TrimSpace(g.BaseURL), "/")
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errcode.New(errcode.ConfigInvalid, "%s %q is not a valid URL", EnvGitHubAPIURL, g.BaseURL)
	}
	if u.Scheme != "https" {
		return nil, errcode.New(errcode.URLNotAllowed, "%s %q must use https", EnvGitHubAPIURL, g.BaseURL)
	}
	return u, nil
}

func (g *GitHub) client() *http.Client {
	c := g.HTTP
	if c == nil {
		c = &http.Client{Timeout: 60 * time.Second}
	}
	cp := *c
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if req.URL.Scheme != "https" {
			return errcode.New(errcode.URLNotAllowed, "refusing redirect to non-https URL %s", redactURL(req.URL))
		}
		return nil
	}
	return &cp
}

// apiURL joins the API root and a path (segments already escaped).
func (g *GitHub) apiURL(path string, query url.Values) (*url.URL, error) {
	b, err := g.base()
	if err != nil {
		return nil, err
	}
	u := *b
	u.Path = strings.TrimRight(b.Path, "/") + path
	u.RawPath = ""
	if query != nil {
		u.RawQuery = query.Encode()
	}
	return &u, nil
}

func repoPath(owner, repo string) string {
	return "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
}

// ListReleases returns every release of owner/repo (following pagination,
// at most 2000 releases).
func (g *GitHub) ListReleases(ctx context.Context, owner, repo string) ([]Release, error) {
	var all []Release
	page := 1
	for range maxReleasePages {
		u, err := g.apiURL(repoPath(owner, repo)+"/releases", url.Values{"per_page": {"100"}, "page": {strconv.Itoa(page)}})
		if err != nil {
			return nil, err
		}
		var rels []Release
		hdr, err := g.getJSON(ctx, u, &rels)
		if err != nil {
			return nil, err
		}
		all = append(all, rels...)
		next := nextLink(hdr.Get("Link"))
		if next == "" || len(rels) == 0 {
			return all, nil
		}
		page++
	}
	return all, nil
}

var linkNext = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

func nextLink(h string) string {
	if m := linkNext.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
}

// ReleaseByTag returns the release with tag.
func (g *GitHub) ReleaseByTag(ctx context.Context, owner, repo, tag string) (*Release, error) {
	u, err := g.apiURL(repoPath(owner, repo)+"/releases/tags/"+url.PathEscape(tag), nil)
	if err != nil {
		return nil, err
	}
	var rel Release
	if _, err := g.getJSON(ctx, u, &rel); err != nil {
		return nil, err
	}
	return &rel, nil
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// TagCommit returns the commit SHA the tag points to.
func (g *GitHub) TagCommit(ctx context.Context, owner, repo, tag string) (string, error) {
	u, err := g.apiURL(repoPath(owner, repo)+"/commits/"+url.PathEscape(tag), nil)
	if err != nil {
		return "", err
	}
	var c struct {
		SHA string `json:"sha"`
	}
	if _, err := g.getJSON(ctx, u, &c); err != nil {
		return "", err
	}
	if !commitSHA.MatchString(c.SHA) {
		return "", errcode.New(errcode.NetworkError, "GitHub returned an invalid commit %q for %s/%s tag %s", c.SHA, owner, repo, tag)
	}
	return c.SHA, nil
}

func (g *GitHub) getJSON(ctx context.Context, u *url.URL, into any) (http.Header, error) {
	resp, err := g.do(ctx, u, "application/vnd.github+json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readLimited(resp.Body, maxAPIBytes)
	if err != nil {
		return nil, errcode.Wrap(errcode.NetworkError, err, "reading %s", redactURL(u))
	}
	if err := json.Unmarshal(data, into); err != nil {
		return nil, errcode.Wrap(errcode.NetworkError, err, "GitHub API %s: unexpected response", redactURL(u))
	}
	return resp.Header, nil
}

// Download fetches an asset into w (at most limit bytes, 0 = MaxAssetBytes)
// and returns its "sha256:<hex>" digest and size. The API URL is used when
// it is on the API host (so a token works for private repositories), the
// browser download URL otherwise.
func (g *GitHub) Download(ctx context.Context, a *Asset, w io.Writer, limit int64) (string, int64, error) {
	if limit <= 0 {
		limit = g.MaxAssetBytes
		if limit <= 0 {
			limit = DefaultMaxAssetBytes
		}
	}
	u, err := g.assetURL(a)
	if err != nil {
		return "", 0, err
	}
	resp, err := g.do(ctx, u, "application/octet-stream")
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return "", 0, errcode.New(errcode.ArtifactTooLarge, "asset %s is %d bytes, more than the %d allowed", a.Name, resp.ContentLength, limit)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return "", n, errcode.Wrap(errcode.DownloadFailed, err, "downloading %s", a.Name)
	}
	if n > limit {
		return "", n, errcode.New(errcode.ArtifactTooLarge, "asset %s is larger than the %d bytes allowed", a.Name, limit)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return "", n, errcode.New(errcode.DownloadFailed, "downloading %s: got %d of %d bytes", a.Name, n, resp.ContentLength)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

// DownloadBytes fetches a small asset (a bundle) into memory.
func (g *GitHub) DownloadBytes(ctx context.Context, a *Asset, limit int64) ([]byte, error) {
	var buf limitedBuffer
	if _, _, err := g.Download(ctx, a, &buf, limit); err != nil {
		return nil, err
	}
	return buf.b, nil
}

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) { l.b = append(l.b, p...); return len(p), nil }

func (g *GitHub) assetURL(a *Asset) (*url.URL, error) {
	b, err := g.base()
	if err != nil {
		return nil, err
	}
	for _, raw := range []string{a.URL, a.BrowserDownloadURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			continue
		}
		if raw == a.URL && !strings.EqualFold(u.Host, b.Host) {
			continue
		}
		return u, nil
	}
	return nil, errcode.New(errcode.URLNotAllowed, "asset %s has no https download URL", a.Name)
}

// StatusError is a non-2xx answer of the GitHub API.
type StatusError struct {
	URL        string
	StatusCode int
	Message    string
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("GitHub API %s: %d %s: %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Message)
	}
	return fmt.Sprintf("GitHub API %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.StatusCode == http.StatusNotFound
}

// do sends a GET with retries: rate limits (403/429 with
// X-RateLimit-Remaining: 0 or Retry-After) wait for the reset, 5xx and
// network errors back off exponentially. The caller closes the body of the
// 2xx response returned.
func (g *GitHub) do(ctx context.Context, u *url.URL, accept string) (*http.Response, error) {
	attempts := g.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	maxWait := g.MaxWait
	if maxWait <= 0 {
		maxWait = 60 * time.Second
	}
	sleep := g.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	b, err := g.base()
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" {
		return nil, errcode.New(errcode.URLNotAllowed, "refusing non-https URL %s", redactURL(u))
	}
	c := g.client()
	backoff := 500 * time.Millisecond
	var lastErr error
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, errcode.Wrap(errcode.InvalidInput, err, "building request")
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		req.Header.Set("User-Agent", "epack-sourceinstall")
		if g.Token != "" && strings.EqualFold(u.Host, b.Host) {
			req.Header.Set("Authorization", "Bearer "+g.Token)
		}
		resp, err := c.Do(req)
		wait := backoff
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, errcode.Wrap(errcode.Canceled, ctx.Err(), "GitHub API %s", redactURL(u))
			}
			var ce *errcode.Error
			if errors.As(err, &ce) {
				return nil, err
			}
			// url.Error repeats the URL with its query (which may hold a
			// signed download token): keep only the cause.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			lastErr = errcode.Wrap(errcode.NetworkError, err, "GitHub API %s", redactURL(u))
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, nil
		default:
			body, _ := readLimited(resp.Body, 64<<10)
			resp.Body.Close()
			msg := apiMessage(body)
			if rl, ok := rateLimited(resp, time.Now()); ok {
				reset := ""
				if t := resp.Header.Get("X-RateLimit-Reset"); t != "" {
					if sec, err := strconv.ParseInt(t, 10, 64); err == nil {
						reset = " (the limit resets at " + time.Unix(sec, 0).UTC().Format(time.RFC3339) + ")"
					}
				}
				hint := "wait and try again"
				if g.Token == "" {
					hint = "set GITHUB_TOKEN to raise the limit, or wait and try again"
				}
				lastErr = errcode.New(errcode.NetworkError, "GitHub API rate limit exceeded for %s%s after %d attempt(s)", redactURL(u), reset, attempt).WithHint("%s", hint)
				if rl > maxWait {
					return nil, errcode.New(errcode.NetworkError, "GitHub API rate limit exceeded for %s%s; waiting %s is longer than allowed", redactURL(u), reset, rl.Round(time.Second)).WithHint("%s", hint)
				}
				if rl > wait {
					wait = rl
				}
			} else if resp.StatusCode >= 500 {
				lastErr = errcode.Wrap(errcode.NetworkError, &StatusError{URL: redactURL(u), StatusCode: resp.StatusCode, Message: msg}, "GitHub API request failed")
			} else {
				se := &StatusError{URL: redactURL(u), StatusCode: resp.StatusCode, Message: msg}
				code := errcode.NetworkError
				switch resp.StatusCode {
				case http.StatusNotFound:
					code = errcode.RemoteNotFound
				case http.StatusUnauthorized:
					code = errcode.AuthRequired
				case http.StatusForbidden:
					code = errcode.RemoteForbidden
				}
				return nil, errcode.Wrap(code, se, "GitHub API request failed")
			}
		}
		if attempt >= attempts {
			return nil, lastErr
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, errcode.Wrap(errcode.Canceled, err, "GitHub API %s", redactURL(u))
		}
		backoff *= 2
	}
}

// rateLimited reports whether resp is a rate-limit answer and how long to wait.
func rateLimited(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if sec, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && sec >= 0 {
			return time.Duration(sec) * time.Second, true
		}
		if t, err := http.ParseTime(ra); err == nil {
			return max(t.Sub(now), 0), true
		}
		return time.Second, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if sec, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(sec, 0).Sub(now), 0), true
		}
		return time.Second, true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return time.Second, true
	}
	return 0, false
}

func apiMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &m) == nil && m.Message != "" {
		if len(m.Message) > 300 {
			return m.Message[:300] + "…"
		}
		return m.Message
	}
	return ""
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("response is larger than %d bytes", limit)
	}
	return data, nil
}

// redactURL drops the query (signed download URLs carry credentials there).
func redactURL(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
