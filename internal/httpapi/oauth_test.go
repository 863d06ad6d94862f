package httpapi_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/testserver"
)

// An MCP host signing in through the OAuth authorization server, driven
// over real HTTP: the host's calls (registration, token endpoint) and a
// scripted browser (the sign-in page, its cookie and form).

const hostRedirect = "http://127.0.0.1:33418/callback"

// host is one registered MCP host with its browser.
type host struct {
	t        *testing.T
	s        *testserver.Server
	id       string
	verifier string
	browser  *http.Client
}

func newHost(t *testing.T, s *testserver.Server, redirects ...string) *host {
	t.Helper()
	if len(redirects) == 0 {
		redirects = []string{hostRedirect}
	}
	b, _ := json.Marshal(map[string]any{"redirect_uris": redirects, "client_name": "Test Host", "token_endpoint_auth_method": "none"})
	resp, body := req(t, s, "", "POST", oauth.RegisterPath, string(b))
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	reg := decode[oauth.RegistrationResponse](t, body)
	if !strings.HasPrefix(reg.ClientID, "egc_") || reg.TokenEndpointAuthMethod != "none" {
		t.Fatalf("registration %+v", reg)
	}
	jar, _ := cookiejar.New(nil)
	v := make([]byte, 32)
	_, _ = rand.Read(v)
	return &host{t: t, s: s, id: reg.ClientID, verifier: base64.RawURLEncoding.EncodeToString(v), browser: &http.Client{
		Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// authURL is the authorization request the host opens in the browser.
func (h *host) authURL(mod func(url.Values)) string {
	q := url.Values{"response_type": {"code"}, "client_id": {h.id}, "redirect_uri": {hostRedirect},
		"code_challenge": {oauth.Challenge(h.verifier)}, "code_challenge_method": {"S256"}, "state": {"st-42"},
		"scope": {"memories:read memories:write"}, "resource": {h.s.URL + "/mcp"}}
	if mod != nil {
		mod(q)
	}
	return h.s.URL + oauth.AuthorizePath + "?" + q.Encode()
}

// page is the sign-in page as the browser got it.
type page struct {
	status int
	body   string
	fields url.Values
	loc    string
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

func (h *host) get(u string) page {
	h.t.Helper()
	resp, err := h.browser.Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(b), fields: url.Values{}, loc: resp.Header.Get("Location")}
	for _, m := range inputRE.FindAllStringSubmatch(p.body, -1) {
		p.fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return p
}

// submit posts the page's form with the member's credentials.
func (h *host) submit(p page, email, pw string, mod func(url.Values)) page {
	h.t.Helper()
	f := url.Values{}
	for k, v := range p.fields {
		f[k] = v
	}
	f.Set("email", email)
	f.Set("password", pw)
	if mod != nil {
		mod(f)
	}
	resp, err := h.browser.PostForm(h.s.URL+oauth.AuthorizePath, f)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(b), loc: resp.Header.Get("Location")}
}

// signIn runs the browser part and returns the redirect's query.
func (h *host) signIn(email, pw string, mod func(url.Values)) url.Values {
	h.t.Helper()
	p := h.get(h.authURL(mod))
	if p.status != 200 {
		h.t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	back := h.submit(p, email, pw, nil)
	if back.status != http.StatusSeeOther || !strings.HasPrefix(back.loc, hostRedirect+"?") {
		h.t.Fatalf("after sign-in: %d %q %s", back.status, back.loc, back.body)
	}
	u, _ := url.Parse(back.loc)
	return u.Query()
}

// token posts to the token endpoint and returns the status and answer.
func (h *host) token(form url.Values) (int, map[string]any) {
	h.t.Helper()
	resp, err := http.PostForm(h.s.URL+oauth.TokenPath, form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	if resp.Header.Get("Cache-Control") != "no-store" {
		h.t.Fatalf("token answer without no-store: %v", resp.Header)
	}
	return resp.StatusCode, m
}

func (h *host) exchange(code string, mod func(url.Values)) (int, map[string]any) {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {hostRedirect},
		"code_verifier": {h.verifier}, "client_id": {h.id}, "resource": {h.s.URL + "/mcp"}}
	if mod != nil {
		mod(f)
	}
	return h.token(f)
}

func (h *host) refresh(rt string) (int, map[string]any) {
	return h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {h.id}})
}

// mustTokens signs in and exchanges the code.
func (h *host) mustTokens(email, pw string) map[string]any {
	h.t.Helper()
	q := h.signIn(email, pw, nil)
	st, tok := h.exchange(q.Get("code"), nil)
	if st != 200 {
		h.t.Fatalf("exchange: %d %v", st, tok)
	}
	return tok
}

func wantOAuthError(t *testing.T, st int, m map[string]any, status int, code string) {
	t.Helper()
	if st != status || m["error"] != code {
		t.Fatalf("got %d %v, want %d %s", st, m, status, code)
	}
}

// mcpWorks reports whether token opens an MCP session that can list
// memories.
func mcpWorks(t *testing.T, s *testserver.Server, token string) bool {
	t.Helper()
	cs, err := mcptest.ConnectHTTP(t.Context(), s.URL+"/mcp", token)
	if err != nil {
		return false
	}
	defer cs.Close()
	r := mcptest.Call(t, cs, "list_memories", map[string]any{})
	return !r.IsError
}

const (
	oauthMemberEmail = "mia@example.com"
	oauthReaderEmail = "rex@example.com"
)

// team starts a server with an owner key, a member and a reader.
func team(t *testing.T) (*testserver.Server, string) {
	t.Helper()
	s := testserver.Start(t)
	owner := ownerKey(t, s)
	inviteAndSignIn(t, s, owner, oauthMemberEmail, "member", memberPassword)
	inviteAndSignIn(t, s, owner, oauthReaderEmail, "reader", readerPassword)
	return s, owner
}

func TestOAuthDiscovery(t *testing.T) {
	s := testserver.Start(t)
	for _, p := range []string{oauth.MetadataPath, oauth.MetadataPath + "/mcp"} {
		resp, body := req(t, s, "", "GET", p, "")
		md := decode[oauth.Metadata](t, body)
		if resp.StatusCode != 200 || md.Issuer != s.URL || md.TokenEndpoint != s.URL+"/oauth/token" ||
			md.RegistrationEndpoint != s.URL+"/oauth/register" || md.CodeChallengeMethodsSupported[0] != "S256" {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body := req(t, s, "", "GET", "/.well-known/oauth-protected-resource/mcp", "")
	prm := decode[struct {
		Resource string   `json:"resource"`
		AS       []string `json:"authorization_servers"`
		Scopes   []string `json:"scopes_supported"`
	}](t, body)
	if resp.StatusCode != 200 || prm.Resource != s.URL+"/mcp" || len(prm.AS) != 1 || prm.AS[0] != s.URL ||
		strings.Join(prm.Scopes, " ") != "memories:read memories:write" {
		t.Fatalf("protected resource metadata: %s", body)
	}
	// A browser-based host's preflight.
	resp, _ = req(t, s, "", "OPTIONS", oauth.TokenPath, "", "Origin", "http://localhost:6274", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// The 401 at /mcp points to the metadata.
	resp, _ = req(t, s, "", "POST", "/mcp", `{}`)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="`+s.URL+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Fatalf("challenge: %d %v", resp.StatusCode, resp.Header)
	}
	// Registration refusals are RFC 7591 errors.
	resp, body = req(t, s, "", "POST", oauth.RegisterPath, `{"redirect_uris":["http://evil.example/cb"]}`)
	if resp.StatusCode != 400 || decode[map[string]string](t, body)["error"] != "invalid_redirect_uri" {
		t.Fatalf("bad registration: %d %s", resp.StatusCode, body)
	}
	resp, body = req(t, s, "", "POST", oauth.RegisterPath, `not json`)
	if resp.StatusCode != 400 || decode[map[string]string](t, body)["error"] != "invalid_client_metadata" {
		t.Fatalf("bad registration: %d %s", resp.StatusCode, body)
	}
}

// TestOAuthMemberFlow: a member signs a host in; the host acts at /mcp
// as that member with the granted scopes; the token is for /mcp only; the
// audit trail records the grant by ids.
func TestOAuthMemberFlow(t *testing.T) {
	s, owner := team(t)
	h := newHost(t, s)

	p := h.get(h.authURL(nil))
	if p.status != 200 || !strings.Contains(p.body, "Test Host") || !strings.Contains(p.body, "memories:write") ||
		!strings.Contains(p.body, "http://127.0.0.1:33418") {
		t.Fatalf("sign-in page: %d %s", p.status, p.body)
	}
	// A wrong password stays on the page, with no redirect.
	if back := h.submit(p, oauthMemberEmail, "wrong-password-123", nil); back.status != 401 || back.loc != "" || !strings.Contains(back.body, "Wrong organisation, email or password") {
		t.Fatalf("wrong password: %d %q", back.status, back.loc)
	}
	back := h.submit(p, oauthMemberEmail, memberPassword, nil)
	if back.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", back.status, back.body)
	}
	u, _ := url.Parse(back.loc)
	q := u.Query()
	if !strings.HasPrefix(back.loc, hostRedirect+"?") || q.Get("state") != "st-42" || q.Get("iss") != s.URL || !strings.HasPrefix(q.Get("code"), "egac_") {
		t.Fatalf("redirect %s", back.loc)
	}
	st, tok := h.exchange(q.Get("code"), nil)
	if st != 200 || tok["token_type"] != "Bearer" || tok["scope"] != "memories:read memories:write" || tok["expires_in"].(float64) <= 0 ||
		!strings.HasPrefix(tok["access_token"].(string), "egat_") || !strings.HasPrefix(tok["refresh_token"].(string), "egrt_") {
		t.Fatalf("token: %d %v", st, tok)
	}
	at := tok["access_token"].(string)

	cs, err := mcptest.ConnectHTTP(t.Context(), s.URL+"/mcp", at)
	if err != nil {
		t.Fatal(err)
	}
	mcptest.Close(t, cs)
	mcptest.Add(t, cs, "signed in through oauth: likes rooibos", "")
	if r := mcptest.MustCall(t, cs, "search_memories", map[string]any{"query": "rooibos"}); !strings.Contains(r.Text, "rooibos") {
		t.Fatalf("search: %s", r.Text)
	}
	// Bound to /mcp (RFC 8707): not a key for the REST API.
	resp, body := req(t, s, at, "GET", "/v1/memories", "")
	wantStatus(t, resp, body, 401, engram.CodeUnauthenticated)

	// The audit trail: registration in the system chain; the grant and
	// the exchange in the tenant's, by ids — no code or token.
	resp, body = req(t, s, owner, "GET", "/v1/audit?limit=100", "")
	wantStatus(t, resp, body, 200, "")
	for _, secret := range []string{q.Get("code"), at, tok["refresh_token"].(string), h.verifier, memberPassword} {
		if strings.Contains(body, secret) {
			t.Fatal("the audit trail holds a secret of the flow")
		}
	}
	var page struct {
		Entries []engram.AuditEntry `json:"results"`
	}
	_ = json.Unmarshal([]byte(body), &page)
	seen := map[engram.AuditAction]string{}
	for _, e := range page.Entries {
		if e.TargetType == engram.TargetOAuthClient && e.Outcome == engram.OutcomeSuccess {
			seen[e.Action] = e.TargetID
		}
	}
	if seen[engram.AuditOAuthAuthorize] != h.id || seen[engram.AuditOAuthToken] != h.id {
		t.Fatalf("audit: %v in %s", seen, body)
	}
}

// TestOAuthRefused: the negative cases, each over the real endpoints.
func TestOAuthRefused(t *testing.T) {
	s, _ := team(t)

	t.Run("wrong PKCE verifier", func(t *testing.T) {
		h := newHost(t, s)
		q := h.signIn(oauthMemberEmail, memberPassword, nil)
		st, m := h.exchange(q.Get("code"), func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 43)) })
		wantOAuthError(t, st, m, 400, "invalid_grant")
		// The code was tried once: the right verifier now fails too.
		st, m = h.exchange(q.Get("code"), nil)
		wantOAuthError(t, st, m, 400, "invalid_grant")
	})

	t.Run("code reused revokes its tokens", func(t *testing.T) {
		h := newHost(t, s)
		q := h.signIn(oauthMemberEmail, memberPassword, nil)
		st, tok := h.exchange(q.Get("code"), nil)
		if st != 200 || !mcpWorks(t, s, tok["access_token"].(string)) {
			t.Fatalf("first exchange: %d %v", st, tok)
		}
		st, m := h.exchange(q.Get("code"), nil)
		wantOAuthError(t, st, m, 400, "invalid_grant")
		if mcpWorks(t, s, tok["access_token"].(string)) {
			t.Fatal("the first exchange's access token survived the code's reuse")
		}
		st, m = h.refresh(tok["refresh_token"].(string))
		wantOAuthError(t, st, m, 400, "invalid_grant")
	})

	t.Run("one code, two exchanges at once", func(t *testing.T) {
		h := newHost(t, s)
		q := h.signIn(oauthMemberEmail, memberPassword, nil)
		var wg sync.WaitGroup
		status := make([]int, 2)
		for i := range status {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status[i], _ = h.exchange(q.Get("code"), nil)
			}()
		}
		wg.Wait()
		if !(status[0] == 200 && status[1] == 400 || status[0] == 400 && status[1] == 200) {
			t.Fatalf("statuses %v, want one 200 and one 400", status)
		}
	})

	t.Run("redirect_uri mismatch", func(t *testing.T) {
		other := "http://127.0.0.1:33418/other"
		h := newHost(t, s, hostRedirect, other)
		// Not registered: shown, never redirected.
		p := h.get(h.authURL(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/callback") }))
		if p.status != 400 || p.loc != "" {
			t.Fatalf("unregistered redirect: %d %q", p.status, p.loc)
		}
		// Registered, but not the one the code was issued for.
		q := h.signIn(oauthMemberEmail, memberPassword, nil)
		st, m := h.exchange(q.Get("code"), func(f url.Values) { f.Set("redirect_uri", other) })
		wantOAuthError(t, st, m, 400, "invalid_grant")
	})

	t.Run("scope beyond the role", func(t *testing.T) {
		h := newHost(t, s)
		// Asking only for what the role lacks: refused.
		p := h.get(h.authURL(func(q url.Values) { q.Set("scope", "memories:write") }))
		back := h.submit(p, oauthReaderEmail, readerPassword, nil)
		u, _ := url.Parse(back.loc)
		if back.status != http.StatusSeeOther || u.Query().Get("error") != "invalid_scope" || u.Query().Get("code") != "" {
			t.Fatalf("reader asking write: %d %s", back.status, back.loc)
		}
		// Asking for both: the grant is narrowed to the role.
		tok := h.mustTokens(oauthReaderEmail, readerPassword)
		if tok["scope"] != "memories:read" {
			t.Fatalf("reader granted %v", tok["scope"])
		}
		// A reader's token reads but cannot write (403 forbidden).
		cs, err := mcptest.ConnectHTTP(t.Context(), s.URL+"/mcp", tok["access_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		mcptest.Close(t, cs)
		mcptest.MustCall(t, cs, "search_memories", map[string]any{"query": "anything"})
		mcptest.WantError(t, cs, "forbidden", "add_memory", map[string]any{"content": "a reader cannot write"})
		// Hidden parameters cannot be edited to widen the grant.
		p = h.get(h.authURL(func(q url.Values) { q.Set("scope", "memories:read") }))
		back = h.submit(p, oauthMemberEmail, memberPassword, func(f url.Values) { f.Set("scope", "memories:read memories:write") })
		if back.status != 403 || back.loc != "" {
			t.Fatalf("edited form: %d %q", back.status, back.loc)
		}
	})

	t.Run("another resource", func(t *testing.T) {
		h := newHost(t, s)
		p := h.get(h.authURL(func(q url.Values) { q.Set("resource", "https://other.example/mcp") }))
		u, _ := url.Parse(p.loc)
		if p.status != 302 || u.Query().Get("error") != "invalid_target" || u.Query().Get("state") != "st-42" {
			t.Fatalf("authorize for another resource: %d %s", p.status, p.loc)
		}
		q := h.signIn(oauthMemberEmail, memberPassword, nil)
		st, m := h.exchange(q.Get("code"), func(f url.Values) { f.Set("resource", "https://other.example/mcp") })
		wantOAuthError(t, st, m, 400, "invalid_target")
	})

	t.Run("refresh rotation and reuse", func(t *testing.T) {
		h := newHost(t, s)
		tok := h.mustTokens(oauthMemberEmail, memberPassword)
		rt1 := tok["refresh_token"].(string)
		st, tok2 := h.refresh(rt1)
		if st != 200 || tok2["refresh_token"] == rt1 || tok2["scope"] != "memories:read memories:write" || !mcpWorks(t, s, tok2["access_token"].(string)) {
			t.Fatalf("rotation: %d %v", st, tok2)
		}
		// Another client cannot spend this host's refresh token.
		other := newHost(t, s)
		st, m := other.refresh(tok2["refresh_token"].(string))
		wantOAuthError(t, st, m, 400, "invalid_grant")
		// The spent token again: the family dies, the new pair with it.
		st, m = h.refresh(rt1)
		wantOAuthError(t, st, m, 400, "invalid_grant")
		if mcpWorks(t, s, tok2["access_token"].(string)) {
			t.Fatal("the family survived a reused refresh token")
		}
		st, m = h.refresh(tok2["refresh_token"].(string))
		wantOAuthError(t, st, m, 400, "invalid_grant")
	})

	t.Run("a person's refresh token is no grant", func(t *testing.T) {
		h := newHost(t, s)
		own := login(t, s, oauthMemberEmail, memberPassword)
		st, m := h.refresh(own.RefreshToken)
		wantOAuthError(t, st, m, 400, "invalid_grant")
	})

	t.Run("form without its cookie", func(t *testing.T) {
		h := newHost(t, s)
		p := h.get(h.authURL(nil))
		h.browser.Jar, _ = cookiejar.New(nil) // another browser posts it
		if back := h.submit(p, oauthMemberEmail, memberPassword, nil); back.status != 403 || back.loc != "" {
			t.Fatalf("cross-site post: %d %q", back.status, back.loc)
		}
	})

	t.Run("declined", func(t *testing.T) {
		h := newHost(t, s)
		p := h.get(h.authURL(nil))
		back := h.submit(p, "", "", func(f url.Values) { f.Set("deny", "1") })
		u, _ := url.Parse(back.loc)
		if back.status != http.StatusSeeOther || u.Query().Get("error") != "access_denied" || u.Query().Get("code") != "" {
			t.Fatalf("declined: %d %s", back.status, back.loc)
		}
	})

	t.Run("token request errors", func(t *testing.T) {
		h := newHost(t, s)
		st, m := h.token(url.Values{"grant_type": {"password"}, "client_id": {h.id}})
		wantOAuthError(t, st, m, 400, "unsupported_grant_type")
		st, m = h.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {"egc_AAAAAAAAAAAAAAAAAAAAAA"}, "code": {"egac_x"}, "redirect_uri": {hostRedirect}, "code_verifier": {h.verifier}})
		wantOAuthError(t, st, m, 401, "invalid_client")
		st, m = h.exchange("egac_"+strings.Repeat("A", 43), nil)
		wantOAuthError(t, st, m, 400, "invalid_grant")
		resp, body := req(t, s, "", "POST", oauth.TokenPath, `{"grant_type":"authorization_code"}`)
		if resp.StatusCode != 400 || !strings.Contains(body, "invalid_request") {
			t.Fatalf("JSON token request: %d %s", resp.StatusCode, body)
		}
	})
}
