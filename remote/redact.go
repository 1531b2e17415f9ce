package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/evidencerelay/epack/errcode"
	"github.com/evidencerelay/epack/internal/termtext"
	"github.com/evidencerelay/epack/protocol"
)

// redactedMark replaces secret values in adapter text (stderr, messages,
// release fields …) before epack shows or stores it.
const redactedMark = "[REDACTED]"

// minSecretLen is the shortest secret value that is redacted: shorter values
// would blank out ordinary words and say little about the secret anyway.
const minSecretLen = 4

// redactor replaces every known spelling of each secret value with
// redactedMark. A zero or disabled redactor changes nothing.
type redactor struct {
	off   bool
	forms [][]byte // every spelling of every secret; order does not matter (spans merges)
}

// newRedactor prepares the spellings of secrets; off (--no-redact) turns it into a no-op.
func newRedactor(secrets []string, off bool) *redactor {
	r := &redactor{off: off}
	seen := map[string]bool{}
	for _, s := range secrets {
		if len(s) < minSecretLen {
			continue
		}
		for _, f := range secretForms(s) {
			if len(f) >= minSecretLen && !seen[f] {
				seen[f] = true
				r.forms = append(r.forms, []byte(f))
			}
		}
	}
	return r
}

// secretForms lists the ways an adapter (or our own encoders) may spell s:
// raw; URL query and path escaped (upper- and lower-case hex, '+' or %20
// for a space); JSON-escaped as Go writes it (with and without the \u003c
// HTML escapes) and ASCII-only as other JSON encoders write it; Go-quoted
// (%q). Every one of them is a character-by-character encoding, so it is
// found inside any longer text encoded the same way.
func secretForms(s string) []string {
	q := url.QueryEscape(s)
	p := url.PathEscape(s)
	forms := []string{s, q, p, strings.ReplaceAll(q, "+", "%20"), lowerHexEscapes(q), lowerHexEscapes(p)}
	if b, err := json.Marshal(s); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) == nil {
		b := bytes.TrimSpace(buf.Bytes())
		forms = append(forms, string(b[1:len(b)-1]))
	}
	a := asciiJSON(s)
	forms = append(forms, a, strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(a))
	qs := strconv.Quote(s)
	forms = append(forms, qs[1:len(qs)-1])
	return forms
}

// lowerHexEscapes rewrites %XX escapes with lower-case hex digits.
func lowerHexEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + ('a' - 'A')
	}
	return c
}

// asciiJSON is the body of a JSON string for s with every non-ASCII
// character written as \uXXXX (surrogate pairs above U+FFFF), as Python's
// json.dumps and many other encoders do by default.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func (r *redactor) active() bool { return r != nil && !r.off && len(r.forms) > 0 }

// Bytes returns b with every secret spelling replaced (b itself when none
// occurs). Occurrences that overlap — of one secret, or of two secrets that
// share characters — become one mark, so no part of either is left showing.
func (r *redactor) Bytes(b []byte) []byte {
	if !r.active() {
		return b
	}
	spans := r.spans(b)
	if len(spans) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, sp := range spans {
		out = append(out, b[last:sp[0]]...)
		out = append(out, redactedMark...)
		last = sp[1]
	}
	return append(out, b[last:]...)
}

// spans returns the byte ranges of b that hold a secret spelling, in
// order, overlapping ranges merged.
func (r *redactor) spans(b []byte) [][2]int {
	var sp [][2]int
	for _, f := range r.forms {
		for off := 0; off < len(b); {
			i := bytes.Index(b[off:], f)
			if i < 0 {
				break
			}
			sp = append(sp, [2]int{off + i, off + i + len(f)})
			off += i + 1
		}
	}
	if len(sp) == 0 {
		return nil
	}
	sort.Slice(sp, func(i, j int) bool { return sp[i][0] < sp[j][0] })
	merged := sp[:1]
	for _, s := range sp[1:] {
		if cur := &merged[len(merged)-1]; s[0] < cur[1] {
			cur[1] = max(cur[1], s[1])
		} else {
			merged = append(merged, s)
		}
	}
	return merged
}

// String returns s with every secret spelling replaced (as Bytes).
func (r *redactor) String(s string) string {
	if !r.active() {
		return s
	}
	if out := r.Bytes([]byte(s)); string(out) != s {
		return string(out)
	}
	return s
}

