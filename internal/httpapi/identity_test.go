package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// req sends a JSON request with optional bearer token and headers and
// returns the response (body read) for status, headers and cookies.
func req(t *testing.T, s *testserver.Server, token, method, path, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	r, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return v
}

func wantStatus(t *testing.T, resp *http.Response, body string, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: got %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status)
	}
	if code != "" && decode[Problem](t, body).Code != code {
		t.Fatalf("%s %s: got %s, want code %s", resp.Request.Method, resp.Request.URL.Path, body, code)
	}
}

type Problem struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

const (
	memberPassword = "Quokka-Meadow-41-Lantern"
	readerPassword = "Vivid-Otter-Harbor-88x"
)

// invite invites email with role using token, accepts with pw and signs
// in, returning the session's tokens and the account id.
func inviteAndSignIn(t *testing.T, s *testserver.Server, token, email, role, pw string) (engram.Tokens, string) {
	t.Helper()
	resp, body := req(t, s, token, "POST", "/v1/invitations", `{"email":"`+email+`","role":"`+role+`"}`)
	wantStatus(t, resp, body, 201, "")
	inv := decode[engram.Invitation](t, body)
	if inv.AcceptURL == "" || inv.Sent || inv.Role != engram.Role(role) {
		t.Fatalf("invitation without a mailer: %+v", inv)
	}
	_, tok, _ := strings.Cut(inv.AcceptURL, "#token=")
	resp, body = req(t, s, "", "POST", "/v1/invitations/accept", `{"token":"`+tok+`","password":"`+pw+`","name":"`+role+` person"}`)
	wantStatus(t, resp, body, 201, "")
	m := decode[engram.Member](t, body)
	if m.ID != inv.ID || m.Status != engram.MemberActive || m.EmailVerified {
		t.Fatalf("accepted: %+v (a link handed to the inviter proves no address)", m)
	}
	// The link is single use.
	resp, body = req(t, s, "", "POST", "/v1/invitations/accept", `{"token":"`+tok+`","password":"`+pw+`"}`)
	wantStatus(t, resp, body, 404, engram.CodeNotFound)
	return login(t, s, email, pw), m.ID
}

func login(t *testing.T, s *testserver.Server, email, pw string) engram.Tokens {
	t.Helper()
	resp, body := req(t, s, "", "POST", "/v1/auth/login", `{"email":"`+email+`","password":"`+pw+`"}`)
	wantStatus(t, resp, body, 200, "")
	tk := decode[engram.Tokens](t, body)
	if !strings.HasPrefix(tk.AccessToken, "egat_") || !strings.HasPrefix(tk.RefreshToken, "egrt_") || tk.ExpiresIn <= 0 {
		t.Fatalf("tokens: %+v", tk)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatal("a program (no Origin, no Sec-Fetch-Site) got cookies")
	}
	return tk
}

