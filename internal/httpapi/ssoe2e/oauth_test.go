package ssoe2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/sso/oidc/oidctest"
)

// An MCP host's sign-in (the OAuth authorization server, /oauth/*) in an
// organisation that signs in with SSO only: the consent page sends the
// person to the organisation's IdP and back, then asks for consent alone.

const hostRedirect = "http://127.0.0.1:33418/callback"

// mcpHost is a registered public client with its PKCE verifier.
type mcpHost struct {
	n        *node
	id       string
	verifier string
}

func registerHost(t *testing.T, n *node) *mcpHost {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"redirect_uris": []string{hostRedirect}, "client_name": "Inspector", "token_endpoint_auth_method": "none"})
	resp, err := n.srv.Client().Post(n.URL+oauth.RegisterPath, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reg oauth.RegistrationResponse
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", resp.StatusCode, err)
	}
	v := make([]byte, 32)
	_, _ = rand.Read(v)
	return &mcpHost{n: n, id: reg.ClientID, verifier: base64.RawURLEncoding.EncodeToString(v)}
}

// authURL is the authorization request the host opens in the browser.
func (h *mcpHost) authURL() string {
	q := url.Values{"response_type": {"code"}, "client_id": {h.id}, "redirect_uri": {hostRedirect},
		"code_challenge": {oauth.Challenge(h.verifier)}, "code_challenge_method": {"S256"}, "state": {"st-7"},
		"scope": {"memories:read memories:write"}, "resource": {h.n.URL + "/mcp"}}
	return h.n.URL + oauth.AuthorizePath + "?" + q.Encode()
}

// exchange trades a code at the token endpoint.
func (h *mcpHost) exchange(t *testing.T, at, code string) (int, map[string]any) {
	t.Helper()
	resp, err := h.n.srv.Client().PostForm(at+oauth.TokenPath, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {hostRedirect}, "client_id": {h.id}, "code_verifier": {h.verifier}, "resource": {h.n.URL + "/mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

type page struct {
	status int
	body   string
	loc    string
	fields url.Values // the consent form's hidden fields
}

var (
	hiddenRE  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	returnRE  = regexp.MustCompile(`<input name="return_to" type="hidden" value="([^"]*)">`)
	refreshRE = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]*)">`)
)

func do(t *testing.T, c *http.Client, req *http.Request) page {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(b), loc: resp.Header.Get("Location"), fields: url.Values{}}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		p.fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return p
}

func get(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return do(t, c, req)
}

// post submits a form to the consent page as a browser on origin does
// (origin "" sends no Origin header, as no browser would).
func post(t *testing.T, c *http.Client, at string, f url.Values, origin string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, at+oauth.AuthorizePath, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return do(t, c, req)
}

func with(f url.Values, k, v string) url.Values {
	g := url.Values{}
	for key, vs := range f {
		g[key] = slices.Clone(vs)
	}
	g.Set(k, v)
	return g
}

