package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/engram-memory/engram/internal/sso"
)

// Errors Finish returns (wrapped). None carries a token, code or secret.
var (
	// ErrState: the callback's state is not the one this browser session began
	// with (login CSRF, or a callback replayed into another session).
	ErrState = errors.New("oidc: state mismatch")
	// ErrExpired: the pending login is older than LoginTimeout.
	ErrExpired = errors.New("oidc: login attempt expired")
	// ErrNonce: the ID token's nonce is not this session's (token injection).
	ErrNonce = errors.New("oidc: nonce mismatch")
	// ErrIDToken: the ID token failed verification (signature, issuer,
	// audience, authorized party, expiry, at_hash) or is missing.
	ErrIDToken = errors.New("oidc: invalid id token")
	// ErrProvider: the IdP answered with an error or could not be reached.
	ErrProvider = errors.New("oidc: identity provider error")
	// ErrExchange: the code exchange was refused (bad code, PKCE verifier or
	// client credentials).
	ErrExchange = errors.New("oidc: code exchange failed")
)

// Pending is what the caller must keep in the browser's session between Begin
// and Finish — server-side, or in a sealed, HttpOnly, SameSite=Lax cookie —
// and give back to Finish exactly once. Verifier is the PKCE secret: never
// put it in a URL or a log.
type Pending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce,omitempty"` // empty for GitHub (no ID token)
	Verifier string    `json:"verifier"`
	Created  time.Time `json:"created"`
}

// Provider is a relying party for one organisation's identity provider. It is
// safe for concurrent use; build it once per configuration and reuse it (it
// caches the provider's JWKS and refetches on an unknown key id, which is how
// key rotation at the IdP is followed).
type Provider struct {
	cfg      Config
	client   *http.Client
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	rp       *gooidc.Provider
}

// New builds a Provider. For OIDC it fetches the discovery document, which
// must name exactly cfg.Issuer. ctx bounds only this first request.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, client: cfg.httpClient()}
	p.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURL: cfg.RedirectURL, Scopes: cfg.scopes()}
	if cfg.kind() == KindGitHub {
		p.oauth.Endpoint = cfg.githubEndpoint()
		return p, nil
	}
	rp, err := gooidc.NewProvider(gooidc.ClientContext(ctx, p.client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %w", ErrProvider, err)
	}
	p.rp = rp
	p.oauth.Endpoint = rp.Endpoint()
	// The client id check is never skipped: a token minted for another client
	// of the same IdP must not sign anyone in here.
	//
	// rp.Verifier's key set fetches the JWKS with the same HTTP client on a
	// background context, caches it, and refetches when a token names a key id
	// it does not hold: that is how the IdP's key rotation is followed.
	p.verifier = rp.Verifier(&gooidc.Config{
		ClientID:             cfg.ClientID,
		SupportedSigningAlgs: signingAlgs(rp),
		Now:                  cfg.now,
	})
	return p, nil
}

// signingAlgs is what discovery advertises, minus "none" and symmetric
// algorithms (go-oidc refuses those anyway; this keeps the intent visible).
func signingAlgs(rp *gooidc.Provider) []string {
	var meta struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = rp.Claims(&meta)
	var out []string
	for _, a := range meta.Algs {
		switch a {
		case "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA":
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []string{"RS256"}
	}
	return out
}

// Config returns the provider's configuration (the secret included: callers
// must not print it except through Config.String).
func (p *Provider) Config() Config { return p.cfg }

// Begin starts a sign-in: it returns the URL to redirect the browser to and
// the Pending values to keep in that browser's session.
func (p *Provider) Begin() (authURL string, pending Pending, err error) {
	pending = Pending{State: randomToken(), Verifier: oauth2.GenerateVerifier(), Created: p.cfg.now()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pending.Verifier)}
	if p.cfg.kind() == KindOIDC {
		pending.Nonce = randomToken()
		opts = append(opts, gooidc.Nonce(pending.Nonce))
	}
	return p.oauth.AuthCodeURL(pending.State, opts...), pending, nil
}

// Finish completes a sign-in from the callback's query and the Pending kept
// since Begin. The caller must delete Pending from the session whatever the
// outcome, so a callback cannot be replayed.
func (p *Provider) Finish(ctx context.Context, pending Pending, callback url.Values) (sso.Identity, error) {
	if pending.State == "" || pending.Verifier == "" {
		return sso.Identity{}, ErrState
	}
	if p.cfg.now().Sub(pending.Created) > p.cfg.loginTimeout() {
		return sso.Identity{}, ErrExpired
	}
	if subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(pending.State)) != 1 {
		return sso.Identity{}, ErrState
	}
	if e := callback.Get("error"); e != "" {
		// Only the registered OAuth error code goes into the error; the IdP's
		// free-text description could carry anything.
		return sso.Identity{}, fmt.Errorf("%w: %s", ErrProvider, oauthErrorCode(e))
	}
	// RFC 9207: when the IdP names itself in the response, it must be ours
	// (defends against mix-up between an organisation's several IdPs).
	if iss := callback.Get("iss"); iss != "" && p.cfg.kind() == KindOIDC && iss != p.cfg.Issuer {
		return sso.Identity{}, fmt.Errorf("%w: response from another issuer", ErrProvider)
	}
	code := callback.Get("code")
	if code == "" {
		return sso.Identity{}, fmt.Errorf("%w: no code in callback", ErrExchange)
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, p.client)
	tok, err := p.oauth.Exchange(hctx, code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		return sso.Identity{}, fmt.Errorf("%w: %s", ErrExchange, exchangeErrorCode(err))
	}
	if p.cfg.kind() == KindGitHub {
		return p.githubIdentity(hctx, tok)
	}
	return p.oidcIdentity(hctx, tok, pending.Nonce)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauthErrorCode keeps only RFC 6749 §4.1.2.1 codes; anything else is "other".
func oauthErrorCode(e string) string {
	switch e {
	case "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
		"invalid_scope", "server_error", "temporarily_unavailable", "login_required",
		"consent_required", "interaction_required", "account_selection_required":
		return e
	}
	return "other"
}

// exchangeErrorCode reduces a token endpoint failure to its OAuth error code:
// oauth2's error text includes the response body, which we do not repeat.
func exchangeErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return oauthErrorCode(re.ErrorCode)
		}
		if re.Response != nil {
			return fmt.Sprintf("status %d", re.Response.StatusCode)
		}
	}
	return "request failed"
}
