package transfer

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/evidencerelay/epack/errcode"
)

// scripted is a download server that answers request i with steps[i] (the
// last step repeats) and logs the headers of every request it saw, so tests
// count attempts and read the exact Range/If-Range sent.
type scripted struct {
	t     *testing.T
	steps []func(w http.ResponseWriter, r *http.Request)

	mu  sync.Mutex
	log []http.Header
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := len(s.log)
	s.log = append(s.log, r.Header.Clone())
	s.mu.Unlock()
	s.steps[min(i, len(s.steps)-1)](w, r)
}

func (s *scripted) seen() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.log...)
}

// ranges lists the Range header of each request ("" for a plain GET).
func (s *scripted) ranges() []string {
	var out []string
	for _, h := range s.seen() {
		out = append(out, h.Get("Range"))
	}
	return out
}

// cutBeforeBody as answer200's cutAt ends the connection right after the
// headers.
const cutBeforeBody = -1

// answer200 serves data whole with the given extra headers; cutAt > 0 ends
// the connection after that many body bytes (flushed, then FIN).
func answer200(t *testing.T, data []byte, cutAt int, hdr map[string]string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		if cutAt == cutBeforeBody {
			w.(http.Flusher).Flush()
			cutConn(t, w)
			return
		}
		if cutAt > 0 {
			w.Write(data[:cutAt])
			w.(http.Flusher).Flush()
			cutConn(t, w)
			return
		}
		w.Write(data)
	}
}

// chunked as answer206's clen sends the body without a Content-Length.
const chunked = -2

// answer206 answers with status 206, the given Content-Range and body, and a
// Content-Length of clen (-1: the body's length; chunked: none).
func answer206(contentRange string, body []byte, clen int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", contentRange)
		if clen == chunked {
			w.WriteHeader(http.StatusPartialContent)
			half := len(body) / 2
			w.Write(body[:half])
			w.(http.Flusher).Flush()
			w.Write(body[half:])
			return
		}
		if clen < 0 {
			clen = len(body)
		}
		w.Header().Set("Content-Length", strconv.Itoa(clen))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body[:min(clen, len(body))])
	}
}

