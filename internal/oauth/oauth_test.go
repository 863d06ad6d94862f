package oauth_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
)

const resource = "https://memory.example.com/mcp"
const issuer = "https://memory.example.com"

var t0 = time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)

func code(t *testing.T, err error) string {
	t.Helper()
	e, ok := oauth.As(err)
	if !ok {
		t.Fatalf("error %v is not an *oauth.Error", err)
	}
	return e.Code
}

func TestRegister(t *testing.T) {
	c, err := oauth.Register(rand.Reader, t0, oauth.Registration{
		RedirectURIs:            []string{"http://127.0.0.1:33418/callback", "https://vscode.dev/redirect", "http://127.0.0.1:33418/callback"},
		ClientName:              " Claude ",
		TokenEndpointAuthMethod: "client_secret_post",
		GrantTypes:              []string{"authorization_code", "refresh_token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !oauth.ValidClientID(c.ID) || c.Name != "Claude" || len(c.RedirectURIs) != 2 || !c.CreatedAt.Equal(t0) {
		t.Fatalf("client %+v", c)
	}
	resp := c.Response()
	// A requested secret method is replaced: public clients only.
	if resp.TokenEndpointAuthMethod != "none" || resp.ClientID != c.ID || resp.ClientIDIssuedAt != t0.Unix() {
		t.Fatalf("response %+v", resp)
	}
	c2, _ := oauth.Register(rand.Reader, t0, oauth.Registration{RedirectURIs: []string{"https://a.example/cb"}})
	if c2.ID == c.ID {
		t.Fatal("two registrations got one id")
	}

	many := make([]string, oauth.MaxRedirectURIs+1)
	for i := range many {
		many[i] = "https://a.example/cb" + strings.Repeat("x", i)
	}
	for name, tc := range map[string]struct {
		reg  oauth.Registration
		want string
	}{
		"no redirect":         {oauth.Registration{}, oauth.ErrInvalidRedirectURI},
		"too many redirects":  {oauth.Registration{RedirectURIs: many}, oauth.ErrInvalidRedirectURI},
		"http remote":         {oauth.Registration{RedirectURIs: []string{"http://evil.example/cb"}}, oauth.ErrInvalidRedirectURI},
		"javascript":          {oauth.Registration{RedirectURIs: []string{"javascript:alert(1)"}}, oauth.ErrInvalidRedirectURI},
		"client credentials":  {oauth.Registration{RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"client_credentials"}}, oauth.ErrInvalidClientMetadata},
		"implicit":            {oauth.Registration{RedirectURIs: []string{"https://a.example/cb"}, ResponseTypes: []string{"token"}}, oauth.ErrInvalidClientMetadata},
		"extra grant":         {oauth.Registration{RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"authorization_code", "password"}}, oauth.ErrInvalidClientMetadata},
		"long name":           {oauth.Registration{RedirectURIs: []string{"https://a.example/cb"}, ClientName: strings.Repeat("n", 101)}, oauth.ErrInvalidClientMetadata},
		"control char name":   {oauth.Registration{RedirectURIs: []string{"https://a.example/cb"}, ClientName: "a\nb"}, oauth.ErrInvalidClientMetadata},
		"fragment":            {oauth.Registration{RedirectURIs: []string{"https://a.example/cb#x"}}, oauth.ErrInvalidRedirectURI},
		"relative":            {oauth.Registration{RedirectURIs: []string{"/cb"}}, oauth.ErrInvalidRedirectURI},
		"oversized redirect":  {oauth.Registration{RedirectURIs: []string{"https://a.example/" + strings.Repeat("a", oauth.MaxRedirectURILen)}}, oauth.ErrInvalidRedirectURI},
		"user info":           {oauth.Registration{RedirectURIs: []string{"https://u:p@a.example/cb"}}, oauth.ErrInvalidRedirectURI},
		"space in redirect":   {oauth.Registration{RedirectURIs: []string{"https://a.example/c b"}}, oauth.ErrInvalidRedirectURI},
		"data scheme":         {oauth.Registration{RedirectURIs: []string{"data:text/html,hi"}}, oauth.ErrInvalidRedirectURI},
		"https without host":  {oauth.Registration{RedirectURIs: []string{"https:///cb"}}, oauth.ErrInvalidRedirectURI},
		"private-use no path": {oauth.Registration{RedirectURIs: []string{"cursor:callback"}}, oauth.ErrInvalidRedirectURI},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := oauth.Register(rand.Reader, t0, tc.reg)
			if err == nil || code(t, err) != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestCheckRedirectURI(t *testing.T) {
	for _, ok := range []string{
		"https://claude.ai/api/mcp/auth_callback", "http://127.0.0.1:6274/oauth/callback", "http://localhost:33418/cb",
		"http://[::1]:8080/cb", "http://127.0.0.2/cb", "cursor://anysphere.cursor-mcp/oauth/callback",
		"com.example.app:/oauth2redirect", "https://a.example/cb?tenant=x",
	} {
		if err := oauth.CheckRedirectURI(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"http://example.com/cb", "http://127.0.0.1.evil.example/cb", "http://localhost.evil.example/cb", "file:///etc/passwd",
		"JavaScript:alert(1)", "vbscript:x", "ws://127.0.0.1/cb", "", "https://a.example/\x00",
	} {
		if err := oauth.CheckRedirectURI(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzCheckRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://127.0.0.1:1/cb", "cursor://x/y", "javascript:x", "http://evil/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if oauth.CheckRedirectURI(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Fragment != "" || u.User != nil {
			t.Fatalf("accepted %q", s)
		}
		switch strings.ToLower(u.Scheme) {
		case "http":
			if !oauth.Loopback(u.Hostname()) {
				t.Fatalf("accepted remote http %q", s)
			}
		case "javascript", "data", "vbscript", "file":
			t.Fatalf("accepted %q", s)
		}
	})
}

var verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// TestChallengeRFC7636 is the known answer of RFC 7636 Appendix B.
func TestChallengeRFC7636(t *testing.T) {
	if got := oauth.Challenge(verifier); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("challenge %s", got)
	}
}

func testClient() *oauth.Client {
	return &oauth.Client{ID: "egc_AAAAAAAAAAAAAAAAAAAAAA", Name: "Inspector", RedirectURIs: []string{"http://127.0.0.1:6274/cb", "https://a.example/cb?x=1"}}
}

func authQuery() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {testClient().ID}, "redirect_uri": {"http://127.0.0.1:6274/cb"},
		"code_challenge": {oauth.Challenge(verifier)}, "code_challenge_method": {"S256"}, "state": {"s-1"},
		"scope": {"memories:read memories:write"}, "resource": {resource},
	}
}