// TestOAuthConsentWithSSO: in an SSO-only organisation, a member starts at
// the MCP host's authorization URL, is refused a password, signs in
// through the OpenID provider, lands back on the consent page signed in,
// allows; the host's code exchange yields tokens that call /mcp tools as
// that member. Forged and cross-origin consents are refused, and a host's
// (delegated) token in the cookie is not a session.
func TestOAuthConsentWithSSO(t *testing.T) {
	n, o, op, owner := oidcOrg(t, engram.SSOPolicy{JIT: true, SSOOnly: true, DefaultRole: engram.RoleMember})
	h := registerHost(t, n)
	b := n.browser()

	// The page offers SSO; the owner's right password is refused with
	// the reason, as the login route refuses it.
	first := get(t, b, h.authURL())
	m := returnRE.FindStringSubmatch(first.body)
	if first.status != http.StatusOK || m == nil || strings.Contains(first.body, "Signed in as") {
		t.Fatalf("consent page: %d, SSO form %v", first.status, m)
	}
	ret := html.UnescapeString(m[1])
	if !strings.HasPrefix(ret, oauth.AuthorizePath+"?") || !oauth.ValidReturnTarget(ret) {
		t.Fatalf("return target %q", ret)
	}
	pw := post(t, b, n.URL, with(with(first.fields, "email", o.OwnerEmail), "password", o.OwnerPassword), "")
	if pw.status != http.StatusForbidden || !strings.Contains(pw.body, "single sign-on") {
		t.Fatalf("password consent in an SSO-only organisation: %d %s", pw.status, pw.body)
	}

	// The SSO form → /begin (the target rides sealed in the pending
	// cookie) → the OP → the callback.
	start := get(t, b, n.URL+"/oauth/sso?"+url.Values{"organisation": {"acme"}, "return_to": {ret}}.Encode())
	if start.status != http.StatusSeeOther || !strings.HasPrefix(start.loc, "/v1/sso/acme/begin?") {
		t.Fatalf("/oauth/sso: %d to %q", start.status, start.loc)
	}
	begin := get(t, b, n.URL+start.loc)
	if begin.status != http.StatusFound || !strings.HasPrefix(begin.loc, op.Issuer) {
		t.Fatalf("begin: %d to %q", begin.status, begin.loc)
	}
	if c := n.cookie(b, "/v1/sso/acme/oidc/callback", "__Secure-engram_sso"); c == "" || strings.Contains(c, "oauth") {
		t.Fatal("the pending cookie is missing, or holds the return target in clear")
	}
	back := get(t, b, op.SignIn(t, b, begin.loc, oidctest.User1))
	// A page of our own that loads the target (SameSite=Strict cookies
	// ride only on a navigation this origin starts), not a redirect.
	mr := refreshRE.FindStringSubmatch(back.body)
	if back.status != http.StatusOK || mr == nil || html.UnescapeString(mr[1]) != ret || back.loc != "" {
		t.Fatalf("callback: %d %q %s", back.status, back.loc, back.body)
	}
	if n.cookie(b, "/", session.AccessCookie) == "" {
		t.Fatal("the callback set no session cookie")
	}

	// Back on the consent page: signed in, no password asked.
	consent := get(t, b, n.URL+ret)
	if consent.status != http.StatusOK || !strings.Contains(consent.body, "Signed in as <strong>test-user@zitadel.ch</strong>") ||
		strings.Contains(consent.body, `type="password"`) || consent.fields.Get("signed_in") != "1" {
		t.Fatalf("consent page after SSO: %d %s", consent.status, consent.body)
	}

	// Refused: no Origin (a browser always sends one here), another
	// origin, a forged token, edited parameters.
	for name, c := range map[string]struct {
		f      url.Values
		origin string
	}{
		"no origin":     {consent.fields, ""},
		"cross origin":  {consent.fields, "https://evil.example"},
		"forged token":  {with(consent.fields, "csrf", base64.RawURLEncoding.EncodeToString(make([]byte, 40))), n.URL},
		"no token":      {with(consent.fields, "csrf", ""), n.URL},
		"edited scopes": {with(consent.fields, "scope", "memories:read memories:write audit:read"), n.URL},
	} {
		if p := post(t, b, n.URL, c.f, c.origin); p.status != http.StatusForbidden || p.loc != "" {
			t.Errorf("%s: %d to %q, want 403 and no code", name, p.status, p.loc)
		}
	}

	// Allow: back to the host with a code.
	allowed := post(t, b, n.URL, consent.fields, n.URL)
	if allowed.status != http.StatusSeeOther || !strings.HasPrefix(allowed.loc, hostRedirect+"?") {
		t.Fatalf("allow: %d to %q %s", allowed.status, allowed.loc, allowed.body)
	}
	u, _ := url.Parse(allowed.loc)
	if u.Query().Get("state") != "st-7" || u.Query().Get("code") == "" {
		t.Fatalf("redirect %s", allowed.loc)
	}
	st, tok := h.exchange(t, n.URL, u.Query().Get("code"))
	at, _ := tok["access_token"].(string)
	if st != http.StatusOK || !strings.HasPrefix(at, "egat_") || tok["scope"] != "memories:read memories:write" {
		t.Fatalf("token: %d %v", st, tok)
	}
	p := n.principal(t, at)
	me := n.principal(t, n.cookie(b, "/", session.AccessCookie))
	if !p.Delegated || p.AccountID != me.AccountID || p.TenantID != o.ID || p.Role != engram.RoleMember {
		t.Fatalf("host's principal %+v, want delegated for %s", p, me.AccountID)
	}

	// The host calls /mcp tools as that member.
	cs := connectMCP(t, n, at)
	add := callTool(t, cs, "add_memory", map[string]any{"content": "signed in through SSO: likes matcha", "user_id": "u1"})
	found := callTool(t, cs, "search_memories", map[string]any{"query": "matcha", "user_id": "u1"})
	if add.IsError || found.IsError || !strings.Contains(text(found), "matcha") {
		t.Fatalf("tools: add %v, search %q", add.IsError, text(found))
	}

	// A host's token in the cookie is not a person's session: the page
	// asks for a sign-in, and a consent posted with it is refused.
	jarURL, _ := url.Parse(n.URL + "/")
	b.Jar.SetCookies(jarURL, []*http.Cookie{{Name: session.AccessCookie, Value: at, Path: "/", Secure: true}})
	again := get(t, b, h.authURL())
	if again.status != http.StatusOK || strings.Contains(again.body, "Signed in as") || returnRE.FindString(again.body) == "" {
		t.Fatalf("page with a delegated cookie: %d %s", again.status, again.body)
	}
	forged := with(again.fields, "signed_in", "1")
	forged.Del("email")
	if p := post(t, b, n.URL, forged, n.URL); p.status != http.StatusUnauthorized || p.loc != "" {
		t.Fatalf("consent with a delegated cookie: %d to %q, want 401 and no code", p.status, p.loc)
	}

	acts := n.auditActions(t, owner)
	for _, want := range []string{"sso.login:success", "oauth.authorize:success", "oauth.token:success"} {
		if !slices.Contains(acts, want) {
			t.Errorf("audit trail lacks %s: %v", want, acts)
		}
	}
}

