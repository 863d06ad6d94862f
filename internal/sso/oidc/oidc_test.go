package oidc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/sso"
	"github.com/engram-memory/engram/internal/sso/oidc"
)

func newRP(t *testing.T, o *testOP, client string, edit ...func(*oidc.Config)) *oidc.Provider {
	t.Helper()
	cfg := oidc.Config{Issuer: o.issuer, ClientID: client, ClientSecret: clientSecret,
		RedirectURL: redirectURL, Scopes: []string{"openid", "email", "profile"}, Network: loopbackOnly}
	for _, e := range edit {
		e(&cfg)
	}
	rp, err := oidc.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rp
}

func TestFullFlow(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	authURL, pending, err := rp.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"code_challenge_method=S256", "code_challenge=", "nonce=", "state="} {
		if !strings.Contains(authURL, want) {
			t.Errorf("auth URL lacks %q", want)
		}
	}
	if strings.Contains(authURL, pending.Verifier) {
		t.Error("auth URL carries the PKCE verifier")
	}
	id, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL))
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	want := sso.Identity{Subject: "id1", Issuer: o.issuer, Email: "test-user@zitadel.ch", EmailVerified: true,
		Name: "Test User", Groups: []string{"engineering", "admins"}}
	if id.Subject != want.Subject || id.Issuer != want.Issuer || id.Email != want.Email ||
		id.EmailVerified != want.EmailVerified || id.Name != want.Name || !slices.Equal(id.Groups, want.Groups) {
		t.Fatalf("identity = %+v, want %+v", id, want)
	}
}

func TestWrongNonceRefused(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	authURL, pending, _ := rp.Begin()
	_, other, _ := rp.Begin()
	cb := o.signIn(t, authURL)
	pending.Nonce = other.Nonce // state and verifier right, nonce of another attempt
	if _, err := rp.Finish(context.Background(), pending, cb); !errors.Is(err, oidc.ErrNonce) {
		t.Fatalf("Finish with another nonce: %v, want ErrNonce", err)
	}
}

func TestCallbackIntoAnotherSessionRefused(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	authURL, _, _ := rp.Begin()
	_, victim, _ := rp.Begin()
	if _, err := rp.Finish(context.Background(), victim, o.signIn(t, authURL)); !errors.Is(err, oidc.ErrState) {
		t.Fatalf("Finish in another session: %v, want ErrState", err)
	}
}

func TestWrongVerifierRefusedByOP(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	authURL, pending, _ := rp.Begin()
	_, other, _ := rp.Begin()
	cb := o.signIn(t, authURL)
	pending.Verifier = other.Verifier
	if _, err := rp.Finish(context.Background(), pending, cb); !errors.Is(err, oidc.ErrExchange) {
		t.Fatalf("Finish with another PKCE verifier: %v, want ErrExchange", err)
	}
}

func TestWrongAudienceRefused(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, foreignAudClnt) // the OP answers this client with tokens minted for another
	authURL, pending, _ := rp.Begin()
	_, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL))
	if !errors.Is(err, oidc.ErrIDToken) || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("Finish with a token for another audience: %v, want an audience ErrIDToken", err)
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, expiredClient) // the OP issues this client ID tokens that expired 5 minutes ago
	authURL, pending, _ := rp.Begin()
	_, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL))
	if !errors.Is(err, oidc.ErrIDToken) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Finish with an expired token: %v, want an expiry ErrIDToken", err)
	}
}

func TestExpiredByRPClockRefused(t *testing.T) {
	o := startOP(t)
	var skew time.Duration
	rp := newRP(t, o, clientID, func(c *oidc.Config) {
		c.Now = func() time.Time { return time.Now().Add(skew) }
		c.LoginTimeout = 3 * time.Hour
	})
	authURL, pending, _ := rp.Begin()
	cb := o.signIn(t, authURL)
	skew = 2 * time.Hour // the OP's ID tokens live one hour
	if _, err := rp.Finish(context.Background(), pending, cb); !errors.Is(err, oidc.ErrIDToken) {
		t.Fatalf("Finish two hours later: %v, want ErrIDToken", err)
	}
}

func TestKeyRotationAtOP(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	for i, kid := range []string{"", "key-2", "key-3"} {
		if kid != "" {
			o.rotate(t, kid, true)
		}
		authURL, pending, _ := rp.Begin()
		if _, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL)); err != nil {
			t.Fatalf("sign-in %d (after rotation to %q): %v", i, kid, err)
		}
	}
}

func TestUnpublishedKeyRefused(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	o.rotate(t, "rogue", false) // signs with a key its JWKS never lists
	authURL, pending, _ := rp.Begin()
	if _, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL)); !errors.Is(err, oidc.ErrIDToken) {
		t.Fatalf("Finish with a token from an unpublished key: %v, want ErrIDToken", err)
	}
}

func TestAllowedEmailDomains(t *testing.T) {
	o := startOP(t)
	for _, c := range []struct {
		domains []string
		err     error
	}{{[]string{"example.com"}, sso.ErrEmailDomain}, {[]string{"example.com", "zitadel.ch"}, nil}} {
		rp := newRP(t, o, clientID, func(cfg *oidc.Config) { cfg.AllowedEmailDomains = c.domains })
		authURL, pending, _ := rp.Begin()
		if _, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL)); !errors.Is(err, c.err) {
			t.Fatalf("domains %v: %v, want %v", c.domains, err, c.err)
		}
	}
}