func answerStatus(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

func joinRanges(r []string) string { return strings.Join(r, "|") }

// TestDownloadPartialContentChecks drives the resume path: the first answer
// (a 200 offering byte ranges) is cut after `at` bytes, the range request gets
// the 206 (or 416) under test, and the table says whether the client takes
// it (two requests) or throws the partial data away and starts again with a
// plain GET (three requests). Either way the result must be the exact data.
func TestDownloadPartialContentChecks(t *testing.T) {
	data := testData(300 << 10)
	const at = 100 << 10
	n := len(data)
	tail := data[at:]
	full := answer200(t, data, 0, map[string]string{"Accept-Ranges": "bytes", "ETag": `"v1"`})
	rng := fmt.Sprintf("bytes=%d-", at)
	took := joinRanges([]string{"", rng})
	restarted := joinRanges([]string{"", rng, ""})
	cases := []struct {
		name   string
		second func(http.ResponseWriter, *http.Request)
		want   string
	}{
		{"exact continuation", answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), tail, -1), took},
		{"unknown total", answer206(fmt.Sprintf("bytes %d-%d/*", at, n-1), tail, -1), took},
		{"spaces around", answer206(fmt.Sprintf("  bytes %d-%d/%d ", at, n-1, n), tail, -1), took},
		{"wrong start (one early)", answer206(fmt.Sprintf("bytes %d-%d/%d", at-1, n-1, n), data[at-1:], -1), restarted},
		{"wrong start (one late)", answer206(fmt.Sprintf("bytes %d-%d/%d", at+1, n-1, n), data[at+1:], -1), restarted},
		{"wrong total (announced size differs)", answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n+1), tail, -1), restarted},
		{"end at total", answer206(fmt.Sprintf("bytes %d-%d/%d", at, n, n), tail, -1), restarted},
		{"end before start", answer206(fmt.Sprintf("bytes %d-%d/%d", at, at-1, n), tail, -1), restarted},
		{"Content-Length one short of the range", answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), tail, len(tail)-1), restarted},
		{"Content-Length 0", answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), nil, 0), restarted},
		{"chunked continuation", answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), tail, chunked), took},
		{"no Content-Range", answer206("", tail, -1), restarted},
		{"not bytes", answer206(fmt.Sprintf("items %d-%d/%d", at, n-1, n), tail, -1), restarted},
		{"no slash", answer206(fmt.Sprintf("bytes %d-%d", at, n-1), tail, -1), restarted},
		{"no dash", answer206(fmt.Sprintf("bytes %d/%d", at, n), tail, -1), restarted},
		{"start not a number", answer206(fmt.Sprintf("bytes x-%d/%d", n-1, n), tail, -1), restarted},
		{"end not a number", answer206(fmt.Sprintf("bytes %d-y/%d", at, n), tail, -1), restarted},
		{"total not a number", answer206(fmt.Sprintf("bytes %d-%d/z", at, n-1), tail, -1), restarted},
		{"negative start", answer206(fmt.Sprintf("bytes -%d-%d/%d", at, n-1, n), tail, -1), restarted},
		{"416 when resuming", answerStatus(http.StatusRequestedRangeNotSatisfiable, ""), restarted},
		// A 200 to the range request: the body is taken from byte 0.
		{"200 to the range request", full, took},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){
				answer200(t, data, at, map[string]string{"Accept-Ranges": "bytes", "ETag": `"v1"`}),
				tc.second,
				full,
			}}
			srv := newServer(t, s.ServeHTTP)
			f := destFile(t)
			c := fastClient()
			c.Retry.Attempts = 3
			res, err := c.Download(context.Background(), getReq(srv.URL, f, int64(n)))
			if err != nil {
				t.Fatalf("%v (ranges %q)", err, s.ranges())
			}
			checkDest(t, f, res, data)
			if got := joinRanges(s.ranges()); got != tc.want {
				t.Fatalf("Range headers %q, want %q", got, tc.want)
			}
			seen := s.seen()
			if ir := seen[1].Get("If-Range"); ir != `"v1"` {
				t.Fatalf("If-Range %q, want the first answer's ETag", ir)
			}
			for i, h := range seen {
				if h.Get("Accept-Encoding") != "identity" {
					t.Fatalf("request %d: Accept-Encoding %q, want identity", i, h.Get("Accept-Encoding"))
				}
			}
			if len(seen) == 3 && (seen[2].Get("Range") != "" || seen[2].Get("If-Range") != "") {
				t.Fatalf("restart sent Range %q If-Range %q", seen[2].Get("Range"), seen[2].Get("If-Range"))
			}
		})
	}
}

// TestDownloadPartialContentUnknownSize: with no announced size the total
// of a 206 is not compared with an announced one, but it must still lie past
// the range's end, and the range must continue where the data stopped.
func TestDownloadPartialContentUnknownSize(t *testing.T) {
	data := testData(200 << 10)
	const at = 50 << 10
	n := len(data)
	rng := fmt.Sprintf("bytes=%d-", at)
	took := joinRanges([]string{"", rng})
	restarted := joinRanges([]string{"", rng, ""})
	cases := []struct {
		name   string
		object []byte
		second func(http.ResponseWriter, *http.Request)
		want   string
	}{
		{"exact continuation", data, answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), data[at:], -1), took},
		{"chunked continuation", data, answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), data[at:], chunked), took},
		{"one byte left", data[:at+1], answer206(fmt.Sprintf("bytes %d-%d/%d", at, at, at+1), data[at:at+1], -1), took},
		{"end equals total", data, answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n-1), data[at:], -1), restarted},
		{"total 0", data, answer206(fmt.Sprintf("bytes %d-%d/0", at, n-1), data[at:], -1), restarted},
		{"end before start", data, answer206(fmt.Sprintf("bytes %d-%d/%d", at, at-1, n), nil, 0), restarted},
		{"Content-Length 0", data, answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), nil, 0), restarted},
		{"negative end", data, answer206(fmt.Sprintf("bytes %d--5/%d", at, n), data[at:], -1), restarted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){
				answer200(t, tc.object, at, map[string]string{"Accept-Ranges": "bytes"}),
				tc.second,
				answer200(t, tc.object, 0, map[string]string{"Accept-Ranges": "bytes"}),
			}}
			srv := newServer(t, s.ServeHTTP)
			f := destFile(t)
			res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, 0))
			if err != nil {
				t.Fatalf("%v (ranges %q)", err, s.ranges())
			}
			checkDest(t, f, res, tc.object)
			if got := joinRanges(s.ranges()); got != tc.want {
				t.Fatalf("Range headers %q, want %q", got, tc.want)
			}
			if ir := s.seen()[1].Get("If-Range"); ir != "" {
				t.Fatalf("If-Range %q sent without an ETag", ir)
			}
		})
	}
}