// TestTeamSignIn is issue 13's first scenario: an owner invites a member
// and a reader; each signs in with a password; each can do what its role
// allows and nothing more; a stolen refresh token used twice ends the
// family; removal ends sessions at once.
func TestTeamSignIn(t *testing.T) {
	s := testserver.Start(t)
	owner := ownerKey(t, s)

	member, memberID := inviteAndSignIn(t, s, owner, "Mia@Example.com", "member", memberPassword)
	reader, readerID := inviteAndSignIn(t, s, owner, "rae@example.com", "reader", readerPassword)

	// Who am I: the role comes from the account.
	resp, body := req(t, s, member.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, 200, "")
	me := decode[engram.Me](t, body)
	if me.ID != memberID || me.Role != engram.RoleMember || me.Tenant != "acme" || me.Via != "session" || me.Email != "mia@example.com" {
		t.Fatalf("me: %+v", me)
	}

	// The member writes; the reader reads but cannot write or invite.
	resp, body = req(t, s, member.AccessToken, "POST", "/v1/memories", `{"messages":[{"role":"user","content":"I prefer green tea"}],"user_id":"u1"}`)
	wantStatus(t, resp, body, 201, "")
	resp, body = req(t, s, reader.AccessToken, "POST", "/v1/memories", `{"messages":[{"role":"user","content":"x"}],"user_id":"u1"}`)
	wantStatus(t, resp, body, 403, engram.CodeForbidden)
	resp, body = req(t, s, reader.AccessToken, "GET", "/v1/memories?user_id=u1", "")
	wantStatus(t, resp, body, 200, "")
	for _, tk := range []string{member.AccessToken, reader.AccessToken} {
		resp, body = req(t, s, tk, "POST", "/v1/invitations", `{"email":"x@example.com","role":"reader"}`)
		wantStatus(t, resp, body, 403, engram.CodeForbidden)
		resp, body = req(t, s, tk, "GET", "/v1/audit", "")
		wantStatus(t, resp, body, 403, engram.CodeForbidden)
	}
	// Everyone lists members; nobody sees a password hash.
	resp, body = req(t, s, reader.AccessToken, "GET", "/v1/members", "")
	wantStatus(t, resp, body, 200, "")
	if ms := decode[struct{ Results []engram.Member }](t, body).Results; len(ms) != 3 || strings.Contains(body, "argon2") {
		t.Fatalf("members: %s", body)
	}

	// A wrong password and an unknown address answer alike.
	r1, b1 := req(t, s, "", "POST", "/v1/auth/login", `{"email":"mia@example.com","password":"wrong wrong wrong"}`)
	r2, b2 := req(t, s, "", "POST", "/v1/auth/login", `{"email":"nobody@example.com","password":"wrong wrong wrong"}`)
	wantStatus(t, r1, b1, 401, engram.CodeUnauthenticated)
	wantStatus(t, r2, b2, 401, engram.CodeUnauthenticated)
	if decode[Problem](t, b1).Detail != decode[Problem](t, b2).Detail {
		t.Fatalf("the answers differ: %s vs %s", b1, b2)
	}

	// Refresh rotates; the spent token presented again (a thief's copy)
	// ends the whole family, the fresh pair included.
	resp, body = req(t, s, "", "POST", "/v1/auth/refresh", `{"refresh_token":"`+member.RefreshToken+`"}`)
	wantStatus(t, resp, body, 200, "")
	fresh := decode[engram.Tokens](t, body)
	if fresh.RefreshToken == member.RefreshToken || fresh.AccessToken == member.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	resp, body = req(t, s, fresh.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, 200, "")
	resp, body = req(t, s, "", "POST", "/v1/auth/refresh", `{"refresh_token":"`+member.RefreshToken+`"}`)
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
	resp, body = req(t, s, fresh.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
	resp, body = req(t, s, "", "POST", "/v1/auth/refresh", `{"refresh_token":"`+fresh.RefreshToken+`"}`)
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)

	// Demoting the last owner is refused; the member cannot promote itself.
	ownerMe := decode[engram.Me](t, func() string { _, b := req(t, s, owner, "GET", "/v1/me", ""); return b }())
	resp, body = req(t, s, owner, "PATCH", "/v1/members/"+ownerMe.ID, `{"role":"admin"}`)
	wantStatus(t, resp, body, 409, engram.CodeConflict)
	member = login(t, s, "mia@example.com", memberPassword)
	resp, body = req(t, s, member.AccessToken, "PATCH", "/v1/members/"+memberID, `{"role":"admin"}`)
	wantStatus(t, resp, body, 403, engram.CodeForbidden)

	// Removing the reader ends its session at once.
	resp, body = req(t, s, owner, "DELETE", "/v1/members/"+readerID, "")
	wantStatus(t, resp, body, 204, "")
	resp, body = req(t, s, reader.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
	resp, body = req(t, s, "", "POST", "/v1/auth/login", `{"email":"rae@example.com","password":"`+readerPassword+`"}`)
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)

	// Logout ends the session; the access token stops working.
	resp, body = req(t, s, member.AccessToken, "POST", "/v1/auth/logout", "")
	wantStatus(t, resp, body, 204, "")
	resp, body = req(t, s, member.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
}

// TestBrowserSession: a browser gets HttpOnly __Host- cookies, is
// authenticated by them, and an unsafe request from another origin is
// refused (CSRF), as is a login posted from another site.
func TestBrowserSession(t *testing.T) {
	s := testserver.Start(t)
	owner := ownerKey(t, s)
	inviteAndSignIn(t, s, owner, "bo@example.com", "member", memberPassword)

	resp, body := req(t, s, "", "POST", "/v1/auth/login", `{"email":"bo@example.com","password":"`+memberPassword+`"}`, "Origin", "https://evil.example")
	wantStatus(t, resp, body, 403, engram.CodeForbidden)

	resp, body = req(t, s, "", "POST", "/v1/auth/login", `{"email":"bo@example.com","password":"`+memberPassword+`"}`, "Origin", s.URL)
	wantStatus(t, resp, body, 200, "")
	cookies := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		cookies[c.Name] = c
	}
	at, rt := cookies["__Host-engram_at"], cookies["__Host-engram_rt"]
	if at == nil || rt == nil || !at.HttpOnly || !at.Secure || at.SameSite != http.SameSiteStrictMode || at.Path != "/" {
		t.Fatalf("cookies: %v", resp.Cookies())
	}
	cookie := "__Host-engram_at=" + at.Value
	resp, body = req(t, s, "", "GET", "/v1/me", "", "Cookie", cookie)
	wantStatus(t, resp, body, 200, "")
	write := `{"messages":[{"role":"user","content":"cookie write"}],"user_id":"u"}`
	resp, body = req(t, s, "", "POST", "/v1/memories", write, "Cookie", cookie, "Origin", "https://evil.example")
	wantStatus(t, resp, body, 403, engram.CodeForbidden)
	resp, body = req(t, s, "", "POST", "/v1/memories", write, "Cookie", cookie)
	wantStatus(t, resp, body, 403, engram.CodeForbidden) // neither Origin nor Sec-Fetch-Site
	resp, body = req(t, s, "", "POST", "/v1/memories", write, "Cookie", cookie, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, resp, body, 201, "")

	// Refresh by cookie, then logout clears both cookies.
	resp, body = req(t, s, "", "POST", "/v1/auth/refresh", "", "Cookie", "__Host-engram_rt="+rt.Value, "Origin", s.URL)
	wantStatus(t, resp, body, 200, "")
	var newRT string
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-engram_rt" {
			newRT = c.Value
		}
	}
	resp, body = req(t, s, "", "POST", "/v1/auth/logout", "", "Cookie", "__Host-engram_rt="+newRT, "Origin", s.URL)
	wantStatus(t, resp, body, 204, "")
	for _, c := range resp.Cookies() {
		if c.MaxAge >= 0 {
			t.Fatalf("logout left a cookie: %v", c)
		}
	}
}

// TestLoginThrottle: repeated failures lock the address out with a 429
// and Retry-After, before any password is checked.
func TestLoginThrottle(t *testing.T) {
	s := testserver.Start(t)
	owner := ownerKey(t, s)
	inviteAndSignIn(t, s, owner, "cy@example.com", "member", memberPassword)
	var resp *http.Response
	var body string
	for i := 0; i < 30; i++ {
		resp, body = req(t, s, "", "POST", "/v1/auth/login", `{"email":"cy@example.com","password":"not the password"}`)
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)
	}
	wantStatus(t, resp, body, 429, engram.CodeRateLimited)
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Locked out: even the right password waits.
	resp, body = req(t, s, "", "POST", "/v1/auth/login", `{"email":"cy@example.com","password":"`+memberPassword+`"}`)
	wantStatus(t, resp, body, 429, engram.CodeRateLimited)
}
