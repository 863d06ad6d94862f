package oauth

import (
	"encoding/base64"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on a registration, so that open registration (anyone may
// register, RFC 7591 §3) cannot store much per request.
const (
	MaxRedirectURIs   = 8
	MaxRedirectURILen = 1024
	MaxClientNameLen  = 100 // bytes
	MaxRegistration   = 16 << 10
)

// ClientPrefix starts every client id we issue.
const ClientPrefix = "egc_"

// Client is a registered public client: an MCP host. Engram issues no
// client secrets (token_endpoint_auth_method "none"): a host on a user's
// machine cannot keep one, and PKCE binds each code to the client that
// asked for it instead.
type Client struct {
	ID           string
	Name         string
	RedirectURIs []string
	CreatedAt    time.Time
}

// Registration is the RFC 7591 request body, as far as Engram reads it.
// Other members are ignored (§2: the server may ignore metadata it does not
// understand).
type Registration struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
}

// RegistrationResponse is the RFC 7591 §3.2.1 answer: the client id and
// the metadata as registered (which may differ from the request: the
// authentication method is always "none").
type RegistrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
}

// Register validates a registration and returns the client to store. The
// id is fresh randomness from rand.
func Register(rand io.Reader, now time.Time, req Registration) (*Client, error) {
	if len(req.RedirectURIs) == 0 {
		return nil, fail(ErrInvalidRedirectURI, "redirect_uris is required")
	}
	if len(req.RedirectURIs) > MaxRedirectURIs {
		return nil, fail(ErrInvalidRedirectURI, "at most 8 redirect_uris")
	}
	var uris []string
	for _, u := range req.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return nil, err
		}
		if !slices.Contains(uris, u) {
			uris = append(uris, u)
		}
	}
	// Public clients only; a client asking for a secret gets "none", as
	// RFC 7591 §3.2.1 allows the server to replace requested values.
	if len(req.GrantTypes) > 0 && !slices.Contains(req.GrantTypes, "authorization_code") {
		return nil, fail(ErrInvalidClientMetadata, "grant_types must include authorization_code")
	}
	for _, g := range req.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, fail(ErrInvalidClientMetadata, "grant_types may hold only authorization_code and refresh_token")
		}
	}
	if len(req.ResponseTypes) > 0 && !slices.Equal(req.ResponseTypes, []string{"code"}) {
		return nil, fail(ErrInvalidClientMetadata, "response_types may hold only code")
	}
	name := strings.TrimSpace(req.ClientName)
	if len(name) > MaxClientNameLen || !printable(name) {
		return nil, fail(ErrInvalidClientMetadata, "client_name must be at most 100 bytes of printable text")
	}
	id, err := randomString(rand, 16)
	if err != nil {
		return nil, err
	}
	return &Client{ID: ClientPrefix + id, Name: name, RedirectURIs: uris, CreatedAt: now.UTC()}, nil
}

// Response is the registration answer for c.
func (c *Client) Response() RegistrationResponse {
	return RegistrationResponse{
		ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(), ClientName: c.Name, RedirectURIs: c.RedirectURIs,
		TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
	}
}

// ValidClientID reports whether s has the form of an id Register makes,
// so a malformed id is refused before any lookup.
func ValidClientID(s string) bool {
	rest, ok := strings.CutPrefix(s, ClientPrefix)
	if !ok || len(rest) != 22 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// CheckRedirectURI accepts what OAuth 2.1 §2.3.1 and RFC 8252 allow a
// public client: an absolute URI without fragment or user info, over
// https; http only to a loopback host (a native app's local listener); or
// a private-use scheme of a native app (RFC 8252 §7.1, such as Cursor's
// cursor://…). Schemes a browser runs or reads locally are refused.
func CheckRedirectURI(s string) error {
	bad := func(why string) error { return fail(ErrInvalidRedirectURI, "redirect URI "+why) }
	if len(s) == 0 || len(s) > MaxRedirectURILen || !utf8.ValidString(s) {
		return bad("must be 1 to 1024 bytes")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return bad("must not hold spaces or control characters")
		}
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return bad("must be an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return bad("must not have a fragment")
	}
	if u.User != nil {
		return bad("must not hold user info")
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return bad("must name a host")
		}
	case "http":
		if !Loopback(u.Hostname()) {
			return bad("may use http only to a loopback host (127.0.0.1, [::1], localhost)")
		}
	case "javascript", "data", "vbscript", "file", "blob", "about", "ftp", "ws", "wss", "filesystem", "view-source":
		return bad("must not use the " + scheme + " scheme")
	default:
		// A private-use scheme: the operating system hands the answer to
		// the app that claimed it. The consent page shows it.
		if u.Opaque != "" && u.Host == "" && !strings.HasPrefix(u.Opaque, "/") {
			return bad("with a private-use scheme must have a path (scheme:/path or scheme://host/path)")
		}
	}
	return nil
}

// Loopback reports whether host is a loopback name or address.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func randomString(rand io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
