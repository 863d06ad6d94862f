package oidc_test

// A real OpenID provider for the tests: zitadel/oidc's example OP (code flow,
// PKCE S256, discovery, JWKS, userinfo) served on 127.0.0.1, with its example
// storage wrapped so a test can rotate the signing key, sign with a key the
// JWKS does not publish, give a client expired ID tokens, or mint ID tokens for
// another audience — the situations a relying party must survive or refuse.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	clientID       = "engram"
	clientSecret   = "engram-secret"
	expiredClient  = "engram-expired"
	foreignAudClnt = "engram-aud"
	redirectURL    = "http://127.0.0.1:9/sso/callback"
	opPassword     = "verysecure"
)

type rsaKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *rsaKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rsaKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k *rsaKey) Use() string                                 { return "sig" }
func (k *rsaKey) ID() string                                  { return k.id }
func (k *rsaKey) Key() any                                    { return k.key }

type pubKey struct{ *rsaKey }

func (k pubKey) Key() any { return &k.key.PublicKey }

// testOP wraps the example storage; every override is a knob a test turns.
type testOP struct {
	*storage.Storage
	mu        sync.Mutex
	current   *rsaKey
	published []*rsaKey
	groups    []string
	extra     map[string]any // more ID token claims
	lifetime  map[string]time.Duration
	// impersonate makes the OP treat one client as another, at the authorize
	// and token endpoints: the ID tokens it returns to the first are minted for
	// the second's audience, as a compromised or mixed-up IdP would.
	impersonate map[string]string

	issuer string
	srv    *httptest.Server
}

func newKey(t *testing.T, id string) *rsaKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &rsaKey{id: id, key: k}
}

func startOP(t *testing.T) *testOP {
	t.Helper()
	o := &testOP{
		groups:      []string{"engineering", "admins"},
		lifetime:    map[string]time.Duration{expiredClient: -5 * time.Minute},
		impersonate: map[string]string{foreignAudClnt: clientID},
	}
	var h http.Handler
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.rewriteClient(r)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(o.srv.Close)
	o.issuer = o.srv.URL
	clients := map[string]*storage.Client{}
	for _, id := range []string{clientID, expiredClient, foreignAudClnt} {
		clients[id] = storage.WebClient(id, clientSecret, redirectURL)
	}
	o.Storage = storage.NewStorageWithClients(storage.NewUserStore(o.issuer), clients)
	o.current = newKey(t, "key-1")
	o.published = []*rsaKey{o.current}
	h = exampleop.SetupServer(o.issuer, o, nil, false)
	return o
}

func (o *testOP) rewriteClient(r *http.Request) {
	q := r.URL.Query()
	if to, ok := o.impersonate[q.Get("client_id")]; ok {
		q.Set("client_id", to)
		r.URL.RawQuery = q.Encode()
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if to, ok := o.impersonate[user]; ok {
			r.SetBasicAuth(to, pass)
		}
	}
}

// rotate makes a new key current and publishes it beside the old ones, as an
// IdP does during rotation.
func (o *testOP) rotate(t *testing.T, id string, publish bool) {
	k := newKey(t, id)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.current = k
	if publish {
		o.published = append([]*rsaKey{k}, o.published...)
	}
}

func (o *testOP) SigningKey(context.Context) (op.SigningKey, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.current, nil
}

func (o *testOP) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (o *testOP) KeySet(context.Context) ([]op.Key, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := make([]op.Key, 0, len(o.published))
	for _, k := range o.published {
		keys = append(keys, pubKey{k})
	}
	return keys, nil
}

type lifetimeClient struct {
	op.Client
	d time.Duration
}

func (c lifetimeClient) IDTokenLifetime() time.Duration { return c.d }

func (o *testOP) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := o.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	if d, ok := o.lifetime[id]; ok {
		return lifetimeClient{c, d}, nil
	}
	return c, nil
}

// The groups claim goes into the ID token (SetUserinfoFromScopes builds its
// claims) and into the userinfo answer.
func (o *testOP) SetUserinfoFromScopes(ctx context.Context, ui *zoidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := o.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	ui.AppendClaims("groups", o.groups)
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range o.extra {
		ui.AppendClaims(k, v)
	}
	return nil
}

func (o *testOP) setExtra(k string, v any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.extra == nil {
		o.extra = map[string]any{}
	}
	o.extra[k] = v
}

func (o *testOP) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := o.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	ui.AppendClaims("groups", o.groups)
	return nil
}

// signIn plays the browser: it follows authURL to the OP's login form, signs in
// as the example user, and returns the query the OP sent to our callback.
func (o *testOP) signIn(t *testing.T, authURL string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	reqID := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || reqID == "" {
		t.Fatalf("authorize landed on %s (%d), want the login form", resp.Request.URL, resp.StatusCode)
	}
	host := strings.TrimPrefix(o.issuer, "http://")
	resp, err = browser.PostForm(o.issuer+"/login/username", url.Values{
		"id": {reqID}, "username": {"test-user@" + strings.Split(host, ":")[0]}, "password": {opPassword},
	})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), redirectURL) {
		t.Fatalf("login answered %d, location %v: want a redirect to the callback", resp.StatusCode, loc)
	}
	return loc.Query()
}

func TestMain(m *testing.M) {
	// The example OP logs every request through the default logger.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