// TestDownloadUnexpectedPartialAndRangeAnswers: a 206 or a 416 to a request
// that asked for no range is a plain failure, not retried, nothing kept.
func TestDownloadUnexpectedPartialAndRangeAnswers(t *testing.T) {
	data := testData(10 << 10)
	cases := []struct {
		name   string
		answer func(http.ResponseWriter, *http.Request)
		msg    string
	}{
		{"206 to a plain GET", answer206(fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)), data, -1), "206"},
		{"416 to a plain GET", answerStatus(http.StatusRequestedRangeNotSatisfiable, "bad range"), "416"},
	}
	for _, tc := range cases {
		for _, size := range []int64{0, int64(len(data))} {
			t.Run(fmt.Sprintf("%s/size %d", tc.name, size), func(t *testing.T) {
				s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){tc.answer}}
				srv := newServer(t, s.ServeHTTP)
				f := destFile(t)
				_, err := fastClient().Download(context.Background(), getReq(srv.URL, f, size))
				wantCode(t, err, errcode.DownloadFailed)
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error does not name status %s: %v", tc.msg, err)
				}
				if got := s.ranges(); len(got) != 1 || got[0] != "" {
					t.Fatalf("requests %q, want one plain GET", got)
				}
				if st, err := f.Stat(); err != nil || st.Size() != 0 {
					t.Fatalf("dest holds data after refusal: %v %v", st.Size(), err)
				}
			})
		}
	}
}

// TestDownloadAcceptRangesAndETag: resuming is offered only by an
// "Accept-Ranges: bytes" answer (case and spaces aside), and only a strong
// ETag is sent back as If-Range.
func TestDownloadAcceptRangesAndETag(t *testing.T) {
	data := testData(200 << 10)
	const at = 60 << 10
	n := len(data)
	rng := fmt.Sprintf("bytes=%d-", at)
	cases := []struct {
		name        string
		hdr         map[string]string
		wantRanges  []string
		wantIfRange string
	}{
		{"bytes", map[string]string{"Accept-Ranges": "bytes", "ETag": `"e1"`}, []string{"", rng}, `"e1"`},
		{"Bytes with spaces", map[string]string{"Accept-Ranges": "  Bytes ", "ETag": `"e1"`}, []string{"", rng}, `"e1"`},
		{"weak ETag", map[string]string{"Accept-Ranges": "bytes", "ETag": `W/"e1"`}, []string{"", rng}, ""},
		{"none", map[string]string{"Accept-Ranges": "none", "ETag": `"e1"`}, []string{"", ""}, ""},
		{"absent", map[string]string{"ETag": `"e1"`}, []string{"", ""}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){
				answer200(t, data, at, tc.hdr),
				func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Range") == "" {
						answer200(t, data, 0, nil)(w, r)
						return
					}
					answer206(fmt.Sprintf("bytes %d-%d/%d", at, n-1, n), data[at:], -1)(w, r)
				},
			}}
			srv := newServer(t, s.ServeHTTP)
			f := destFile(t)
			res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, int64(n)))
			if err != nil {
				t.Fatal(err)
			}
			checkDest(t, f, res, data)
			if got := joinRanges(s.ranges()); got != joinRanges(tc.wantRanges) {
				t.Fatalf("Range headers %q, want %q", got, tc.wantRanges)
			}
			if ir := s.seen()[1].Get("If-Range"); ir != tc.wantIfRange {
				t.Fatalf("If-Range %q, want %q", ir, tc.wantIfRange)
			}
		})
	}
}