func TestHostedDomainClaim(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID, func(c *oidc.Config) {
		c.AllowedEmailDomains, c.HostedDomainClaim = []string{"zitadel.ch"}, "hd"
	})
	for _, c := range []struct {
		hd  any
		err error
	}{{nil, sso.ErrEmailDomain}, {"other.example", sso.ErrEmailDomain}, {"zitadel.ch", nil}} {
		if c.hd != nil {
			o.setExtra("hd", c.hd)
		}
		authURL, pending, _ := rp.Begin()
		if _, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL)); !errors.Is(err, c.err) {
			t.Fatalf("hd %v: %v, want %v", c.hd, err, c.err)
		}
	}
}

func TestPendingLoginExpires(t *testing.T) {
	o := startOP(t)
	now := time.Now()
	rp := newRP(t, o, clientID, func(c *oidc.Config) { c.Now = func() time.Time { return now } })
	authURL, pending, _ := rp.Begin()
	cb := o.signIn(t, authURL)
	now = now.Add(11 * time.Minute)
	if _, err := rp.Finish(context.Background(), pending, cb); !errors.Is(err, oidc.ErrExpired) {
		t.Fatalf("Finish after 11 minutes: %v, want ErrExpired", err)
	}
}

func TestProviderErrorIsNotEchoed(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	_, pending, _ := rp.Begin()
	cb := map[string][]string{"state": {pending.State}, "error": {"<script>secret-ish text"}, "error_description": {"zzz"}}
	_, err := rp.Finish(context.Background(), pending, cb)
	if !errors.Is(err, oidc.ErrProvider) || strings.Contains(err.Error(), "script") || strings.Contains(err.Error(), "zzz") {
		t.Fatalf("Finish with an IdP error: %v", err)
	}
}

func TestDiscoveryIssuerMismatchRefused(t *testing.T) {
	o := startOP(t)
	// The same server under another name: its discovery document names o.issuer.
	other := strings.Replace(o.issuer, "127.0.0.1", "localhost", 1)
	_, err := oidc.New(context.Background(), oidc.Config{Issuer: other, ClientID: clientID, RedirectURL: redirectURL, Network: loopbackOnly})
	if !errors.Is(err, oidc.ErrProvider) {
		t.Fatalf("New with a mismatched issuer: %v, want ErrProvider", err)
	}
}

// The OP is on 127.0.0.1, so the tests allow loopback; the default refuses it.
var loopbackOnly = safedial.Policy{AllowLoopback: true}

func TestSSRFGuard(t *testing.T) {
	o := startOP(t)
	_, err := oidc.New(context.Background(), oidc.Config{Issuer: o.issuer, ClientID: clientID, RedirectURL: redirectURL})
	if !errors.Is(err, oidc.ErrProvider) || !errors.Is(err, safedial.ErrRefused) {
		t.Fatalf("discovery on loopback with the default guard: %v, want a refusal by the SSRF guard", err)
	}
	g := startGitHub(t)
	cfg := oidc.GitHub(clientID, clientSecret, redirectURL)
	cfg.AuthURL, cfg.TokenURL, cfg.APIURL = g.srv.URL+"/login/oauth/authorize", g.srv.URL+"/login/oauth/access_token", g.srv.URL
	p, err := oidc.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	authURL, pending, _ := p.Begin()
	if _, err := p.Finish(context.Background(), pending, g.authorize(t, authURL)); !errors.Is(err, oidc.ErrExchange) {
		t.Fatalf("token endpoint on loopback with the default guard: %v, want ErrExchange", err)
	}
}

func TestConfig(t *testing.T) {
	bad := []oidc.Config{
		{Issuer: "https://idp.example", RedirectURL: "https://engram.example/cb"},                            // no client id
		{Issuer: "http://idp.example", ClientID: "c", RedirectURL: "https://engram.example/cb"},              // plain http
		{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "http://engram.example/cb"},              // plain http
		{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://engram.example/cb#x"},           // fragment
		{Kind: "saml", Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://engram.example/"}, // unknown kind
		{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://e.example/cb", AllowedEmailDomains: []string{"a@b"}},
	}
	for i, c := range bad {
		if c.Validate() == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	for _, c := range []oidc.Config{oidc.Google("id", "s3cr3t", "https://e.example/cb"), oidc.GitHub("id", "s3cr3t", "https://e.example/cb")} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c, err)
		}
		if strings.Contains(c.String(), "s3cr3t") {
			t.Errorf("String() shows the secret: %s", c)
		}
	}
}

// TestConcurrentFinish completes four sign-ins at once on one Provider, right
// after a key rotation, so the JWKS refetch happens under concurrency.
func TestConcurrentFinish(t *testing.T) {
	o := startOP(t)
	rp := newRP(t, o, clientID)
	authURL, pending, _ := rp.Begin()
	if _, err := rp.Finish(context.Background(), pending, o.signIn(t, authURL)); err != nil {
		t.Fatal(err)
	}
	o.rotate(t, "key-2", true)
	type login struct {
		p  oidc.Pending
		cb map[string][]string
	}
	var logins []login
	for range 4 {
		authURL, pending, _ := rp.Begin()
		logins = append(logins, login{pending, o.signIn(t, authURL)})
	}
	errs := make(chan error, len(logins))
	for _, l := range logins {
		go func() {
			_, err := rp.Finish(context.Background(), l.p, l.cb)
			errs <- err
		}()
	}
	for range logins {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Finish: %v", err)
		}
	}
}
