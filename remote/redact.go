package remote

import (
	"bytes"
	"io"
	"sort"
	"sync"
)

// redactedMark replaces secret values in relayed adapter stderr.
const redactedMark = "[REDACTED]"

// stderrRelay receives the adapter's stderr, keeps a redacted tail for error
// messages and forwards complete redacted lines to out. It counts bytes and
// calls onExceed once when more than limit bytes arrive.
type stderrRelay struct {
	mu       sync.Mutex
	out      io.Writer
	secrets  [][]byte
	noRedact bool
	pending  []byte
	tail     []byte
	n        int64
	limit    int64
	onExceed func()
	exceeded bool
}

const stderrTail = 2048

func newStderrRelay(out io.Writer, secrets []string, noRedact bool, limit int64, onExceed func()) *stderrRelay {
	r := &stderrRelay{out: out, noRedact: noRedact, limit: limit, onExceed: onExceed}
	ss := append([]string(nil), secrets...)
	sort.Slice(ss, func(i, j int) bool { return len(ss[i]) > len(ss[j]) })
	for _, s := range ss {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	return r
}

func (r *stderrRelay) redact(b []byte) []byte {
	if r.noRedact {
		return b
	}
	for _, s := range r.secrets {
		b = bytes.ReplaceAll(b, s, []byte(redactedMark))
	}
	return b
}

func (r *stderrRelay) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exceeded {
		return 0, errOutputLimit
	}
	r.n += int64(len(p))
	if r.n > r.limit {
		r.exceeded = true
		r.flushLocked()
		if r.onExceed != nil {
			r.onExceed()
		}
		return 0, errOutputLimit
	}
	r.pending = append(r.pending, p...)
	// Forward whole lines so a secret split across writes is still redacted.
	if i := bytes.LastIndexByte(r.pending, '\n'); i >= 0 {
		r.emit(r.pending[:i+1])
		r.pending = append(r.pending[:0], r.pending[i+1:]...)
	} else if len(r.pending) > 64<<10 {
		r.emit(r.pending)
		r.pending = r.pending[:0]
	}
	return len(p), nil
}

func (r *stderrRelay) emit(b []byte) {
	red := r.redact(b)
	if r.out != nil {
		_, _ = r.out.Write(red)
	}
	r.tail = append(r.tail, red...)
	if len(r.tail) > stderrTail {
		r.tail = append(r.tail[:0], r.tail[len(r.tail)-stderrTail:]...)
	}
}

func (r *stderrRelay) flushLocked() {
	if len(r.pending) > 0 {
		r.emit(r.pending)
		r.pending = r.pending[:0]
	}
}

// Flush forwards a final partial line.
func (r *stderrRelay) Flush() {
	r.mu.Lock()
	r.flushLocked()
	r.mu.Unlock()
}

// Tail returns the last redacted stderr bytes, trimmed.
func (r *stderrRelay) Tail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.TrimSpace(r.tail))
}

// Redact applies the relay's redaction to s.
func (r *stderrRelay) Redact(s string) string { return string(r.redact([]byte(s))) }

// limitBuffer collects stdout up to limit bytes; past it, onExceed is called
// once and writes fail (the process group is then killed).
type limitBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	limit    int64
	onExceed func()
	exceeded bool
}

func (b *limitBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.exceeded {
		return 0, errOutputLimit
	}
	if int64(b.buf.Len())+int64(len(p)) > b.limit {
		b.exceeded = true
		if b.onExceed != nil {
			b.onExceed()
		}
		return 0, errOutputLimit
	}
	return b.buf.Write(p)
}

func (b *limitBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

type limitError struct{}

func (limitError) Error() string { return "output limit exceeded" }

var errOutputLimit error = limitError{}
