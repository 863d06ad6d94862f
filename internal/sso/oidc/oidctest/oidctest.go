// Package oidctest runs a real OpenID provider for tests: zitadel/oidc's
// example OP (authorization code flow with PKCE, discovery, JWKS,
// userinfo) with its in-memory storage, on 127.0.0.1, with one web client
// registered for the caller's redirect URL and a groups claim per user.
// Tests drive its login form like a browser.
package oidctest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
)

// The example storage's users (their password is Password).
const (
	// User1 signs in as "test-user@127.0.0.1"; subject "id1", email
	// test-user@zitadel.ch (verified), name "Test User".
	User1 = "id1"
	// User2 signs in as "test-user2"; subject "id2", email
	// test-user2@zitadel.ch (verified), name "Test User2".
	User2    = "id2"
	Password = "verysecure"
)

// OP is a running provider.
type OP struct {
	*storage.Storage
	Issuer       string
	ClientID     string
	ClientSecret string
	redirect     string

	mu     sync.Mutex
	groups map[string][]string // user id → groups claim
}

// Start runs an OP until the test ends, with the client ClientID allowed
// to redirect to redirectURL.
func Start(t testing.TB, redirectURL string) *OP {
	t.Helper()
	o := &OP{ClientID: "engram", ClientSecret: "engram-secret", redirect: redirectURL, groups: map[string][]string{}}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	o.Issuer = srv.URL
	clients := map[string]*storage.Client{o.ClientID: storage.WebClient(o.ClientID, o.ClientSecret, redirectURL)}
	o.Storage = storage.NewStorageWithClients(storage.NewUserStore(o.Issuer), clients)
	h = exampleop.SetupServer(o.Issuer, o, nil, false)
	return o
}

// SetGroups sets the groups claim of a user (nil: none).
func (o *OP) SetGroups(userID string, groups []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.groups[userID] = groups
}

func (o *OP) groupsOf(userID string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.groups[userID]
}

// SetUserinfoFromScopes adds the groups claim to the ID token's claims.
func (o *OP) SetUserinfoFromScopes(ctx context.Context, ui *zoidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := o.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	if g := o.groupsOf(userID); g != nil {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// SetUserinfoFromToken adds it to the userinfo answer.
func (o *OP) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := o.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	if g := o.groupsOf(subject); g != nil {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// Username is the login name of a user of the example storage.
func (o *OP) Username(userID string) string {
	if userID == User2 {
		return "test-user2"
	}
	return "test-user@" + strings.Split(strings.TrimPrefix(o.Issuer, "http://"), ":")[0]
}

// SignIn plays the browser from authURL (the OP's authorization URL)
// through its login form as userID, and returns the URL the OP redirects
// to: the relying party's callback with code and state, not yet followed.
// browser's cookie jar and transport are used.
func (o *OP) SignIn(t testing.TB, browser *http.Client, authURL, userID string) string {
	t.Helper()
	c := &http.Client{Jar: browser.Jar, Transport: browser.Transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), o.redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	reqID := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || reqID == "" {
		t.Fatalf("authorize landed on %s (%d), want the login form", resp.Request.URL, resp.StatusCode)
	}
	resp, err = c.PostForm(o.Issuer+"/login/username", url.Values{
		"id": {reqID}, "username": {o.Username(userID)}, "password": {Password},
	})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), o.redirect) {
		t.Fatalf("login answered %d, location %v: want a redirect to the callback", resp.StatusCode, loc)
	}
	return loc.String()
}
