package oauth

import (
	"net/url"
	"slices"
	"strings"

	"github.com/engram-memory/engram"
)

// MaxStateLen bounds the state a client passes through (it is echoed).
const MaxStateLen = 512

// AuthRequest is a validated authorization request (RFC 6749 §4.1.1 with
// PKCE and a resource indicator).
type AuthRequest struct {
	ClientID    string
	ClientName  string
	RedirectURI string
	State       string
	Challenge   string
	// Scopes are what the host asked for, within Scopes; Grant narrows
	// them to the signed-in account's role.
	Scopes []engram.Permission
	// Resource is always the /mcp resource: a request for any other is
	// refused (invalid_target).
	Resource string
}

// Params are the request's parameters, to carry through the sign-in form
// and post back.
func (r *AuthRequest) Params() url.Values {
	v := url.Values{}
	v.Set("response_type", "code")
	v.Set("client_id", r.ClientID)
	v.Set("redirect_uri", r.RedirectURI)
	v.Set("code_challenge", r.Challenge)
	v.Set("code_challenge_method", "S256")
	v.Set("scope", ScopeString(r.Scopes))
	v.Set("resource", r.Resource)
	if r.State != "" {
		v.Set("state", r.State)
	}
	return v
}

// ParseAuthorization validates an authorization request. client is the
// registered client named by client_id (nil when there is none); resource
// is the /mcp resource URL. The error says whether it may be sent back to
// the client: a bad client_id or redirect_uri is shown to the user and
// never redirected (RFC 6749 §4.1.2.1), so an attacker cannot bounce the
// browser anywhere; every other refusal is redirected (see
// RedirectError) once the redirect URI is known to be registered.
func ParseAuthorization(q url.Values, client *Client, resource string) (*AuthRequest, *AuthError) {
	for k, v := range q {
		if len(v) > 1 && k != "resource" {
			// RFC 6749 §3.1: no parameter more than once. Checked before
			// the redirect URI is trusted, so it is not redirected.
			return nil, &AuthError{Error: fail(ErrInvalidRequest, "parameter "+safeName(k)+" is repeated")}
		}
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, &AuthError{Error: fail(ErrInvalidRequest, "client_id is required")}
	}
	if client == nil || client.ID != clientID {
		return nil, &AuthError{Error: fail(ErrInvalidClient, "unknown client_id")}
	}
	redirect := q.Get("redirect_uri")
	switch {
	case redirect == "" && len(client.RedirectURIs) == 1:
		// OAuth 2.1 §4.1.1: optional when the client registered one.
		redirect = client.RedirectURIs[0]
	case redirect == "":
		return nil, &AuthError{Error: fail(ErrInvalidRequest, "redirect_uri is required")}
	case !slices.Contains(client.RedirectURIs, redirect):
		// Exact string comparison (OAuth 2.1 §2.3.1; RFC 9700 §4.1.3).
		return nil, &AuthError{Error: fail(ErrInvalidRequest, "redirect_uri is not registered for this client")}
	}
	r := &AuthRequest{ClientID: client.ID, ClientName: client.Name, RedirectURI: redirect, State: q.Get("state")}
	back := func(e *Error) (*AuthRequest, *AuthError) { return nil, &AuthError{Error: e, Redirect: r} }
	if len(r.State) > MaxStateLen || !printableASCII(r.State) {
		r.State = "" // never echo what was refused
		return back(fail(ErrInvalidRequest, "state must be at most 512 printable ASCII characters"))
	}
	if rt := q.Get("response_type"); rt != "code" {
		if rt == "" {
			return back(fail(ErrInvalidRequest, "response_type is required"))
		}
		return back(fail(ErrUnsupportedResponseType, "only response_type=code is supported"))
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		return back(fail(ErrInvalidRequest, "PKCE is required: code_challenge_method must be S256"))
	}
	r.Challenge = q.Get("code_challenge")
	if !validChallenge(r.Challenge) {
		return back(fail(ErrInvalidRequest, "code_challenge must be a base64url SHA-256 (43 characters)"))
	}
	res := q["resource"]
	switch {
	case len(res) == 0:
		// Hosts that predate RFC 8707 get the one resource there is.
		r.Resource = resource
	case len(res) > 1 || !SameResource(res[0], resource):
		return back(fail(ErrInvalidTarget, "the only resource here is "+resource))
	default:
		r.Resource = resource
	}
	scopes, err := ParseScope(q.Get("scope"))
	if err != nil {
		e, _ := As(err)
		return back(e)
	}
	r.Scopes = scopes
	return r, nil
}

// AuthError is a refused authorization request. Redirect is the request
// to answer through (its redirect URI and state) when the refusal may go
// back to the client; nil means show it to the user.
type AuthError struct {
	Error    *Error
	Redirect *AuthRequest
}

// SameResource compares resource indicators: equal, ignoring one trailing
// slash (https://h/mcp and https://h/mcp/ name the same endpoint).
func SameResource(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/") && a != "" && b != ""
}

// RedirectCode is where the browser goes with a code: the registered
// redirect URI (its own query kept, RFC 6749 §3.1.2) plus code, state and
// iss (RFC 9207, so a host talking to several servers can tell which
// answered).
func (r *AuthRequest) RedirectCode(issuer, code string) string {
	return r.redirectWith(issuer, url.Values{"code": {code}})
}

// RedirectError is where the browser goes with a refusal.
func (r *AuthRequest) RedirectError(issuer string, e *Error) string {
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	return r.redirectWith(issuer, v)
}

func (r *AuthRequest) redirectWith(issuer string, v url.Values) string {
	u, err := url.Parse(r.RedirectURI)
	if err != nil {
		return r.RedirectURI // checked at registration; cannot happen
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	if r.State != "" {
		q.Set("state", r.State)
	}
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String()
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// safeName is a parameter name fit to quote: short and plain.
func safeName(k string) string {
	if len(k) > 32 || !printableASCII(k) {
		return "(unnamed)"
	}
	return k
}
