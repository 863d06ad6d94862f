// Package ssoe2e_test signs people in through Engram's REST API with real
// identity providers: zitadel's example OpenID provider, crewjam's samlidp
// and SimpleSAMLphp. It is its own package (not httpapi's) because those
// peers keep goroutines and PHP processes that httpapi's leak check would
// count, and so its minute of runtime runs beside the others.
package ssoe2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/httpapi"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/mcp"
	"github.com/engram-memory/engram/internal/password"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// node is one Engram server over TLS (session cookies are Secure), its
// engine and store.
type node struct {
	URL    string
	E      *engine.Engine
	DB     *sqlite.DB
	Ring   *keys.Ring
	srv    *httptest.Server
	params password.Params
	dir    string // the data directory (of the first node on a store)
}

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// startNode runs a node on a fresh store; with peer set, a second node on
// the peer's store and KEK under the peer's public URL (another instance
// of one deployment).
func startNode(t *testing.T, peer *node) *node {
	t.Helper()
	ctx := context.Background()
	n := &node{params: cheap}
	var h http.Handler
	n.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)
	n.URL = n.srv.URL
	var kekPath string
	if peer == nil {
		dir := t.TempDir()
		n.dir = dir
		kekPath = filepath.Join(dir, "kek.key")
		db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		n.DB = db
	} else {
		n.DB = peer.DB
		kekPath = peer.kekPath(t)
	}
	k, err := local.OpenOrCreate(kekPath)
	if err != nil {
		t.Fatal(err)
	}
	n.Ring = keys.New(n.DB, k, time.Now)
	public := n.URL
	if peer != nil {
		// Behind one public name, as two instances behind a load
		// balancer are: the IdP answers to that name's ACS.
		public = peer.URL
	}
	n.E = engine.New(n.DB, n.Ring, time.Now,
		engine.WithIdentity(engine.IdentityOptions{PublicURL: public, PasswordParams: &n.params}),
		engine.WithSSONetwork(safedial.Policy{AllowLoopback: true}))
	if err := n.E.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// With /mcp and the OAuth authorization server MCP hosts sign in
	// through (oauth_test.go), under the deployment's one public name.
	h = httpapi.New(httpapi.Config{Memories: n.E, Keys: n.E, Privacy: n.E, Auth: n.E, Audit: n.E,
		Identity: n.E, SSO: n.E, SSOSignIn: n.E, Version: "test", PublicURL: public,
		MCP: mcp.HTTPHandler(mcp.New(n.E, mcp.Options{Version: "test"})), OAuth: n.E})
	kekPaths.Store(n, kekPath)
	return n
}

var kekPaths sync.Map

func TestMain(m *testing.M) {
	// zitadel's example OP logs every request through the default logger.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func (n *node) kekPath(t *testing.T) string {
	p, ok := kekPaths.Load(n)
	if !ok {
		t.Fatal("no kek path")
	}
	return p.(string)
}

// browser is a user agent trusting the node's certificate, with a cookie
// jar, that does not follow redirects (each step is checked).
func (n *node) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: n.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// following is c that follows redirects (through an IdP's pages).
func following(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, Transport: c.Transport}
}

// org is a tenant with an owner who can sign in with a password.
type org struct {
	Name, ID, OwnerID, OwnerEmail, OwnerPassword string
}

// newOrg creates a tenant and an owner who signs in with a password:
// invited with the operator's first API key, the invitation accepted
// through its link's token, then signed in through /v1/auth/login.
func (n *node) newOrg(t *testing.T, name string) *org {
	t.Helper()
	nt, err := n.E.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	o := &org{Name: name, ID: nt.Tenant.ID, OwnerEmail: "owner@" + name + ".example",
		OwnerPassword: "Vq7-mPz2-Lk9-rT4-wX8"}
	var inv engram.Invitation
	if st, code := n.call(t, http.MethodPost, "/v1/invitations", nt.Key.Secret,
		engram.InviteRequest{Email: o.OwnerEmail, Role: engram.RoleOwner}, &inv); st != http.StatusCreated {
		t.Fatalf("invite the owner: %d %s", st, code)
	}
	// The link carries its token in the fragment (never sent to a server
	// in a Referer or a log).
	u, err := url.Parse(inv.AcceptURL)
	frag, _ := url.ParseQuery(u.Fragment)
	if err != nil || frag.Get("token") == "" {
		t.Fatalf("accept_url %q", inv.AcceptURL)
	}
	var m engram.Member
	if st, code := n.call(t, http.MethodPost, "/v1/invitations/accept", "",
		engram.AcceptRequest{Token: frag.Get("token"), Password: o.OwnerPassword}, &m); st != http.StatusCreated {
		t.Fatalf("accept: %d %s", st, code)
	}
	o.OwnerID = m.ID
	return o
}

// login signs in with a password through the REST API (as a program).
func (n *node) login(t *testing.T, o *org) (*engram.Tokens, int, string) {
	t.Helper()
	var tok engram.Tokens
	st, code := n.call(t, http.MethodPost, "/v1/auth/login", "",
		engram.LoginRequest{Email: o.OwnerEmail, Password: o.OwnerPassword, Tenant: o.Name}, &tok)
	return &tok, st, code
}

// ownerToken signs the owner in and returns the access token.
func (n *node) ownerToken(t *testing.T, o *org) string {
	t.Helper()
	tok, st, code := n.login(t, o)
	if st != http.StatusOK {
		t.Fatalf("owner login: %d %s", st, code)
	}
	return tok.AccessToken
}

// call makes an API request with a bearer token and decodes a JSON answer
// into out (when not nil); it returns the status and the problem code.
func (n *node) call(t *testing.T, method, path, token string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(raw, &p)
		return resp.StatusCode, p.Code
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, ""
}

func (n *node) configure(t *testing.T, token string, cfg engram.SSOConfig) *engram.SSOConfig {
	t.Helper()
	var out engram.SSOConfig
	if st, code := n.call(t, http.MethodPut, "/v1/sso", token, cfg, &out); st != http.StatusOK {
		t.Fatalf("PUT /v1/sso: %d %s", st, code)
	}
	return &out
}

// cookie returns the value of a cookie the jar holds for the node.
func (n *node) cookie(c *http.Client, path, name string) string {
	u, _ := http.NewRequest(http.MethodGet, n.URL+path, nil)
	for _, ck := range c.Jar.Cookies(u.URL) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// principal authenticates an access token as every request does.
func (n *node) principal(t *testing.T, token string) *engram.Principal {
	t.Helper()
	p, err := n.E.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// auditActions lists the tenant's audit actions (as the owner), newest
// first.
func (n *node) auditActions(t *testing.T, token string) []string {
	t.Helper()
	var page engram.AuditPage
	if st, code := n.call(t, http.MethodGet, "/v1/audit?limit=100", token, nil, &page); st != http.StatusOK {
		t.Fatalf("GET /v1/audit: %d %s", st, code)
	}
	var out []string
	for _, e := range page.Entries {
		out = append(out, string(e.Action)+":"+string(e.Outcome))
	}
	return out
}

// atRest fails when any of secrets is in the store's files in clear (the
// database and its write-ahead log).
func (n *node) atRest(t *testing.T, secrets ...string) {
	t.Helper()
	for _, f := range []string{"engram.db", "engram.db-wal"} {
		b, err := os.ReadFile(filepath.Join(n.dir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in clear", f, s)
			}
		}
	}
}
