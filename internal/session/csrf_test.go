package session_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/session"
)

const console = "https://engram.example.com"

func TestCheckOrigin(t *testing.T) {
	origins := []string{console}
	cases := []struct {
		name   string
		method string
		cookie bool
		h      map[string]string
		ok     bool
	}{
		{"bearer POST from anywhere", "POST", false, map[string]string{"Origin": "https://evil.example"}, true},
		{"cookie GET cross-site", "GET", true, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, true},
		{"cookie HEAD", "HEAD", true, nil, true},
		{"cookie OPTIONS", "OPTIONS", true, nil, true},
		{"same-origin fetch", "POST", true, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": console}, true},
		{"typed by the user", "POST", true, map[string]string{"Sec-Fetch-Site": "none"}, true},
		{"cross-site POST", "POST", true, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, false},
		{"sibling subdomain (same-site)", "DELETE", true, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.example.com"}, false},
		{"same-site but a listed origin", "PATCH", true, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": console}, true},
		{"old browser, right Origin", "PUT", true, map[string]string{"Origin": console}, true},
		{"old browser, Origin case", "PUT", true, map[string]string{"Origin": "HTTPS://Engram.Example.com"}, true},
		{"old browser, wrong Origin", "PUT", true, map[string]string{"Origin": "https://evil.example"}, false},
		{"http downgrade of our origin", "POST", true, map[string]string{"Origin": "http://engram.example.com"}, false},
		{"other port", "POST", true, map[string]string{"Origin": "https://engram.example.com:8443"}, false},
		{"origin null (sandboxed iframe)", "POST", true, map[string]string{"Origin": "null"}, false},
		{"no headers at all", "POST", true, nil, false},
		{"Referer is not enough", "POST", true, map[string]string{"Referer": console + "/"}, false},
		{"unknown method", "BREW", true, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
	}
	for _, c := range cases {
		h := http.Header{}
		for k, v := range c.h {
			h.Set(k, v)
		}
		err := session.CheckOrigin(session.Request{Method: c.method, Header: h, Cookie: c.cookie}, origins)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, session.ErrCrossOrigin) {
			t.Errorf("%s: error %v", c.name, err)
		}
	}
}

// TestCheckOriginAgreesWithNetHTTP compares the rule with the standard
// library's independent implementation over every combination of method,
// Sec-Fetch-Site and Origin, with the console's host as Host and its
// origin trusted. They must agree everywhere except the two documented
// differences.
func TestCheckOriginAgreesWithNetHTTP(t *testing.T) {
	std := http.NewCrossOriginProtection()
	if err := std.AddTrustedOrigin(console); err != nil {
		t.Fatal(err)
	}
	methods := []string{"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}
	sites := []string{"", "same-origin", "same-site", "cross-site", "none"}
	origins := []string{"", console, "https://evil.example", "https://evil.example.com", "null", "http://engram.example.com"}
	disagreements := 0
	for _, m := range methods {
		for _, site := range sites {
			for _, o := range origins {
				r := httptest.NewRequest(m, console+"/v1/memories", nil)
				if site != "" {
					r.Header.Set("Sec-Fetch-Site", site)
				}
				if o != "" {
					r.Header.Set("Origin", o)
				}
				want := std.Check(r) == nil
				got := session.CheckOrigin(session.Request{Method: m, Header: r.Header, Cookie: true}, []string{console}) == nil
				if got == want {
					continue
				}
				disagreements++
				switch {
				case site == "" && o == "" && want && !got:
					// Neither header: net/http assumes a non-browser
					// client; a cookie means a browser, so we refuse.
				case site == "" && o == "http://engram.example.com" && want && !got:
					// net/http compares Origin's host with Host and
					// ignores the scheme; we compare the whole origin.
				default:
					t.Errorf("%s Sec-Fetch-Site=%q Origin=%q: ours %v, net/http %v", m, site, o, got, want)
				}
			}
		}
	}
	if disagreements != 8 { // 4 unsafe methods × 2 documented cases
		t.Errorf("%d disagreements, want 8 (the documented ones)", disagreements)
	}
}

// FuzzCheckOrigin: whatever the headers, the rule never lets through a
// request that net/http.CrossOriginProtection (with the same trusted
// origin and the console's Host) refuses; it is only ever stricter. The
// one exception is letter case in Origin, which browsers never vary
// (they serialise origins in lower case) and we fold.
func FuzzCheckOrigin(f *testing.F) {
	f.Add("POST", "cross-site", "https://evil.example")
	f.Add("POST", "", console)
	f.Add("DELETE", "same-site", "https://ENGRAM.example.com")
	f.Add("PUT", "", "http://engram.example.com")
	f.Add("GET", "cross-site", "")
	std := http.NewCrossOriginProtection()
	if err := std.AddTrustedOrigin(console); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, site, origin string) {
		h := http.Header{}
		if site != "" {
			h["Sec-Fetch-Site"] = []string{site}
		}
		if origin != "" {
			h["Origin"] = []string{origin}
		}
		ours := session.CheckOrigin(session.Request{Method: method, Header: h, Cookie: true}, []string{console}) == nil
		if !ours {
			return
		}
		lower := http.Header{}
		for k, v := range h {
			lower[k] = v
		}
		if origin != "" {
			lower["Origin"] = []string{strings.ToLower(origin)}
		}
		r := &http.Request{Method: method, Header: lower, Host: "engram.example.com"}
		if err := std.Check(r); err != nil {
			t.Fatalf("we allow %s Sec-Fetch-Site=%q Origin=%q; net/http refuses: %v", method, site, origin, err)
		}
	})
}
