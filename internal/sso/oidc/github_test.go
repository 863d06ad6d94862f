package oidc_test

// GitHub is an IdP edge the tests cannot reach, so this file serves the parts
// of its protocol the package uses — the OAuth web flow with PKCE and the
// /user, /user/emails and /user/orgs API answers — on 127.0.0.1, shaped as
// GitHub documents them.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/engram-memory/engram/internal/sso"
	"github.com/engram-memory/engram/internal/sso/oidc"
)

type fakeGitHub struct {
	srv        *httptest.Server
	mu         sync.Mutex
	challenges map[string]string // code -> code_challenge
	emails     []map[string]any
}

func startGitHub(t *testing.T) *fakeGitHub {
	g := &fakeGitHub{challenges: map[string]string{}, emails: []map[string]any{
		{"email": "octo@old.example", "primary": false, "verified": true},
		{"email": "Octo@Example.com", "primary": true, "verified": true},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != clientID || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		code := "code-" + q.Get("state")[:8]
		g.mu.Lock()
		g.challenges[code] = q.Get("code_challenge")
		g.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		g.mu.Lock()
		challenge, ok := g.challenges[r.Form.Get("code")]
		delete(g.challenges, r.Form.Get("code"))
		g.mu.Unlock()
		sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		if !ok || r.Form.Get("client_id") != clientID || r.Form.Get("client_secret") != clientSecret ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			_, _ = w.Write([]byte("error=bad_verification_code"))
			return
		}
		_, _ = w.Write([]byte("access_token=gho_testtoken&scope=read%3Aorg%2Cuser%3Aemail&token_type=bearer"))
	})
	api := func(v func() any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer gho_testtoken" {
				http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(v())
		}
	}
	mux.HandleFunc("GET /user", api(func() any { return map[string]any{"id": 4242, "login": "octo", "name": "Octo Cat"} }))
	mux.HandleFunc("GET /user/emails", api(func() any { g.mu.Lock(); defer g.mu.Unlock(); return g.emails }))
	mux.HandleFunc("GET /user/orgs", api(func() any { return []map[string]any{{"login": "engram-memory"}, {"login": "acme"}} }))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGitHub) provider(t *testing.T, edit ...func(*oidc.Config)) *oidc.Provider {
	cfg := oidc.GitHub(clientID, clientSecret, redirectURL)
	cfg.AuthURL, cfg.TokenURL, cfg.APIURL = g.srv.URL+"/login/oauth/authorize", g.srv.URL+"/login/oauth/access_token", g.srv.URL
	cfg.Scopes = append(cfg.Scopes, "read:org")
	cfg.Network = loopbackOnly
	for _, e := range edit {
		e(&cfg)
	}
	p, err := oidc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (g *fakeGitHub) authorize(t *testing.T, authURL string) url.Values {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize answered %d without a redirect", resp.StatusCode)
	}
	return loc.Query()
}

func TestGitHubSignIn(t *testing.T) {
	g := startGitHub(t)
	p := g.provider(t)
	authURL, pending, _ := p.Begin()
	if pending.Nonce != "" {
		t.Error("GitHub has no ID token, so no nonce")
	}
	id, err := p.Finish(context.Background(), pending, g.authorize(t, authURL))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	want := sso.Identity{Subject: "4242", Issuer: oidc.GitHubIssuer, Email: "octo@example.com", EmailVerified: true,
		Name: "Octo Cat", Groups: []string{"engram-memory", "acme"}}
	if id.Subject != want.Subject || id.Issuer != want.Issuer || id.Email != want.Email || !id.EmailVerified ||
		id.Name != want.Name || !slices.Equal(id.Groups, want.Groups) {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
}

func TestGitHubWrongVerifierRefused(t *testing.T) {
	g := startGitHub(t)
	p := g.provider(t)
	authURL, pending, _ := p.Begin()
	_, other, _ := p.Begin()
	cb := g.authorize(t, authURL)
	pending.Verifier = other.Verifier
	if _, err := p.Finish(context.Background(), pending, cb); !errors.Is(err, oidc.ErrExchange) {
		t.Fatalf("Finish with another verifier: %v, want ErrExchange", err)
	}
}

func TestGitHubUnverifiedEmail(t *testing.T) {
	g := startGitHub(t)
	g.emails = []map[string]any{{"email": "octo@example.com", "primary": true, "verified": false}}
	p := g.provider(t)
	authURL, pending, _ := p.Begin()
	id, err := p.Finish(context.Background(), pending, g.authorize(t, authURL))
	if err != nil || id.Email != "" || id.EmailVerified {
		t.Fatalf("unverified primary address: identity %+v, err %v; want no email", id, err)
	}
	p = g.provider(t, func(c *oidc.Config) { c.AllowedEmailDomains = []string{"example.com"} })
	authURL, pending, _ = p.Begin()
	if _, err := p.Finish(context.Background(), pending, g.authorize(t, authURL)); !errors.Is(err, sso.ErrEmailNotVerified) {
		t.Fatalf("domain rule with an unverified address: %v, want ErrEmailNotVerified", err)
	}
}