// TestDownloadContentLengthLimits: a Content-Length over the cap or other
// than the announced size is refused before any byte is written, and not
// retried; a Content-Length exactly at the cap is accepted (and a body that
// then ends early is a network error, not a size refusal).
func TestDownloadContentLengthLimits(t *testing.T) {
	announce := func(clen int64, body []byte) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.FormatInt(clen, 10))
			w.WriteHeader(http.StatusOK)
			w.Write(body)
			w.(http.Flusher).Flush()
			if int64(len(body)) < clen {
				cutConn(t, w)
			}
		}
	}
	small := testData(1000)
	cases := []struct {
		name     string
		clen     int64
		expected int64
		code     errcode.Code
		requests int
		msg      string
	}{
		{"over the cap, size unknown", MaxDownloadSize + 1, 0, errcode.SizeMismatch, 1, "cap"},
		{"far over the cap", 1 << 62, 0, errcode.SizeMismatch, 1, "cap"},
		{"at the cap, body ends early", MaxDownloadSize, 0, errcode.NetworkError, 2, "reading body"},
		{"larger than announced", 1001, 1000, errcode.SizeMismatch, 1, "Content-Length"},
		{"smaller than announced", 999, 1000, errcode.SizeMismatch, 1, "Content-Length"},
		{"empty body, size announced", 0, 1000, errcode.SizeMismatch, 1, "Content-Length"},
		{"over the cap and the announced size", MaxDownloadSize + 1, 1000, errcode.SizeMismatch, 1, "Content-Length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){announce(tc.clen, small)}}
			srv := newServer(t, s.ServeHTTP)
			c := fastClient()
			c.Retry.Attempts = 2
			f := destFile(t)
			_, err := c.Download(context.Background(), getReq(srv.URL, f, tc.expected))
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error should mention %q: %v", tc.msg, err)
			}
			if got := len(s.seen()); got != tc.requests {
				t.Fatalf("%d requests, want %d", got, tc.requests)
			}
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if tc.code == errcode.SizeMismatch && st.Size() != 0 {
				t.Fatalf("%d bytes written before the refusal", st.Size())
			}
		})
	}
}

// TestDownloadProgressTotalFromContentLength: with no announced size the
// progress total is the server's Content-Length; with one, it is that.
func TestDownloadProgressTotalFromContentLength(t *testing.T) {
	data := testData(3000)
	for _, expected := range []int64{0, 3000} {
		t.Run(fmt.Sprint(expected), func(t *testing.T) {
			srv := newServer(t, answer200(t, data, 0, nil))
			var mu sync.Mutex
			var totals []int64
			var last int64
			req := getReq(srv.URL, destFile(t), expected)
			req.Progress = func(w, total int64) {
				mu.Lock()
				totals = append(totals, total)
				last = w
				mu.Unlock()
			}
			if _, err := fastClient().Download(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(totals) == 0 || last != 3000 {
				t.Fatalf("progress calls %v, last %d", totals, last)
			}
			for _, tot := range totals {
				if tot != 3000 {
					t.Fatalf("progress totals %v, want 3000", totals)
				}
			}
		})
	}
}

// TestDownloadNoRangeBeforeTheFirstByte: an attempt that got no body byte
// is retried with a plain GET even though the server offers ranges (there
// is nothing to resume).
func TestDownloadNoRangeBeforeTheFirstByte(t *testing.T) {
	data := testData(50 << 10)
	hdr := map[string]string{"Accept-Ranges": "bytes", "ETag": `"v1"`}
	s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){
		answer200(t, data, cutBeforeBody, hdr),
		answer200(t, data, 0, hdr),
	}}
	srv := newServer(t, s.ServeHTTP)
	f := destFile(t)
	res, err := fastClient().Download(context.Background(), getReq(srv.URL, f, int64(len(data))))
	if err != nil {
		t.Fatal(err)
	}
	checkDest(t, f, res, data)
	seen := s.seen()
	if len(seen) != 2 || seen[1].Get("Range") != "" || seen[1].Get("If-Range") != "" {
		t.Fatalf("%d requests, second Range %q", len(seen), seen[len(seen)-1].Get("Range"))
	}
}

