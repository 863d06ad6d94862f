// Package oidc is Engram's OpenID Connect relying party, one per organisation:
// discovery, the authorization code flow with PKCE (S256), state and nonce
// bound to the browser session, ID token verification against the provider's
// JWKS (rotation included), and the claims turned into an sso.Identity.
//
// Google sign-in is a Config of the same code (Google). GitHub sign-in is a
// Config too (GitHub), but GitHub speaks OAuth 2.0 without OpenID Connect: it
// has no ID token, no nonce and no JWKS, so the identity comes from its REST
// API over TLS with the access token the code exchange returned (see github.go).
//
// The package does no storage and no HTTP routing: Begin returns the URL to
// send the browser to and the Pending values the caller must keep in the
// browser's session; Finish takes them back with the callback's query.
package oidc

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink/safedial"
)

// Kind selects the protocol a Config speaks.
type Kind string

const (
	// KindOIDC is OpenID Connect with discovery (the default).
	KindOIDC Kind = "oidc"
	// KindGitHub is GitHub's OAuth 2.0 web flow plus its REST API.
	KindGitHub Kind = "github"
)

// Config is one organisation's identity provider. ClientSecret is a secret:
// it is never logged nor returned in errors; String redacts it.
type Config struct {
	Kind Kind
	// Issuer is the OIDC issuer URL; discovery reads Issuer +
	// "/.well-known/openid-configuration" and tokens must name it exactly.
	Issuer       string
	ClientID     string
	ClientSecret string // empty for a public client (PKCE alone)
	// RedirectURL is Engram's callback, registered at the IdP.
	RedirectURL string
	// Scopes requested; "openid" is added for OIDC when missing. Defaults:
	// openid email profile (OIDC), read:user user:email (GitHub).
	Scopes []string
	// AllowedEmailDomains, when set, refuses identities whose email is not a
	// verified address of one of these domains.
	AllowedEmailDomains []string
	// GroupsClaim names the claim holding groups (default "groups").
	GroupsClaim string
	// HostedDomainClaim, with AllowedEmailDomains, names an ID token claim
	// that must hold one of those domains too. Google sets "hd" only for
	// accounts its Workspace customers manage, so a personal Google account
	// opened with a company address does not pass (Google's advice).
	HostedDomainClaim string

	// GitHub endpoints; empty means github.com's. Set only by tests and GitHub
	// Enterprise Server deployments.
	AuthURL, TokenURL, APIURL string

	// Network says which address ranges the default HTTP client may reach.
	// The zero value allows public addresses only: the issuer and GitHub
	// URLs are set by organisation owners, so without this guard an owner
	// could make the server fetch from loopback, private networks or a cloud
	// metadata endpoint (SSRF). The check runs on the resolved IP at connect
	// time, so DNS rebinding and redirects are covered too. Operators allow
	// private ranges for an on-premises IdP; tests allow loopback.
	Network safedial.Policy
	// HTTPClient, when set, replaces the guarded default client entirely
	// (Network is then ignored).
	HTTPClient *http.Client
	// Now is the clock used for ID token expiry and pending-login age; nil
	// means time.Now.
	Now func() time.Time
	// LoginTimeout bounds the time between Begin and Finish (default 10 min).
	LoginTimeout time.Duration
}

// Google returns the configuration for "Sign in with Google" (OIDC).
func Google(clientID, clientSecret, redirectURL string) Config {
	return Config{Kind: KindOIDC, Issuer: "https://accounts.google.com", ClientID: clientID,
		ClientSecret: clientSecret, RedirectURL: redirectURL, Scopes: []string{"openid", "email", "profile"},
		HostedDomainClaim: "hd"}
}

// GitHub returns the configuration for "Sign in with GitHub" (OAuth 2.0).
func GitHub(clientID, clientSecret, redirectURL string) Config {
	return Config{Kind: KindGitHub, Issuer: GitHubIssuer, ClientID: clientID, ClientSecret: clientSecret,
		RedirectURL: redirectURL, Scopes: []string{"read:user", "user:email"}}
}

// String prints the configuration with the client secret redacted.
func (c Config) String() string {
	secret := ""
	if c.ClientSecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("oidc.Config{Kind:%s Issuer:%s ClientID:%s ClientSecret:%s RedirectURL:%s Scopes:%v}",
		c.kind(), c.Issuer, c.ClientID, secret, c.RedirectURL, c.Scopes)
}

func (c Config) kind() Kind {
	if c.Kind == "" {
		return KindOIDC
	}
	return c.Kind
}

// Validate checks the configuration before it is stored or used.
func (c Config) Validate() error {
	switch c.kind() {
	case KindOIDC, KindGitHub:
	default:
		return fmt.Errorf("oidc: unknown kind %q", c.Kind)
	}
	if c.ClientID == "" {
		return errors.New("oidc: client id is required")
	}
	if c.kind() == KindOIDC {
		u, err := url.Parse(c.Issuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopback(u)) {
			return errors.New("oidc: issuer must be an https URL")
		}
	}
	r, err := url.Parse(c.RedirectURL)
	if err != nil || r.Host == "" || (r.Scheme != "https" && !isLoopback(r)) || r.Fragment != "" {
		return errors.New("oidc: redirect URL must be an absolute https URL without fragment")
	}
	for _, d := range c.AllowedEmailDomains {
		if d == "" || strings.ContainsAny(d, "@ /") {
			return errors.New("oidc: allowed email domains must be bare domain names")
		}
	}
	return nil
}

// isLoopback allows plain http only for 127.0.0.1, ::1 and localhost, which
// tests and local development use; any other host needs TLS.
func isLoopback(u *url.URL) bool {
	h := u.Hostname()
	return u.Scheme == "http" && (h == "127.0.0.1" || h == "::1" || h == "localhost")
}

func (c Config) scopes() []string {
	s := slices.Clone(c.Scopes)
	if len(s) == 0 {
		if c.kind() == KindGitHub {
			return []string{"read:user", "user:email"}
		}
		s = []string{"openid", "email", "profile"}
	}
	if c.kind() == KindOIDC && !slices.Contains(s, "openid") {
		s = append([]string{"openid"}, s...)
	}
	return s
}

func (c Config) groupsClaim() string {
	if c.GroupsClaim == "" {
		return "groups"
	}
	return c.GroupsClaim
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c Config) loginTimeout() time.Duration {
	if c.LoginTimeout <= 0 {
		return 10 * time.Minute
	}
	return c.LoginTimeout
}

func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // a proxy would dial on our behalf, past the guard
	t.DialContext = c.Network.Dialer(10 * time.Second).DialContext
	return &http.Client{Timeout: 10 * time.Second, Transport: t}
}