// TestOAuthSSOReturnTarget: only this server's consent page may be the
// return target, and the callback never takes one from its query.
func TestOAuthSSOReturnTarget(t *testing.T) {
	n, _, op, _ := oidcOrg(t, engram.SSOPolicy{JIT: true})
	b := n.browser()
	for _, bad := range []string{"https://evil.example/oauth/authorize?x=1", "//evil.example/oauth/authorize?x=1",
		"/\\evil.example/oauth/authorize?x=1", "/v1/me?x=1", "/oauth/authorize", "/oauth/authorize?a=b//c",
		"/oauth/authorize?" + strings.Repeat("a", oauth.MaxReturnTarget)} {
		if p := get(t, b, n.URL+"/oauth/sso?"+url.Values{"organisation": {"acme"}, "return_to": {bad}}.Encode()); p.status != http.StatusBadRequest || p.loc != "" {
			t.Errorf("/oauth/sso return_to=%q: %d to %q, want 400", bad, p.status, p.loc)
		}
		if st, code := n.call(t, http.MethodGet, "/v1/sso/acme/begin?"+url.Values{"return_to": {bad}}.Encode(), "", nil, nil); st != http.StatusBadRequest || code != engram.CodeInvalid {
			t.Errorf("begin return_to=%q: %d %s, want 400 invalid", bad, st, code)
		}
	}
	// Only an organisation's name goes into the path.
	for _, org := range []string{"..", "acme/../x", "Acme", "", "-x"} {
		if p := get(t, b, n.URL+"/oauth/sso?"+url.Values{"organisation": {org}, "return_to": {"/oauth/authorize?a=1"}}.Encode()); p.status != http.StatusBadRequest {
			t.Errorf("/oauth/sso organisation=%q: %d to %q, want 400", org, p.status, p.loc)
		}
	}
	// Begun without a target, a target added to the callback is ignored.
	begin := get(t, b, n.URL+"/v1/sso/acme/begin")
	cb := op.SignIn(t, b, begin.loc, oidctest.User1) + "&return_to=" + url.QueryEscape("/oauth/authorize?client_id=x")
	if p := get(t, b, cb); p.status != http.StatusSeeOther || p.loc != "/" {
		t.Fatalf("callback with return_to in its query: %d to %q, want 303 to /", p.status, p.loc)
	}
}

