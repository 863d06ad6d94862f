package engram

import "context"

// Principal is the authenticated caller. The tenant always comes from here,
// never from a request body.
type Principal struct {
	TenantID  string
	AccountID string
	// KeyID is the API key's id when the caller presented a key.
	KeyID string
	// SessionID is the session family's id when the caller presented an
	// access token (a person signed in, or an OAuth client acting for one).
	SessionID string
	// Delegated marks a session granted to an OAuth client (an MCP host):
	// it acts with its granted scopes, like an API key, and never performs
	// what only a person signed in may do.
	Delegated bool
	Role      Role
	// Permissions are what the caller may do now: a key's scopes that its
	// account's role still allows, or the role's for a person's session.
	Permissions []Permission
}

// Person reports whether the caller is a person signed in (a session of
// their own), as opposed to an API key or an OAuth client.
func (p *Principal) Person() bool { return p.SessionID != "" && !p.Delegated }

// Can reports whether the principal holds permission p.
func (p *Principal) Can(perm Permission) bool {
	for _, q := range p.Permissions {
		if q == perm {
			return true
		}
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Origin says where a request came from: what the audit trail records
// beside the principal. Transports set it once per request (REST per HTTP
// request, MCP per tool call); the engine reads it and never trusts a body
// for it.
type Origin struct {
	// RequestID correlates the audit entry with the access log line.
	RequestID string
	// IP is the client's address as the transport saw it (no port).
	IP string
	// Transport names the way in: "rest", "mcp", "cli".
	Transport string
}

type originKey struct{}

// WithOrigin returns a context carrying o.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin in ctx (the zero Origin when none was set).
func OriginFrom(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
