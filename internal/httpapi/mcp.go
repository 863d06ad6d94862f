package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
)

// MCP is served at /mcp behind the same API-key check as /v1 (see
// authenticate). Its clients discover how to authenticate from RFC 9728
// protected-resource metadata, linked from the 401's WWW-Authenticate.
const (
	mcpPath      = "/mcp"
	metadataPath = "/.well-known/oauth-protected-resource"
)

// mountMCP registers the MCP endpoint and its metadata documents (the bare
// well-known path and the one suffixed with the resource path, as RFC 9728
// §3.1 builds it for https://host/mcp).
func mountMCP(mux *http.ServeMux, h http.Handler, withOAuth bool) {
	mux.Handle(mcpPath, h)
	md := func(w http.ResponseWriter, r *http.Request) { resourceMetadata(w, r, withOAuth) }
	mux.HandleFunc("GET "+metadataPath, md)
	mux.HandleFunc("GET "+metadataPath+mcpPath, md)
}

// baseURL is the server's public origin: the configured public URL when
// there is one (Config.PublicURL, `engram serve --public-url`), else the
// origin as the client addressed it — the Host header, which a client
// chooses, so deployments reachable under other names should configure
// it. Behind a TLS-terminating proxy without a public URL, the scheme seen
// here is http.
func baseURL(r *http.Request) string {
	if u, ok := r.Context().Value(publicURLKey{}).(string); ok {
		return u
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type publicURLKey struct{}

// withPublicURL makes baseURL answer u for every request.
func withPublicURL(u string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), publicURLKey{}, u)))
	})
}

// ParsePublicURL checks a public URL for Config.PublicURL: absolute http
// or https, a host, no user info, query or fragment. It returns it without
// a trailing slash.
func ParsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("public URL %q: want an absolute http(s) URL such as https://memory.example.com", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("public URL %q: no user info, query or fragment", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// resourceMetadata answers RFC 9728 protected-resource metadata: send a
// bearer token in the Authorization header (an API key, or an access token
// from the authorization server). With the OAuth authorization server on,
// the document names it (this server's origin), and the scopes are those
// a host may be granted, which MCP clients ask for when they sign in;
// without it, every scope an API key may hold.
func resourceMetadata(w http.ResponseWriter, r *http.Request, withOAuth bool) {
	resource := baseURL(r)
	if strings.HasSuffix(r.URL.Path, mcpPath) {
		resource += mcpPath
	}
	perms := engram.AllPermissions
	if withOAuth {
		perms = oauth.Scopes
	}
	scopes := make([]string, len(perms))
	for i, p := range perms {
		scopes[i] = string(p)
	}
	md := map[string]any{
		"resource":                 resource,
		"resource_name":            "Engram",
		"bearer_methods_supported": []string{"header"},
		"scopes_supported":         scopes,
	}
	if withOAuth {
		md["authorization_servers"] = []string{issuer(r)}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*") // public discovery data (RFC 9728 §3)
	_ = json.NewEncoder(w).Encode(md)
}

// challenge is the WWW-Authenticate of a 401. On /mcp it points MCP clients
// at the metadata (RFC 9728 §5.1), where they look for how to log in.
func challenge(r *http.Request) string {
	if r.URL.Path != mcpPath {
		return `Bearer realm="engram"`
	}
	return `Bearer resource_metadata="` + baseURL(r) + metadataPath + mcpPath + `"`
}
