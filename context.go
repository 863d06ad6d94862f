package engram

import "context"

// Principal is the authenticated caller. The tenant always comes from here,
// never from a request body.
type Principal struct {
	TenantID    string
	AccountID   string
	KeyID       string
	Role        Role
	Permissions []Permission
}

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