func TestParseAuthorization(t *testing.T) {
	r, aerr := oauth.ParseAuthorization(authQuery(), testClient(), resource)
	if aerr != nil {
		t.Fatal(aerr.Error)
	}
	if r.RedirectURI != "http://127.0.0.1:6274/cb" || r.State != "s-1" || r.Resource != resource ||
		!slices.Equal(r.Scopes, []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesWrite}) || r.ClientName != "Inspector" {
		t.Fatalf("request %+v", r)
	}
	// Round trip through the sign-in form's hidden fields.
	r2, aerr := oauth.ParseAuthorization(r.Params(), testClient(), resource)
	if aerr != nil || r2.RedirectURI != r.RedirectURI || r2.State != r.State || r2.Challenge != r.Challenge || !slices.Equal(r2.Scopes, r.Scopes) {
		t.Fatalf("round trip: %+v %v", r2, aerr)
	}

	mod := func(f func(url.Values)) url.Values { q := authQuery(); f(q); return q }
	cases := map[string]struct {
		q        url.Values
		client   *oauth.Client
		want     string
		redirect bool
	}{
		"unknown client":          {authQuery(), nil, oauth.ErrInvalidClient, false},
		"no client_id":            {mod(func(q url.Values) { q.Del("client_id") }), testClient(), oauth.ErrInvalidRequest, false},
		"redirect not registered": {mod(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:6274/cb/") }), testClient(), oauth.ErrInvalidRequest, false},
		"redirect other port":     {mod(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:6275/cb") }), testClient(), oauth.ErrInvalidRequest, false},
		"redirect needed":         {mod(func(q url.Values) { q.Del("redirect_uri") }), testClient(), oauth.ErrInvalidRequest, false},
		"repeated parameter":      {mod(func(q url.Values) { q.Add("redirect_uri", "https://evil.example/") }), testClient(), oauth.ErrInvalidRequest, false},
		"token response":          {mod(func(q url.Values) { q.Set("response_type", "token") }), testClient(), oauth.ErrUnsupportedResponseType, true},
		"no response_type":        {mod(func(q url.Values) { q.Del("response_type") }), testClient(), oauth.ErrInvalidRequest, true},
		"no PKCE":                 {mod(func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }), testClient(), oauth.ErrInvalidRequest, true},
		"plain PKCE":              {mod(func(q url.Values) { q.Set("code_challenge_method", "plain") }), testClient(), oauth.ErrInvalidRequest, true},
		"short challenge":         {mod(func(q url.Values) { q.Set("code_challenge", "abc") }), testClient(), oauth.ErrInvalidRequest, true},
		"other resource":          {mod(func(q url.Values) { q.Set("resource", "https://other.example/mcp") }), testClient(), oauth.ErrInvalidTarget, true},
		"two resources":           {mod(func(q url.Values) { q.Add("resource", "https://other.example/mcp") }), testClient(), oauth.ErrInvalidTarget, true},
		"unknown scopes only":     {mod(func(q url.Values) { q.Set("scope", "openid tenant:admin") }), testClient(), oauth.ErrInvalidScope, true},
		"state too long":          {mod(func(q url.Values) { q.Set("state", strings.Repeat("s", 513)) }), testClient(), oauth.ErrInvalidRequest, true},
		"state control char":      {mod(func(q url.Values) { q.Set("state", "a\r\nb") }), testClient(), oauth.ErrInvalidRequest, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, aerr := oauth.ParseAuthorization(tc.q, tc.client, resource)
			if aerr == nil || aerr.Error.Code != tc.want || (aerr.Redirect != nil) != tc.redirect {
				t.Fatalf("got %+v", aerr)
			}
			if aerr.Redirect != nil {
				u, _ := url.Parse(aerr.Redirect.RedirectError(issuer, aerr.Error))
				if u.Query().Get("error") != tc.want || u.Query().Get("iss") != issuer || !strings.HasPrefix(u.String(), "http://127.0.0.1:6274/cb?") {
					t.Fatalf("redirect %s", u)
				}
				if s := u.Query().Get("state"); s != "s-1" && s != "" {
					t.Fatalf("state %q echoed", s)
				}
			}
		})
	}

	// Defaults: no resource (hosts before RFC 8707), no scope, one
	// registered redirect URI.
	one := &oauth.Client{ID: testClient().ID, RedirectURIs: []string{"https://a.example/cb"}}
	q := mod(func(q url.Values) { q.Del("resource"); q.Del("scope"); q.Del("redirect_uri"); q.Del("state") })
	r, aerr = oauth.ParseAuthorization(q, one, resource)
	if aerr != nil || r.Resource != resource || r.RedirectURI != "https://a.example/cb" || len(r.Scopes) != 2 {
		t.Fatalf("defaults: %+v %v", r, aerr)
	}
	// Unknown and non-MCP scopes are ignored; a trailing slash names the
	// same resource.
	q = mod(func(q url.Values) { q.Set("scope", "openid memories:read keys:admin"); q.Set("resource", resource+"/") })
	r, aerr = oauth.ParseAuthorization(q, testClient(), resource)
	if aerr != nil || !slices.Equal(r.Scopes, []engram.Permission{engram.PermMemoriesRead}) {
		t.Fatalf("scopes: %+v %v", r, aerr)
	}
}

func TestRedirectCode(t *testing.T) {
	r := &oauth.AuthRequest{RedirectURI: "https://a.example/cb?x=1", State: "st&=?"}
	u, err := url.Parse(r.RedirectCode(issuer, "egac_xyz"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "a.example" || u.Path != "/cb" || q.Get("x") != "1" || q.Get("code") != "egac_xyz" || q.Get("state") != "st&=?" || q.Get("iss") != issuer {
		t.Fatalf("redirect %s", u)
	}
}

// TestGrant: a host never gets more than its user's role allows.
func TestGrant(t *testing.T) {
	both := []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesWrite}
	for _, role := range []engram.Role{engram.RoleOwner, engram.RoleAdmin, engram.RoleOperator, engram.RoleMember} {
		g, err := oauth.Grant(role, both)
		if err != nil || !slices.Equal(g, both) {
			t.Errorf("%s: %v %v", role, g, err)
		}
	}
	g, err := oauth.Grant(engram.RoleReader, both)
	if err != nil || !slices.Equal(g, []engram.Permission{engram.PermMemoriesRead}) {
		t.Errorf("reader: %v %v", g, err)
	}
	if _, err := oauth.Grant(engram.RoleReader, []engram.Permission{engram.PermMemoriesWrite}); err == nil || code(t, err) != oauth.ErrInvalidScope {
		t.Errorf("reader asking only write: %v", err)
	}
	if _, err := oauth.Grant("ghost", both); err == nil {
		t.Error("unknown role granted")
	}
}

func newCode(t *testing.T, life time.Duration) (string, *oauth.Code) {
	t.Helper()
	r, aerr := oauth.ParseAuthorization(authQuery(), testClient(), resource)
	if aerr != nil {
		t.Fatal(aerr.Error)
	}
	s, c, err := oauth.NewCode(rand.Reader, t0, life, r, "tenant-1", "acct-1", []engram.Permission{engram.PermMemoriesRead})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestCode(t *testing.T) {
	s, c := newCode(t, oauth.DefaultCodeLife)
	d, ok := oauth.CodeDigest(s)
	if !ok || !bytes.Equal(d, c.Digest) || strings.Contains(string(c.Digest), s[5:]) {
		t.Fatalf("digest %x of %s", d, s)
	}
	if c.ClientID != testClient().ID || c.RedirectURI != "http://127.0.0.1:6274/cb" || c.Resource != resource ||
		c.TenantID != "tenant-1" || c.AccountID != "acct-1" || !c.ExpiresAt.Equal(t0.Add(oauth.DefaultCodeLife)) {
		t.Fatalf("code %+v", c)
	}
	s2, _ := newCode(t, oauth.DefaultCodeLife)
	if s2 == s {
		t.Fatal("two codes alike")
	}
	for _, bad := range []string{"", s[:len(s)-1], "egat_" + s[5:], s + "A", strings.Replace(s, s[6:7], "*", 1)} {
		if _, ok := oauth.CodeDigest(bad); ok {
			t.Errorf("%q taken for a code", bad)
		}
	}
	// Lives are clamped to [1 min, 10 min].
	if _, c := newCode(t, time.Second); !c.ExpiresAt.Equal(t0.Add(oauth.MinCodeLife)) {
		t.Errorf("short life %v", c.ExpiresAt)
	}
	if _, c := newCode(t, time.Hour); !c.ExpiresAt.Equal(t0.Add(oauth.MaxCodeLife)) {
		t.Errorf("long life %v", c.ExpiresAt)
	}
}

func TestRedeem(t *testing.T) {
	_, c := newCode(t, oauth.DefaultCodeLife)
	good := oauth.TokenRequest{GrantType: oauth.GrantAuthorizationCode, ClientID: c.ClientID, RedirectURI: c.RedirectURI, Verifier: verifier, Resource: resource}
	if err := c.Redeem(t0.Add(time.Minute), &good); err != nil {
		t.Fatal(err)
	}
	noRes := good
	noRes.Resource = ""
	if err := c.Redeem(t0, &noRes); err != nil {
		t.Fatalf("no resource: %v", err)
	}
	other := "egc_BBBBBBBBBBBBBBBBBBBBBB"
	for name, tc := range map[string]struct {
		mod  func(*oauth.TokenRequest, *oauth.Code)
		now  time.Time
		want string
	}{
		"wrong verifier":   {func(r *oauth.TokenRequest, _ *oauth.Code) { r.Verifier = strings.Repeat("a", 43) }, t0, oauth.ErrInvalidGrant},
		"short verifier":   {func(r *oauth.TokenRequest, _ *oauth.Code) { r.Verifier = "abc" }, t0, oauth.ErrInvalidGrant},
		"other client":     {func(r *oauth.TokenRequest, _ *oauth.Code) { r.ClientID = other }, t0, oauth.ErrInvalidGrant},
		"redirect differs": {func(r *oauth.TokenRequest, _ *oauth.Code) { r.RedirectURI = "https://a.example/cb?x=1" }, t0, oauth.ErrInvalidGrant},
		"other resource":   {func(r *oauth.TokenRequest, _ *oauth.Code) { r.Resource = "https://other.example/mcp" }, t0, oauth.ErrInvalidTarget},
		"expired":          {func(*oauth.TokenRequest, *oauth.Code) {}, t0.Add(oauth.DefaultCodeLife), oauth.ErrInvalidGrant},
		"spent":            {func(_ *oauth.TokenRequest, c *oauth.Code) { at := t0; c.SpentAt = &at }, t0, oauth.ErrInvalidGrant},
	} {
		t.Run(name, func(t *testing.T) {
			r, cc := good, *c
			tc.mod(&r, &cc)
			err := cc.Redeem(tc.now, &r)
			if err == nil || code(t, err) != tc.want {
				t.Fatalf("got %v", err)
			}
			if oauth.IsReuse(err) != (name == "spent") {
				t.Fatalf("reuse %v", oauth.IsReuse(err))
			}
		})
	}
}

func TestParseTokenRequest(t *testing.T) {
	id := testClient().ID
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {"egac_x"}, "redirect_uri": {"http://127.0.0.1:6274/cb"}, "code_verifier": {verifier}, "resource": {resource}}
	r, err := oauth.ParseTokenRequest(form)
	if err != nil || r.Code != "egac_x" || r.Verifier != verifier || r.Resource != resource || r.ClientID != id {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = oauth.ParseTokenRequest(url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {"egrt_x"}, "scope": {"memories:read"}})
	if err != nil || r.RefreshToken != "egrt_x" || !slices.Equal(r.Scope, []engram.Permission{engram.PermMemoriesRead}) {
		t.Fatalf("%+v %v", r, err)
	}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range form {
			f[kk] = slices.Clone(vv)
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	repeated := with("code", "egac_x")
	repeated.Add("code", "egac_y")
	for name, tc := range map[string]struct {
		form   url.Values
		want   string
		status int
	}{
		"no client":      {with("client_id", ""), oauth.ErrInvalidClient, 401},
		"bad client":     {with("client_id", "x"), oauth.ErrInvalidClient, 401},
		"no grant":       {with("grant_type", ""), oauth.ErrInvalidRequest, 400},
		"password grant": {with("grant_type", "password"), oauth.ErrUnsupportedGrantType, 400},
		"no code":        {with("code", ""), oauth.ErrInvalidRequest, 400},
		"no redirect":    {with("redirect_uri", ""), oauth.ErrInvalidRequest, 400},
		"no verifier":    {with("code_verifier", ""), oauth.ErrInvalidRequest, 400},
		"bad verifier":   {with("code_verifier", "short"), oauth.ErrInvalidRequest, 400},
		"repeated":       {repeated, oauth.ErrInvalidRequest, 400},
		"too long":       {with("code", strings.Repeat("c", oauth.MaxTokenParam+1)), oauth.ErrInvalidRequest, 400},
		"no refresh":     {url.Values{"grant_type": {"refresh_token"}, "client_id": {id}}, oauth.ErrInvalidRequest, 400},
		"refresh scope":  {url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {"x"}, "scope": {"openid"}}, oauth.ErrInvalidScope, 400},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := oauth.ParseTokenRequest(tc.form)
			e, ok := oauth.As(err)
			if !ok || e.Code != tc.want || e.Status != tc.status {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestNarrow(t *testing.T) {
	both := []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesWrite}
	read := []engram.Permission{engram.PermMemoriesRead}
	if g, err := oauth.Narrow(both, nil); err != nil || !slices.Equal(g, both) {
		t.Error(g, err)
	}
	if g, err := oauth.Narrow(both, read); err != nil || !slices.Equal(g, read) {
		t.Error(g, err)
	}
	if _, err := oauth.Narrow(read, both); err == nil || code(t, err) != oauth.ErrInvalidScope {
		t.Error("widened", err)
	}
}

func TestMetadata(t *testing.T) {
	b, _ := json.Marshal(oauth.NewMetadata(issuer))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	want := map[string]any{
		"issuer": issuer, "authorization_endpoint": issuer + "/oauth/authorize", "token_endpoint": issuer + "/oauth/token",
		"registration_endpoint": issuer + "/oauth/register", "code_challenge_methods_supported": []any{"S256"},
		"response_types_supported": []any{"code"}, "grant_types_supported": []any{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []any{"none"}, "scopes_supported": []any{"memories:read", "memories:write"},
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		got, _ := json.Marshal(m[k])
		exp, _ := json.Marshal(v)
		if !bytes.Equal(got, exp) {
			t.Errorf("%s = %s, want %s", k, got, exp)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	oauth.WriteJSON(w, oauth.ErrGrant())
	var body map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 400 || body["error"] != "invalid_grant" || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v %v", w.Code, body, w.Header())
	}
	w = httptest.NewRecorder()
	_, err := oauth.ParseTokenRequest(url.Values{})
	oauth.WriteJSON(w, err)
	if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("invalid_client: %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	oauth.WriteJSON(w, errors.New("db down: secret detail"))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret") || !strings.Contains(w.Body.String(), "server_error") {
		t.Fatalf("internal: %d %s", w.Code, w.Body)
	}
}

// FuzzParseAuthorization: whatever the query, an accepted request names a
// registered redirect URI, our resource, an S256 challenge and only
// offered scopes; a refusal that may be redirected goes to a registered
// redirect URI.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(authQuery().Encode())
	f.Add("client_id=egc_AAAAAAAAAAAAAAAAAAAAAA&redirect_uri=https://evil.example/&response_type=code")
	f.Add("client_id=egc_AAAAAAAAAAAAAAAAAAAAAA&response_type=token&state=%0d%0a")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		c := testClient()
		r, aerr := oauth.ParseAuthorization(q, c, resource)
		if aerr != nil {
			if aerr.Redirect != nil && !slices.Contains(c.RedirectURIs, aerr.Redirect.RedirectURI) {
				t.Fatalf("refusal redirected to %q", aerr.Redirect.RedirectURI)
			}
			return
		}
		if !slices.Contains(c.RedirectURIs, r.RedirectURI) || r.Resource != resource || len(r.Challenge) != 43 || len(r.Scopes) == 0 {
			t.Fatalf("accepted %+v", r)
		}
		for _, s := range r.Scopes {
			if !slices.Contains(oauth.Scopes, s) {
				t.Fatalf("scope %q accepted", s)
			}
		}
	})
}

func TestValidReturnTarget(t *testing.T) {
	for s, want := range map[string]bool{
		"/oauth/authorize?client_id=egc_x&state=1":             true,
		"/oauth/authorize?redirect_uri=http%3A%2F%2F127.0.0.1": true,
		"/oauth/authorize":                                               false,
		"/oauth/authorizex?a=1":                                          false,
		"https://evil.example/oauth/authorize?a=1":                       false,
		"//evil.example/oauth/authorize?a=1":                             false,
		"/oauth/authorize?x=//evil":                                      false,
		"/\\evil.example/oauth/authorize?a=1":                            false,
		"/oauth/authorize?a=1\\b":                                        false,
		"/oauth/authorize?a=1#frag":                                      false,
		"/oauth/authorize?a=1\r\nLocation:x":                             false,
		"/oauth/authorize?a=\u00e9":                                      false,
		"/oauth/authorize?" + strings.Repeat("a", oauth.MaxReturnTarget): false,
		"/v1/sso/acme/begin?/oauth/authorize?":                           false,
	} {
		if got := oauth.ValidReturnTarget(s); got != want {
			t.Errorf("ValidReturnTarget(%q) = %v, want %v", s, got, want)
		}
	}
}