// stderrRelay receives the adapter's stderr, keeps a redacted tail for error
// messages and forwards complete redacted lines to out. It counts bytes and
// calls onExceed once when more than limit bytes arrive.
type stderrRelay struct {
	mu       sync.Mutex
	out      io.Writer
	prefix   []byte // marks each relayed line as the adapter's
	red      *redactor
	pending  []byte
	tail     []byte
	n        int64
	limit    int64
	onExceed func()
	exceeded bool
}

const stderrTail = 2048

func newStderrRelay(out io.Writer, adapter string, secrets []string, noRedact bool, limit int64, onExceed func()) *stderrRelay {
	r := &stderrRelay{out: out, red: newRedactor(secrets, noRedact), limit: limit, onExceed: onExceed}
	if adapter != "" {
		r.prefix = []byte("[adapter " + escapeLine(adapter) + "] ")
	}
	return r
}

func (r *stderrRelay) redact(b []byte) []byte { return r.red.Bytes(b) }

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
		_, _ = r.out.Write(r.markLines(red))
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

// markLines turns relayed stderr into whole lines that each start with the
// adapter's mark and carry no control characters (a carriage return, an
// escape sequence or a bare newline inside a line is shown escaped), so an
// adapter cannot draw over epack's status lines or print lines that look
// like epack's own.
func (r *stderrRelay) markLines(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		out = append(out, r.prefix...)
		out = append(out, escapeLine(string(line))...)
		out = append(out, '\n')
	}
	return out
}

// escapeLine keeps s on one terminal line with control characters escaped.
func escapeLine(s string) string { return termtext.Line(s) }

// Tail returns the last redacted stderr bytes, trimmed, on one line (line
// breaks shown as \n): it ends up inside error messages.
func (r *stderrRelay) Tail() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return escapeLine(string(bytes.TrimSpace(r.tail)))
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

// redactedError carries the redacted text of an error whose message was
// fixed when it was made (fmt.Errorf); errors.Is/As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Error redacts err: the message, hint and adapter error body of every
// *errcode.Error and *AdapterError in its chain are rewritten in place, and
// when the resulting text still differs (a message fixed by fmt.Errorf) err
// is wrapped so Error() is redacted while errors.Is/As keep working.
func (r *redactor) Error(err error) error {
	if err == nil || !r.active() {
		return err
	}
	r.scrubChain(err)
	if msg := err.Error(); r.String(msg) != msg {
		return &redactedError{msg: r.String(msg), err: err}
	}
	return err
}

func (r *redactor) scrubChain(err error) {
	for err != nil {
		switch e := err.(type) {
		case *errcode.Error:
			e.Message = r.String(e.Message)
			e.Hint = r.String(e.Hint)
			if ae, ok := e.Err.(*AdapterError); ok && e.Hint != "" {
				r.Value(&ae.Body)
				e.Hint = ae.Hint() // rebuilt from the redacted action
			}
		case *AdapterError:
			r.Value(&e.Body)
		}
		if m, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range m.Unwrap() {
				r.scrubChain(x)
			}
			return
		}
		err = errors.Unwrap(err)
	}
}

var (
	transferTargetType = reflect.TypeOf(protocol.TransferTarget{})
	responseHeaderType = reflect.TypeOf(protocol.ResponseHeader{})
)

// Value redacts, in place, every string reachable from ptr (a pointer to an
// adapter response or error body): struct fields, slices, map keys and
// values, nested extensions. It leaves alone what is not text for people:
// the response header, transfer targets (a presigned URL legitimately
// carries an access key id; it is used, never shown whole) and finalize
// tokens, which go back to the adapter unchanged.
func (r *redactor) Value(ptr any) {
	if !r.active() || ptr == nil {
		return
	}
	r.scrubValue(reflect.ValueOf(ptr))
}

func (r *redactor) scrubValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			r.scrubValue(v.Elem())
		}
	case reflect.Interface:
		if v.IsNil() || !v.CanSet() {
			return
		}
		c := reflect.New(v.Elem().Type()).Elem()
		c.Set(v.Elem())
		r.scrubValue(c)
		v.Set(c)
	case reflect.String:
		if v.CanSet() {
			if s := r.String(v.String()); s != v.String() {
				v.SetString(s)
			}
		}
	case reflect.Struct:
		if v.Type() == transferTargetType || v.Type() == responseHeaderType {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() && f.Name != "FinalizeToken" {
				r.scrubValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			r.scrubValue(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(it.Key())
			r.scrubValue(k)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			r.scrubValue(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}
