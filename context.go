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
