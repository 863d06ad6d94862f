package mcp

import (
	"context"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram"
)

// HTTPHandler serves s over streamable HTTP. It must sit behind the API-key
// check (httpapi mounts it at /mcp): it takes the principal that check put
// in the request context and refuses requests without one.
//
// The handler is stateless: every POST is authenticated on its own, so a
// revoked key stops working at its next request, and no session outlives
// the request that made it (nothing to hijack, nothing to expire).
// Responses are plain JSON: the tools never stream. Every refusal is a
// JSON-RPC error object that quotes nothing of the request (jsonrpc.go).
func HTTPHandler(s *sdk.Server) http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s }, &sdk.StreamableHTTPOptions{
		Stateless:           true,
		JSONResponse:        true,
		MaxRequestBodyBytes: engram.MaxBodyBytes,
		// The SDK's DNS-rebinding guard refuses a public Host arriving on
		// loopback, which is every reverse proxy in front of a local
		// server. Rebinding attacks need an endpoint that answers without
		// credentials; every request here carries a key checked upstream.
		DisableLocalhostProtection: true,
	})
	// RequireBearerToken is how the SDK hands per-request identity to tool
	// handlers (as TokenInfo); the key itself was already checked.
	return guardJSONRPC(auth.RequireBearerToken(principalToken, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h))
}

// principalToken turns the principal of an authenticated request into the
// SDK's TokenInfo. Expiry is the engine's business, checked per request.
func principalToken(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
	p := engram.PrincipalFrom(ctx)
	if p == nil {
		return nil, auth.ErrInvalidToken
	}
	scopes := make([]string, len(p.Permissions))
	for i, perm := range p.Permissions {
		scopes[i] = string(perm)
	}
	return &auth.TokenInfo{
		UserID: p.TenantID + "/" + p.KeyID,
		Scopes: scopes,
		Extra:  map[string]any{callerKey: caller{principal: p, origin: engram.OriginFrom(ctx)}},
	}, nil
}
