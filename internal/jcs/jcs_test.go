package jcs

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		policy         Policy
	}{
		{"sort", `{"z":1,"a":2,"m":3}`, `{"a":2,"m":3,"z":1}`, SafeInteger},
		{"case", `{"a":1,"A":2,"Z":3}`, `{"A":2,"Z":3,"a":1}`, SafeInteger},
		{"numeric keys", `{"10":1,"2":2,"1":3}`, `{"1":3,"10":1,"2":2}`, SafeInteger},
		{"whitespace", " {\n \"b\" : \"2\" ,\t\"a\":\"1\"} ", `{"a":"1","b":"2"}`, SafeInteger},
		{"nested", `{"o":{"z":[3,2,{"b":1,"a":0}],"a":null}}`, `{"o":{"a":null,"z":[3,2,{"a":0,"b":1}]}}`, SafeInteger},
		{"exp", `{"n":[1e3,1.0e3,1.5e3,1000.0,-0,1E+3,9007199254740991]}`, `{"n":[1000,1000,1500,1000,0,1000,9007199254740991]}`, SafeInteger},
		{"escapes", `{"s":"\"\\\b\f\n\r\t\u0001\u001f\u007f\u2028/\u00e9"}`, "{\"s\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\u2028/\u00e9\"}", SafeInteger},
		{"surrogates", `{"\ud83d\ude00":1,"\uffff":2,"z":3}`, "{\"z\":3,\"\U0001F600\":1,\"\uffff\":2}", SafeInteger},
		{"lone surrogate", `["\ud800"]`, "[\"\uFFFD\"]", SafeInteger},
		{"general", `[1.0,1.5,1e2,-0,-5,1e21,1e-7,0.000001,123456789012345680000]`, `[1,1.5,100,0,-5,1e+21,1e-7,0.000001,123456789012345680000]`, General},
		{"literals", `[true,false,null,""]`, `[true,false,null,""]`, General},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in), tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		in     string
		policy Policy
		kind   ErrorKind
		msg    string
	}{
		{`{"a":1,"a":2}`, General, ErrDuplicateKey, "duplicate"},
		{`{"o":{"a":1,"b":2,"a":3}}`, General, ErrDuplicateKey, ""},
		{`[{"a":1},{"x":1,"x":1}]`, General, ErrDuplicateKey, ""},
		{`{"a":"\u0061","\u0061":1}`, General, ErrDuplicateKey, ""},
		{`{} x`, General, ErrSyntax, ""},
		{`{}{}`, General, ErrSyntax, ""},
		{`{`, General, ErrSyntax, ""},
		{`[`, General, ErrSyntax, ""},
		{`"abc`, General, ErrSyntax, ""},
		{`"\x"`, General, ErrSyntax, ""},
		{`[1,]`, General, ErrSyntax, ""},
		{`{"a" 1}`, General, ErrSyntax, ""},
		{`{"a":}`, General, ErrSyntax, ""},
		{`{'a':1}`, General, ErrSyntax, ""},
		{"\xef\xbb\xbf{}", General, ErrSyntax, ""},
		{"{\"a\":\"x\ty\"}", General, ErrSyntax, ""},
		{`[NaN]`, General, ErrSyntax, ""},
		{`[-Infinity]`, General, ErrSyntax, ""},
		{`[inf]`, General, ErrSyntax, ""},
		{`[01]`, General, ErrSyntax, ""},
		{`[1e999]`, General, ErrNumber, "finite"},
		{`[-1]`, SafeInteger, ErrNumber, "negative"},
		{`[1.5]`, SafeInteger, ErrNumber, "fractional"},
		{`[1e-1]`, SafeInteger, ErrNumber, "fractional"},
		{`[9007199254740992]`, SafeInteger, ErrNumber, "exceeds"},
		{`[1e100]`, SafeInteger, ErrNumber, "exceeds"},
		{`[1e999999999999999999]`, SafeInteger, ErrNumber, "exceeds"},
		{`[1.2e3]`, StrictInteger, ErrNumber, "fractional"},
		{``, General, ErrSyntax, ""},
		{"  \n", General, ErrSyntax, ""},
	}
	for _, tt := range tests {
		_, err := Canonicalize([]byte(tt.in), tt.policy)
		var e *Error
		if !errors.As(err, &e) || e.Kind != tt.kind || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: got %v", tt.in, err)
		}
	}
}

func TestManifestTopLevel(t *testing.T) {
	for _, in := range []string{"null", "[]", `"x"`, "42"} {
		_, err := Manifest([]byte(in))
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrNotObject {
			t.Errorf("%s: %v", in, err)
		}
	}
	if _, err := Manifest([]byte(`{"n":9007199254740991,"z":0}`)); err != nil {
		t.Fatal(err)
	}
}

func TestDeepNesting(t *testing.T) {
	in := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	if _, err := Canonicalize([]byte(in), General); err != nil {
		t.Fatal(err)
	}
	in = strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if _, err := Canonicalize([]byte(in), General); err == nil {
		t.Fatal("want too deep")
	}
}

func TestLessUTF16(t *testing.T) {
	if !LessUTF16("a", "ab") || LessUTF16("ab", "a") || LessUTF16("a", "a") || !LessUTF16("", "a") {
		t.Fatal("prefix order")
	}
	if !LessUTF16("\U0001F600", "\uffff") || !LessUTF16("\U0001F600", "\U0001F601") || !LessUTF16("z", "\U0001F600") {
		t.Fatal("surrogate order")
	}
}

func TestParseLimited(t *testing.T) {
	if _, err := ParseLimited([]byte(`[1,2,3]`), 4); err != nil {
		t.Fatal(err)
	}
	_, err := ParseLimited([]byte(`[1,2,3,4]`), 4)
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrTooMany {
		t.Fatal(err)
	}
}
