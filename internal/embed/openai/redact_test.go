package openai

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	const key = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secret := "Patient Jane Roe was diagnosed with condition X on Monday"
	cases := []struct {
		msg   string
		texts []string
		want  string
	}{
		{"Incorrect API key provided: sk-pr********************6789. You can find your API key at https://x.", nil,
			"Incorrect API key provided: [redacted]. You can find your API key at https://x."},
		{"Invalid key " + key + " given", nil, "Invalid key [redacted] given"},
		{"bad token 'sk-proj-ABCDEFGH'", nil, "bad token '[redacted]'"},
		{"input_value='" + secret + "'", []string{secret}, "input_value='[redacted]'"},
		{"input_value='" + secret[:30] + "...'", []string{secret}, "input_value='[redacted]...'"},
		{"empty 'cats' is not allowed", []string{"cats"}, "empty '[redacted]' is not allowed"},
		{"line one\nline\ttwo\x00", nil, "line one line two"},
		{"maximum context length is 8192 tokens", []string{"a", "b"}, "maximum context length is 8192 tokens"},
	}
	for _, tc := range cases {
		if got := redact(tc.msg, key, tc.texts); got != tc.want {
			t.Errorf("redact(%q)\n got %q\nwant %q", tc.msg, got, tc.want)
		}
	}
	long := strings.Repeat("x", 5000) + secret + strings.Repeat("y", 5000)
	got := redact(long, key, []string{secret})
	if strings.Contains(got, "Jane") || utf8.RuneCountInString(got) > maxMessage+1 {
		t.Fatalf("long message: %q", got)
	}
	// A quote cut by the scan limit leaves no fragment behind.
	cut := strings.Repeat("z ", scanLimit/2-10) + secret
	if got := redact(cut, "", []string{secret}); strings.Contains(got, "Patient") {
		t.Fatalf("cut quote leaks: %q", got)
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("prefix ", "some private text here", " suffix", "sk-abcdefghijkl")
	f.Add("", "ünïcödé sëcrët tëxt 🎉🎉", "", "")
	f.Fuzz(func(t *testing.T, pre, text, post, key string) {
		out := redact(pre+text+post, key, []string{text})
		if !utf8.ValidString(out) && utf8.ValidString(pre+text+post) {
			t.Fatalf("invalid UTF-8 out of valid input: %q", out)
		}
		clean := len(text) >= window && !strings.ContainsAny(text, " \t\n\r\v\f[]…") && utf8.ValidString(text)
		for _, r := range text {
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				clean = false
			}
		}
		if clean && len(pre)+len(text) <= scanLimit-window && strings.Contains(out, text) {
			t.Fatalf("text survives: %q", out)
		}
		if len(key) >= 8 && !strings.ContainsAny(key, " \t\n") && len(pre)+len(text)+len(post) <= scanLimit-window && strings.Contains(out, key) {
			t.Fatalf("key survives: %q", out)
		}
	})
}