// TestOAuthFormAcrossNodes: two nodes on one store derive one form key, so
// a consent form shown by one is accepted by the other.
func TestOAuthFormAcrossNodes(t *testing.T) {
	n1 := startNode(t, nil)
	n2 := startNode(t, n1)
	o := n1.newOrg(t, "acme")
	ctx := context.Background()
	k1, err1 := n1.E.OAuthFormKey(ctx)
	k2, err2 := n2.E.OAuthFormKey(ctx)
	if err1 != nil || err2 != nil || len(k1) != 32 || !bytes.Equal(k1, k2) {
		t.Fatalf("form keys differ across nodes: %v %v", err1, err2)
	}
	h := registerHost(t, n1)
	b := n1.browser()
	shown := get(t, b, h.authURL())
	if shown.status != http.StatusOK || shown.fields.Get("csrf") == "" {
		t.Fatalf("page on node 1: %d", shown.status)
	}
	// The browser's form cookie is for the public name; node 2 answers to
	// it behind the balancer, so the same cookie reaches node 2.
	f := with(with(shown.fields, "email", o.OwnerEmail), "password", o.OwnerPassword)
	req, _ := http.NewRequest(http.MethodPost, n2.URL+oauth.AuthorizePath, strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range b.Jar.Cookies(mustURL(n1.URL + oauth.AuthorizePath)) {
		req.AddCookie(c)
	}
	p := do(t, &http.Client{Transport: n2.srv.Client().Transport, CheckRedirect: b.CheckRedirect}, req)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, hostRedirect+"?") {
		t.Fatalf("node 2 refused node 1's form: %d %q %s", p.status, p.loc, p.body)
	}
	u, _ := url.Parse(p.loc)
	if st, tok := h.exchange(t, n1.URL, u.Query().Get("code")); st != http.StatusOK {
		t.Fatalf("token: %d %v", st, tok)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// bearerTransport adds the host's token to every /mcp request.
type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// connectMCP opens an MCP session with the node's /mcp as a host holding
// token does (the Go MCP SDK's streamable HTTP client).
func connectMCP(t *testing.T, n *node, token string) *sdk.ClientSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := &sdk.StreamableClientTransport{Endpoint: n.URL + "/mcp", MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearerTransport{token, n.srv.Client().Transport}, Timeout: time.Minute}}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "host", Version: "test"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect /mcp: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callTool(t *testing.T, cs *sdk.ClientSession, name string, args map[string]any) *sdk.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func text(r *sdk.CallToolResult) string {
	var parts []string
	for _, c := range r.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// TestOAuthConsentWithSAML: the same way back through crewjam's SAML IdP,
// whose answer is a cross-site form post to the ACS.
func TestOAuthConsentWithSAML(t *testing.T) {
	idp := crewjamIdP(t)
	n := startNode(t, nil)
	o := n.newOrg(t, "acme")
	owner := n.ownerToken(t, o)
	n.configure(t, owner, engram.SSOConfig{Kind: "saml", SAML: &engram.SSOSAML{IDPMetadata: string(idp.metadata), TrustEmails: true},
		Policy: engram.SSOPolicy{JIT: true, SSOOnly: true, GroupRoles: []engram.SSOGroupRole{{Group: "engineering", Role: engram.RoleMember}}}})
	md := get(t, n.srv.Client(), n.URL+"/v1/sso/acme/saml/metadata")
	idp.register(t, []byte(md.body))

	h := registerHost(t, n)
	b := n.browser()
	first := get(t, b, h.authURL())
	m := returnRE.FindStringSubmatch(first.body)
	if m == nil {
		t.Fatalf("no SSO form: %s", first.body)
	}
	ret := html.UnescapeString(m[1])
	start := get(t, b, n.URL+"/oauth/sso?"+url.Values{"organisation": {"acme"}, "return_to": {ret}}.Encode())
	begin := get(t, b, n.URL+start.loc)
	if begin.status != http.StatusFound {
		t.Fatalf("begin: %d", begin.status)
	}
	action, response := idp.signIn(t, b, begin.loc)
	req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(url.Values{"SAMLResponse": {response}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	back := do(t, b, req)
	mr := refreshRE.FindStringSubmatch(back.body)
	if back.status != http.StatusOK || mr == nil || html.UnescapeString(mr[1]) != ret {
		t.Fatalf("ACS: %d %q %s", back.status, back.loc, back.body)
	}
	consent := get(t, b, n.URL+ret)
	if !strings.Contains(consent.body, "Signed in as <strong>alice@example.com</strong>") {
		t.Fatalf("consent page after SAML: %d %s", consent.status, consent.body)
	}
	allowed := post(t, b, n.URL, consent.fields, n.URL)
	u, _ := url.Parse(allowed.loc)
	if allowed.status != http.StatusSeeOther || u.Query().Get("code") == "" {
		t.Fatalf("allow: %d to %q", allowed.status, allowed.loc)
	}
	if st, tok := h.exchange(t, n.URL, u.Query().Get("code")); st != http.StatusOK || tok["scope"] != "memories:read memories:write" {
		t.Fatalf("token: %d %v", st, tok)
	}
}
