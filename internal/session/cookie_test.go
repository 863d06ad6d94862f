package session_test

import (
	"crypto/rand"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/session"
)

// TestCookiesRoundTrip: a real TLS server sets the cookies, a real client
// with a cookie jar keeps them and sends them back, and AccessFrom reads
// the access token from the request; the Set-Cookie lines carry every
// attribute the __Host- prefix and the design require.
func TestCookiesRoundTrip(t *testing.T) {
	d, _ := session.NewDigester(key)
	iss, _ := session.NewIssuer(d, rand.Reader, session.Policy{})
	now := time.Now()
	_, g, err := iss.Start(now, session.Subject{TenantID: "t1", AccountID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	var seenCookie bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/auth/login":
			for _, c := range session.Cookies(now, g) {
				http.SetCookie(w, c)
			}
		case "/v1/auth/logout":
			for _, c := range session.ClearCookies() {
				http.SetCookie(w, c)
			}
		default:
			seen, seenCookie = session.AccessFrom(r.Header)
		}
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := srv.Client()
	c.Jar = jar

	resp, err := c.Post(srv.URL+"/v1/auth/login", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	lines := resp.Header.Values("Set-Cookie")
	if len(lines) != 2 {
		t.Fatalf("Set-Cookie: %q", lines)
	}
	for _, l := range lines {
		ck, err := http.ParseSetCookie(l)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ck.Name, "__Host-") || ck.Path != "/" || ck.Domain != "" || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie attributes: %s", l)
		}
		want := map[string]int{session.AccessCookie: 15 * 60, session.RefreshCookie: 30 * 24 * 3600}[ck.Name]
		if ck.MaxAge != want {
			t.Errorf("%s Max-Age %d, want %d", ck.Name, ck.MaxAge, want)
		}
	}

	resp, err = c.Get(srv.URL + "/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen != g.AccessToken || !seenCookie {
		t.Errorf("AccessFrom = %q, %v; want the access token from the cookie", seen, seenCookie)
	}

	// A Bearer header wins over the cookie.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer egm_someapikey")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen != "egm_someapikey" || seenCookie {
		t.Errorf("with Bearer: %q, %v", seen, seenCookie)
	}

	// Logout clears both.
	resp, err = c.Post(srv.URL+"/v1/auth/logout", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(srv.URL + "/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if seen != "" || seenCookie {
		t.Errorf("after logout: %q, %v", seen, seenCookie)
	}
}

func TestAccessFromOtherSchemes(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Basic dXNlcjpwYXNz")
	h.Add("Cookie", session.AccessCookie+"=egat_x")
	if tok, ck := session.AccessFrom(h); tok != "" || ck {
		t.Errorf("Basic auth read as %q, %v; an explicit other scheme must not fall back to the cookie", tok, ck)
	}
}
