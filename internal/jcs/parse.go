package jcs

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The JSON value kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	}
	return "object"
}

// Value is one parsed JSON value. Numbers keep their literal text in Str so
// no precision is lost; object members keep document order.
type Value struct {
	Kind    Kind
	Bool    bool
	Str     string // decoded string, or the number literal
	Items   []Value
	Members []Member
}

// Member is one name/value pair of an object.
type Member struct {
	Key   string
	Value Value
}

// Get returns the member named key (exact match) or nil.
func (v *Value) Get(key string) *Value {
	for i := range v.Members {
		if v.Members[i].Key == key {
			return &v.Members[i].Value
		}
	}
	return nil
}

// ErrorKind classifies parse and canonicalization failures.
type ErrorKind uint8

// Error kinds.
const (
	ErrSyntax       ErrorKind = iota + 1 // not RFC 8259 JSON, or trailing data
	ErrDuplicateKey                      // the same key twice in one object
	ErrNumber                            // a number the policy refuses
	ErrNotObject                         // the top-level value is not an object
	ErrTooDeep                           // nesting deeper than MaxDepth
	ErrTooMany                           // more values than the caller's limit
)

// Error is returned by every function of this package.
type Error struct {
	Kind   ErrorKind
	Offset int // byte offset in the input, -1 when unknown
	Msg    string
}

func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s at offset %d", e.Msg, e.Offset)
	}
	return e.Msg
}

// MaxDepth bounds nesting of arrays and objects.
const MaxDepth = 10000

// Parse decodes exactly one JSON value (RFC 8259) from data. Object keys that
// are equal after decoding (exact, case-sensitive) are refused, and so is
// anything but whitespace after the value. Invalid UTF-8 inside strings
// becomes U+FFFD, as Go's decoder does. Numbers are checked for grammar only.
func Parse(data []byte) (*Value, error) { return ParseLimited(data, 0) }

// ParseLimited is Parse that refuses documents with more than maxValues
// JSON values (0 = no limit), bounding the memory a hostile document can
// make the parser use.
func ParseLimited(data []byte, maxValues int) (*Value, error) {
	p := parser{data: data, limit: maxValues}
	p.ws()
	if p.i >= len(p.data) {
		return nil, &Error{ErrSyntax, p.i, "unexpected end of JSON input"}
	}
	var v Value
	if err := p.value(&v, 0); err != nil {
		return nil, err
	}
	p.ws()
	if p.i < len(p.data) {
		return nil, &Error{ErrSyntax, p.i, "unexpected data after top-level value"}
	}
	return &v, nil
}

type parser struct {
	data  []byte
	i     int
	limit int
	count int
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) errf(format string, args ...any) error {
	return &Error{ErrSyntax, p.i, fmt.Sprintf(format, args...)}
}

func (p *parser) value(v *Value, depth int) error {
	p.count++
	if p.limit > 0 && p.count > p.limit {
		return &Error{ErrTooMany, p.i, fmt.Sprintf("more than %d JSON values", p.limit)}
	}
	if p.i >= len(p.data) {
		return p.errf("unexpected end of JSON input")
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(v, depth+1)
	case c == '[':
		return p.array(v, depth+1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		*v = Value{Kind: String, Str: s}
		return nil
	case c == 't':
		return p.lit(v, "true", Value{Kind: Bool, Bool: true})
	case c == 'f':
		return p.lit(v, "false", Value{Kind: Bool})
	case c == 'n':
		return p.lit(v, "null", Value{Kind: Null})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(v)
	default:
		return p.errf("invalid character %q looking for beginning of value", c)
	}
}

func (p *parser) lit(v *Value, word string, val Value) error {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return p.errf("invalid literal")
	}
	p.i += len(word)
	*v = val
	return nil
}

