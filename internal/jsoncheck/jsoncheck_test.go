package jsoncheck_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/engram-memory/engram/internal/jsoncheck"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name, in string
		want     error
	}{
		{"plain", `{"content":"hello"}`, nil},
		{"utf-8 text", `{"content":"josé 日本 😀"}`, nil},
		{"escaped bmp", `{"content":"caf\u00e9"}`, nil},
		{"surrogate pair", `{"content":"\ud83d\ude00"}`, nil},
		{"upper-case pair", `{"content":"\uD83D\uDE00"}`, nil},
		{"escaped backslash then u", `{"content":"\\ud800"}`, nil},
		{"escaped quote", `{"content":"a\"\ud800"}`, jsoncheck.ErrSurrogate},
		{"u+fffd itself", `{"content":"\ufffd"}`, nil},
		{"key with escape", `{"\u00e9":1}`, nil},
		{"invalid byte", "{\"content\":\"a\xffb\"}", jsoncheck.ErrUTF8},
		{"invalid byte outside string", "{\xff}", jsoncheck.ErrUTF8},
		{"overlong encoding", "{\"c\":\"\xc0\xaf\"}", jsoncheck.ErrUTF8},
		{"utf-8 encoded surrogate", "{\"c\":\"\xed\xa0\x80\"}", jsoncheck.ErrUTF8},
		{"lone high", `{"content":"\ud800"}`, jsoncheck.ErrSurrogate},
		{"lone high at end of text", `"\ud800`, jsoncheck.ErrSurrogate},
		{"lone low", `{"content":"\udc00"}`, jsoncheck.ErrSurrogate},
		{"high then letter", `{"content":"\ud800x"}`, jsoncheck.ErrSurrogate},
		{"high then bmp escape", `{"content":"\ud800\u0041"}`, jsoncheck.ErrSurrogate},
		{"two highs", `{"content":"\ud800\ud800"}`, jsoncheck.ErrSurrogate},
		{"reversed pair", `{"content":"\ude00\ud83d"}`, jsoncheck.ErrSurrogate},
		{"in a key", `{"\udfff":1}`, jsoncheck.ErrSurrogate},
		{"malformed escape left to decoder", `{"content":"\u12"}`, nil},
		{"truncated", `{"content":"\`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := jsoncheck.Check([]byte(c.in)); !errors.Is(err, c.want) {
				t.Fatalf("Check(%q) = %v, want %v", c.in, err, c.want)
			}
		})
	}
}

// FuzzCheck: a text Check accepts decodes with encoding/json without any
// replacement: every string decoded from it is exactly what was sent, so
// no U+FFFD appears that the text did not spell.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud800"`, `"\ud83d\ude00"`, "\"\xff\"", `{"k":"\udc00"}`, `["\\ud800"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		if jsoncheck.Check(b) != nil || json.Unmarshal(b, &v) != nil {
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("accepted invalid UTF-8 %q", b)
		}
		if got := strings.Count(dump(v), "\ufffd"); got > strings.Count(string(b), "\ufffd")+strings.Count(strings.ToLower(string(b)), `\ufffd`) {
			t.Fatalf("decoding %q introduced U+FFFD", b)
		}
	})
}

func dump(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var b strings.Builder
		for _, e := range x {
			b.WriteString(dump(e))
		}
		return b.String()
	case map[string]any:
		var b strings.Builder
		for k, e := range x {
			b.WriteString(k + dump(e))
		}
		return b.String()
	}
	return ""
}
