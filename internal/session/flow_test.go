package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/password"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/throttle"
)

// authServer wires password, throttle and session the way the REST step
// will (docs/IDENTITY.md, "Wiring"), over in-memory records, so the three
// packages are tested together through real HTTP.
type authServer struct {
	hasher *password.Hasher
	gate   *throttle.Gate
	dg     *session.Digester
	iss    *session.Issuer
	origin string

	mu       sync.Mutex
	accounts map[string]struct{ id, hash string } // by email blind index
	families map[string]*session.Family
	refresh  map[string]*session.RefreshToken
	access   map[string]*session.AccessToken
}

func blind(email string) string { // stands in for the keyed blind index
	s := sha256.Sum256([]byte("blind|" + email))
	return hex.EncodeToString(s[:])
}

func (a *authServer) fail(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	// One body per status: a 401 says nothing about why.
	_, _ = w.Write([]byte(map[int]string{401: `{"status":401,"title":"Unauthorized"}`, 403: `{"status":403,"title":"Forbidden"}`}[code]))
}

func (a *authServer) grant(w http.ResponseWriter, r *http.Request, g *session.Grant) {
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" { // a browser
		for _, c := range session.Cookies(time.Now(), g) {
			http.SetCookie(w, c)
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": g.AccessToken, "refresh_token": g.RefreshToken, "expires_in": int(g.ExpiresIn.Seconds())})
}

func (a *authServer) login(w http.ResponseWriter, r *http.Request) {
	if session.CheckOrigin(session.Request{Method: r.Method, Header: r.Header, Cookie: r.Header.Get("Origin") != ""}, []string{a.origin}) != nil {
		a.fail(w, 403)
		return
	}
	var in struct{ Email, Password string }
	if json.NewDecoder(r.Body).Decode(&in) != nil {
		a.fail(w, 401)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	key, addr, now := blind(in.Email), throttle.AddressKey(host), time.Now()
	if ok, wait := a.gate.Allow(now, key, addr); !ok {
		w.Header().Set("Retry-After", throttle.RetryAfter(wait))
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	a.mu.Lock()
	acct, found := a.accounts[key]
	a.mu.Unlock()
	ok := false
	if found {
		ok, _ = a.hasher.Verify(r.Context(), acct.hash, in.Password)
	} else {
		_ = a.hasher.VerifyAbsent(r.Context(), in.Password)
	}
	a.gate.Record(now, key, addr, ok)
	if !ok {
		a.fail(w, 401)
		return
	}
	f, g, err := a.iss.Start(now, session.Subject{TenantID: "t1", AccountID: acct.id, Method: "password"})
	if err != nil {
		a.fail(w, 401)
		return
	}
	a.mu.Lock()
	a.families[f.ID] = f
	a.put(g)
	a.mu.Unlock()
	a.grant(w, r, g)
}

func (a *authServer) put(g *session.Grant) {
	ac, rf := g.Access, g.Refresh
	a.access[string(ac.Digest)] = &ac
	a.refresh[string(rf.Digest)] = &rf
}

func (a *authServer) refreshHandler(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	tok, cookie := in.RefreshToken, false
	if c, err := r.Cookie(session.RefreshCookie); tok == "" && err == nil {
		tok, cookie = c.Value, true
	}
	if session.CheckOrigin(session.Request{Method: r.Method, Header: r.Header, Cookie: cookie}, []string{a.origin}) != nil {
		a.fail(w, 403)
		return
	}
	d, err := a.dg.Digest(session.Refresh, tok)
	if err != nil {
		a.fail(w, 401)
		return
	}
	a.mu.Lock() // the store's transaction
	defer a.mu.Unlock()
	rec, ok := a.refresh[string(d)]
	if !ok {
		a.fail(w, 401)
		return
	}
	f := a.families[rec.FamilyID]
	dec, err := a.iss.Rotate(time.Now(), f, *rec)
	if err != nil {
		a.fail(w, 401)
		return
	}
	if dec.Outcome == session.Rotated {
		rec.SpentAt = dec.Spend.SpentAt
		a.put(dec.Grant)
		a.grant(w, r, dec.Grant)
		return
	}
	if dec.Revoke != nil {
		for _, fam := range a.families {
			dec.Revoke.Apply(fam)
		}
	}
	for _, c := range session.ClearCookies() {
		http.SetCookie(w, c)
	}
	a.fail(w, 401)
}

// authenticated is the middleware: token from Bearer or cookie, CSRF for
// cookies, lookup, CheckAccess.
func (a *authServer) authenticated(w http.ResponseWriter, r *http.Request) {
	tok, cookie := session.AccessFrom(r.Header)
	if session.CheckOrigin(session.Request{Method: r.Method, Header: r.Header, Cookie: cookie}, []string{a.origin}) != nil {
		a.fail(w, 403)
		return
	}
	d, err := a.dg.Digest(session.Access, tok)
	if err != nil {
		a.fail(w, 401)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rec, ok := a.access[string(d)]
	if !ok || a.iss.CheckAccess(time.Now(), a.families[rec.FamilyID], *rec) != nil {
		a.fail(w, 401)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"id": rec.AccountID})
}

func TestFlowOverHTTP(t *testing.T) {
	ctx := context.Background()
	h, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, rand.Reader, 2) // test parameters
	if err != nil {
		t.Fatal(err)
	}
	dg, _ := session.NewDigester(key)
	iss, _ := session.NewIssuer(dg, rand.Reader, session.Policy{})
	a := &authServer{hasher: h, gate: throttle.NewGate(), dg: dg, iss: iss,
		accounts: map[string]struct{ id, hash string }{}, families: map[string]*session.Family{},
		refresh: map[string]*session.RefreshToken{}, access: map[string]*session.AccessToken{}}
	for id, email := range map[string]string{"alice": "alice@example.org", "bob": "bob@example.org"} {
		pw := "tangerine elephant umbrella " + id
		if err := password.Check(pw, email); err != nil {
			t.Fatal(err)
		}
		enc, _ := h.Hash(ctx, pw)
		a.accounts[blind(email)] = struct{ id, hash string }{id, enc}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/login", a.login)
	mux.HandleFunc("POST /v1/auth/refresh", a.refreshHandler)
	mux.HandleFunc("/v1/me", a.authenticated)
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	a.origin = srv.URL

	do := func(c *http.Client, method, path string, body any, hdr map[string]string) (*http.Response, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	c := srv.Client()

	// Unknown email and wrong password: the same 401, the same body.
	r1, b1 := do(c, "POST", "/v1/auth/login", map[string]string{"email": "nobody@example.org", "password": "whatever it is here"}, nil)
	r2, b2 := do(c, "POST", "/v1/auth/login", map[string]string{"email": "bob@example.org", "password": "whatever it is here"}, nil)
	if r1.StatusCode != 401 || r2.StatusCode != 401 || b1["title"] != b2["title"] || len(b1) != len(b2) {
		t.Fatalf("unknown %d %v, wrong %d %v", r1.StatusCode, b1, r2.StatusCode, b2)
	}
	// Four more wrong guesses at bob: locked, 429 with Retry-After, even
	// with the right password.
	for range 4 {
		do(c, "POST", "/v1/auth/login", map[string]string{"email": "bob@example.org", "password": "another wrong guess"}, nil)
	}
	r3, _ := do(c, "POST", "/v1/auth/login", map[string]string{"email": "bob@example.org", "password": "tangerine elephant umbrella bob"}, nil)
	if r3.StatusCode != 429 || r3.Header.Get("Retry-After") != "30" {
		t.Fatalf("locked login: %d Retry-After %q", r3.StatusCode, r3.Header.Get("Retry-After"))
	}

	// A program: Bearer tokens, rotation, then the stolen token replayed.
	r4, tok := do(c, "POST", "/v1/auth/login", map[string]string{"email": "alice@example.org", "password": "tangerine elephant umbrella alice"}, nil)
	if r4.StatusCode != 200 || len(r4.Cookies()) != 0 {
		t.Fatalf("login: %d, %d cookies for a program", r4.StatusCode, len(r4.Cookies()))
	}
	if r, me := do(c, "GET", "/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok["access_token"].(string)}); r.StatusCode != 200 || me["id"] != "alice" {
		t.Fatalf("me: %d %v", r.StatusCode, me)
	}
	r5, tok2 := do(c, "POST", "/v1/auth/refresh", map[string]string{"refresh_token": tok["refresh_token"].(string)}, nil)
	if r5.StatusCode != 200 || tok2["refresh_token"] == tok["refresh_token"] {
		t.Fatalf("refresh: %d", r5.StatusCode)
	}
	if r, _ := do(c, "POST", "/v1/auth/refresh", map[string]string{"refresh_token": tok["refresh_token"].(string)}, nil); r.StatusCode != 401 {
		t.Fatalf("replayed refresh token: %d", r.StatusCode)
	}
	if r, _ := do(c, "GET", "/v1/me", nil, map[string]string{"Authorization": "Bearer " + tok2["access_token"].(string)}); r.StatusCode != 401 {
		t.Fatalf("the family's newest access token after the replay: %d, want 401", r.StatusCode)
	}
	if r, _ := do(c, "POST", "/v1/auth/refresh", map[string]string{"refresh_token": tok2["refresh_token"].(string)}, nil); r.StatusCode != 401 {
		t.Fatalf("the family's newest refresh token after the replay: %d, want 401", r.StatusCode)
	}

	// A browser: cookies, and the Origin check on unsafe requests.
	jar, _ := cookiejar.New(nil)
	bc := srv.Client()
	bc.Jar = jar
	ours := map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}
	r6, _ := do(bc, "POST", "/v1/auth/login", map[string]string{"email": "alice@example.org", "password": "tangerine elephant umbrella alice"}, ours)
	if r6.StatusCode != 200 || len(r6.Cookies()) != 2 {
		t.Fatalf("browser login: %d, %d cookies", r6.StatusCode, len(r6.Cookies()))
	}
	if r, me := do(bc, "GET", "/v1/me", nil, nil); r.StatusCode != 200 || me["id"] != "alice" {
		t.Fatalf("cookie GET: %d", r.StatusCode)
	}
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	if r, _ := do(bc, "POST", "/v1/me", nil, evil); r.StatusCode != 403 {
		t.Fatalf("cross-site cookie POST: %d, want 403", r.StatusCode)
	}
	if r, _ := do(bc, "POST", "/v1/me", nil, ours); r.StatusCode != 200 {
		t.Fatalf("same-origin cookie POST: %d", r.StatusCode)
	}
	if r, _ := do(bc, "POST", "/v1/auth/refresh", nil, evil); r.StatusCode != 403 {
		t.Fatalf("cross-site cookie refresh: %d, want 403", r.StatusCode)
	}
	if r, _ := do(bc, "POST", "/v1/auth/refresh", nil, ours); r.StatusCode != 200 {
		t.Fatalf("cookie refresh: %d", r.StatusCode)
	}
	if r, me := do(bc, "GET", "/v1/me", nil, nil); r.StatusCode != 200 || me["id"] != "alice" {
		t.Fatalf("cookie GET after refresh: %d", r.StatusCode)
	}
}