func (p *parser) object(v *Value, depth int) error {
	if depth > MaxDepth {
		return &Error{ErrTooDeep, p.i, "JSON nested too deeply"}
	}
	p.i++ // {
	*v = Value{Kind: Object, Members: []Member{}}
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return nil
	}
	var seen map[string]struct{}
	for {
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return p.errf("expected string key")
		}
		keyAt := p.i
		k, err := p.str()
		if err != nil {
			return err
		}
		// Small objects: linear scan; large ones: a map.
		if len(v.Members) < 16 {
			for _, m := range v.Members {
				if m.Key == k {
					return &Error{ErrDuplicateKey, keyAt, fmt.Sprintf("duplicate key %q", k)}
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 32)
				for _, m := range v.Members {
					seen[m.Key] = struct{}{}
				}
			}
			if _, dup := seen[k]; dup {
				return &Error{ErrDuplicateKey, keyAt, fmt.Sprintf("duplicate key %q", k)}
			}
			seen[k] = struct{}{}
		}
		p.ws()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return p.errf("expected ':' after object key")
		}
		p.i++
		p.ws()
		v.Members = append(v.Members, Member{Key: k})
		if err := p.value(&v.Members[len(v.Members)-1].Value, depth); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.data) {
			return p.errf("unexpected end of JSON input")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errf("expected ',' or '}' after object value")
		}
	}
}

func (p *parser) array(v *Value, depth int) error {
	if depth > MaxDepth {
		return &Error{ErrTooDeep, p.i, "JSON nested too deeply"}
	}
	p.i++ // [
	*v = Value{Kind: Array, Items: []Value{}}
	p.ws()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return nil
	}
	for {
		p.ws()
		v.Items = append(v.Items, Value{})
		if err := p.value(&v.Items[len(v.Items)-1], depth); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.data) {
			return p.errf("unexpected end of JSON input")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.errf("expected ',' or ']' after array element")
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) number(v *Value) error {
	start := p.i
	d := p.data
	if p.i < len(d) && d[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(d) && d[p.i] == '0':
		p.i++
	case p.i < len(d) && d[p.i] >= '1' && d[p.i] <= '9':
		for p.i < len(d) && isDigit(d[p.i]) {
			p.i++
		}
	default:
		return p.errf("invalid number")
	}
	if p.i < len(d) && d[p.i] == '.' {
		p.i++
		if p.i >= len(d) || !isDigit(d[p.i]) {
			return p.errf("invalid number: digit expected after '.'")
		}
		for p.i < len(d) && isDigit(d[p.i]) {
			p.i++
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if p.i >= len(d) || !isDigit(d[p.i]) {
			return p.errf("invalid number: digit expected in exponent")
		}
		for p.i < len(d) && isDigit(d[p.i]) {
			p.i++
		}
	}
	*v = Value{Kind: Number, Str: string(d[start:p.i])}
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// str decodes a string starting at the opening quote.
func (p *parser) str() (string, error) {
	p.i++ // opening quote
	d := p.data
	start := p.i
	// Fast path: plain ASCII without escapes.
	for p.i < len(d) {
		c := d[p.i]
		if c == '"' {
			s := string(d[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		p.i++
	}
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, d[start:p.i]...)
	for {
		if p.i >= len(d) {
			return "", p.errf("unterminated string")
		}
		c := d[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.errf("invalid control character in string")
		case c == '\\':
			if p.i+1 >= len(d) {
				return "", p.errf("unterminated string")
			}
			e := d[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(d[p.i:])
				if !ok {
					return "", p.errf("invalid \\u escape")
				}
				p.i += 4
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by a low one forms a pair;
					// anything else becomes U+FFFD (as Go does).
					if r < 0xDC00 && p.i+6 <= len(d) && d[p.i] == '\\' && d[p.i+1] == 'u' {
						if r2, ok := hex4(d[p.i+2:]); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
							r = utf16.DecodeRune(r, r2)
							p.i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.errf("invalid escape character %q", e)
			}
		case c < 0x80:
			buf = append(buf, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(d[p.i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
}