// TestDownloadResumeRounds: with one attempt per retry budget, a resumable
// download earns a new budget for every round that moved at least 1 MiB,
// at most 4 rounds in all; a round that moved less ends the download.
func TestDownloadResumeRounds(t *testing.T) {
	data := testData(6 << 20)
	cases := []struct {
		name     string
		at       int
		requests int
	}{
		{"exactly 1 MiB per round: 4 rounds", 1 << 20, 4},
		{"just under 1 MiB: one round", 1<<20 - 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &interrupting{t: t, data: data, cuts: 1000, at: tc.at, ranges: true}
			srv := newServer(t, h.ServeHTTP)
			c := fastClient()
			c.Retry.Attempts = 1
			_, err := c.Download(context.Background(), getReq(srv.URL, destFile(t), int64(len(data))))
			wantCode(t, err, errcode.NetworkError)
			rg := h.seenRanges()
			if len(rg) != tc.requests {
				t.Fatalf("%d requests %q, want %d", len(rg), rg, tc.requests)
			}
			for i, r := range rg {
				want := ""
				if i > 0 {
					want = fmt.Sprintf("bytes=%d-", i*tc.at)
				}
				if r != want {
					t.Fatalf("request %d: Range %q, want %q", i, r, want)
				}
			}
		})
	}
	// Progress is counted per round: 1 MiB in the first round does not pay
	// for a second round that moved 100 KiB.
	cutRange := func(cut int) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Range"), "bytes="), "-"))
			if err != nil {
				t.Errorf("Range %q", r.Header.Get("Range"))
				return
			}
			w.Header().Set("Accept-Ranges", "bytes")
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
			w.Header().Set("Content-Length", strconv.Itoa(len(data)-from))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[from : from+cut])
			w.(http.Flusher).Flush()
			cutConn(t, w)
		}
	}
	perRound := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){
		answer200(t, data, 1<<20, map[string]string{"Accept-Ranges": "bytes"}),
		cutRange(100 << 10),
		cutRange(1 << 20),
	}}
	srv0 := newServer(t, perRound.ServeHTTP)
	c := fastClient()
	c.Retry.Attempts = 1
	_, err0 := c.Download(context.Background(), getReq(srv0.URL, destFile(t), int64(len(data))))
	wantCode(t, err0, errcode.NetworkError)
	if got := joinRanges(perRound.ranges()); got != joinRanges([]string{"", "bytes=1048576-"}) {
		t.Fatalf("Range headers %q, want two requests", got)
	}

	// A round that ends with a final error (here a 404) after progress is
	// not renewed.
	s := &scripted{t: t, steps: []func(http.ResponseWriter, *http.Request){
		answer200(t, data, 2<<20, map[string]string{"Accept-Ranges": "bytes"}),
		answerStatus(http.StatusNotFound, "gone"),
	}}
	srv := newServer(t, s.ServeHTTP)
	_, err := fastClient().Download(context.Background(), getReq(srv.URL, destFile(t), int64(len(data))))
	wantCode(t, err, errcode.DownloadFailed)
	if n := len(s.seen()); n != 2 {
		t.Fatalf("%d requests after a 404, want 2", n)
	}
}

// TestDownloadRedirectLimit: five redirects are followed, a sixth is not.
func TestDownloadRedirectLimit(t *testing.T) {
	data := testData(500)
	var mu sync.Mutex
	var hits int
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		left, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			t.Errorf("path %q", r.URL.Path)
			return
		}
		if left > 0 {
			http.Redirect(w, r, "/"+strconv.Itoa(left-1), http.StatusFound)
			return
		}
		w.Write(data)
	})
	for _, tc := range []struct {
		redirects int
		ok        bool
	}{{5, true}, {6, false}} {
		mu.Lock()
		hits = 0
		mu.Unlock()
		f := destFile(t)
		res, err := fastClient().Download(context.Background(), getReq(srv.URL+"/"+strconv.Itoa(tc.redirects), f, 0))
		mu.Lock()
		got := hits
		mu.Unlock()
		if tc.ok {
			if err != nil {
				t.Fatalf("%d redirects: %v", tc.redirects, err)
			}
			checkDest(t, f, res, data)
			if got != tc.redirects+1 {
				t.Fatalf("%d redirects: %d requests", tc.redirects, got)
			}
			continue
		}
		wantCode(t, err, errcode.DownloadFailed)
		if !strings.Contains(err.Error(), "redirects") || got != tc.redirects {
			t.Fatalf("%d redirects: %d requests, %v", tc.redirects, got, err)
		}
	}
}
