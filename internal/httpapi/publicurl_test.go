package httpapi_test

import (
	"testing"

	"github.com/engram-memory/engram/internal/httpapi"
)

func TestParsePublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://memory.example.com":         "https://memory.example.com",
		"https://memory.example.com/":        "https://memory.example.com",
		"http://10.0.0.5:8420/engram/":       "http://10.0.0.5:8420/engram",
		"https://memory.example.com/a/b":     "https://memory.example.com/a/b",
		"HTTPS://memory.example.com:443/x//": "https://memory.example.com:443/x",
	} {
		if got, err := httpapi.ParsePublicURL(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "memory.example.com", "/engram", "ftp://example.com", "https://",
		"https://user:pw@example.com", "https://example.com/?a=b", "https://example.com/#x", "https://example.com/?", "javascript:alert(1)"} {
		if got, err := httpapi.ParsePublicURL(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}
