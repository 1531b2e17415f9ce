package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxJSONDepth is the deepest nesting a message may have.
const maxJSONDepth = 64

// CheckJSON is the protocol's strict reader: it accepts data only when it is
// a single JSON value (surrounding whitespace allowed), nested at most 64
// deep, where no object repeats a key. Two keys equal but for case are a
// repeat too: encoding/json would fill one field from either, so a message
// could otherwise mean two things. Strings inside arrays are values, never
// keys (COMPAT W1).
func CheckJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]string // folded → original
	}
	var stack []*frame
	done := false
	valueDone := func() {
		if len(stack) == 0 {
			done = true
			return
		}
		if top := stack[len(stack)-1]; top.object {
			top.expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				if len(stack) == 0 {
					return errors.New("empty JSON input")
				}
				return errors.New("unexpected end of JSON input")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if done {
			return errors.New("unexpected data after the JSON value")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
				}
				if top != nil && top.object {
					top.expectKey = false
				}
				stack = append(stack, &frame{object: v == '{', expectKey: v == '{', keys: map[string]string{}})
			case '}', ']':
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if top != nil && top.object && top.expectKey {
				folded := strings.ToLower(v)
				if prev, dup := top.keys[folded]; dup {
					if prev == v {
						return fmt.Errorf("duplicate key %q", v)
					}
					return fmt.Errorf("duplicate key %q (also present as %q)", v, prev)
				}
				top.keys[folded] = v
				top.expectKey = false
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// DecodeStrict unmarshals data into v after CheckJSON accepted it.
func DecodeStrict(data []byte, v any) error {
	if err := CheckJSON(data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
