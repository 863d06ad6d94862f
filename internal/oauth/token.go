package oauth

import (
	"net/url"

	"github.com/engram-memory/engram"
)

// Grant types the token endpoint accepts.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// MaxTokenParam bounds each token request parameter: codes, tokens and
// verifiers are far shorter, redirect URIs at most MaxRedirectURILen.
const MaxTokenParam = 2048

// TokenRequest is a validated token request (RFC 6749 §4.1.3, §6) from a
// public client: client_id in the body, no secret.
type TokenRequest struct {
	GrantType    string
	ClientID     string
	Code         string
	RedirectURI  string
	Verifier     string
	Resource     string
	RefreshToken string
	// Scope is the refresh grant's optional narrowing: nil keeps the
	// grant's scopes.
	Scope []engram.Permission
}

// ParseTokenRequest reads a form-encoded token request. Every parameter
// at most once (RFC 6749 §3.2) and bounded; the grant's own parameters
// required.
func ParseTokenRequest(form url.Values) (*TokenRequest, error) {
	for k, v := range form {
		if len(v) > 1 {
			return nil, fail(ErrInvalidRequest, "parameter "+safeName(k)+" is repeated")
		}
		if len(v[0]) > MaxTokenParam {
			return nil, fail(ErrInvalidRequest, "parameter "+safeName(k)+" is too long")
		}
	}
	t := &TokenRequest{
		GrantType: form.Get("grant_type"), ClientID: form.Get("client_id"), Code: form.Get("code"),
		RedirectURI: form.Get("redirect_uri"), Verifier: form.Get("code_verifier"), Resource: form.Get("resource"),
		RefreshToken: form.Get("refresh_token"),
	}
	if t.ClientID == "" {
		// Public clients identify themselves in the body (RFC 6749
		// §3.2.1); without it nothing binds the grant to a client.
		return nil, fail(ErrInvalidClient, "client_id is required")
	}
	if !ValidClientID(t.ClientID) {
		return nil, fail(ErrInvalidClient, "unknown client")
	}
	switch t.GrantType {
	case GrantAuthorizationCode:
		switch {
		case t.Code == "":
			return nil, fail(ErrInvalidRequest, "code is required")
		case t.RedirectURI == "":
			return nil, fail(ErrInvalidRequest, "redirect_uri is required")
		case t.Verifier == "":
			return nil, fail(ErrInvalidRequest, "code_verifier is required (PKCE)")
		case !validVerifier(t.Verifier):
			return nil, fail(ErrInvalidRequest, "code_verifier must be 43 to 128 unreserved characters")
		}
	case GrantRefreshToken:
		if t.RefreshToken == "" {
			return nil, fail(ErrInvalidRequest, "refresh_token is required")
		}
		if s := form.Get("scope"); s != "" {
			scopes, err := ParseScope(s)
			if err != nil {
				return nil, err
			}
			t.Scope = scopes
		}
	case "":
		return nil, fail(ErrInvalidRequest, "grant_type is required")
	default:
		return nil, fail(ErrUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
	}
	return t, nil
}

// TokenResponse is the RFC 6749 §5.1 answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// Narrow applies a refresh request's scope to a grant's scopes: the
// request may keep or shrink them, never widen (RFC 6749 §6).
func Narrow(granted, asked []engram.Permission) ([]engram.Permission, error) {
	if asked == nil {
		return granted, nil
	}
	for _, p := range asked {
		found := false
		for _, g := range granted {
			found = found || g == p
		}
		if !found {
			return nil, fail(ErrInvalidScope, "a refresh cannot add scopes to the grant")
		}
	}
	return asked, nil
}
