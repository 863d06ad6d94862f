package oauth

import (
	"slices"
	"strings"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

// Scopes is what an MCP host may be granted: what /mcp's tools use. A
// token given to a host works only at /mcp (RFC 8707 binding), so the
// tenant's other permissions (keys, audit, members) would grant nothing
// there and are never offered.
var Scopes = []engram.Permission{engram.PermMemoriesRead, engram.PermMemoriesWrite}

// MaxScopeLen bounds the scope parameter.
const MaxScopeLen = 1024

// ParseScope reads a scope parameter (RFC 6749 §3.3: space-separated). It
// keeps the scopes of Scopes and ignores the rest, as §3.3 lets a server
// do (hosts also ask for OpenID scopes such as "openid" or
// "offline_access"); an empty parameter asks for all of Scopes. A scope
// list that names none of Scopes is invalid_scope.
func ParseScope(s string) ([]engram.Permission, error) {
	if len(s) > MaxScopeLen {
		return nil, fail(ErrInvalidScope, "scope is too long")
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return slices.Clone(Scopes), nil
	}
	var out []engram.Permission
	for _, f := range fields {
		p := engram.Permission(f)
		if slices.Contains(Scopes, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fail(ErrInvalidScope, "the scope names none of: "+ScopeString(Scopes))
	}
	return out, nil
}

// Grant is what an account of role may give a host that asked for
// requested: the requested scopes its role allows (rbac.EffectiveScopes,
// the rule API keys follow). A host never receives more than its user may
// do; when the role allows none of it, the grant is refused
// (invalid_scope). The token answer's scope says what was granted.
func Grant(role engram.Role, requested []engram.Permission) ([]engram.Permission, error) {
	g := rbac.EffectiveScopes(role, requested)
	if len(g) == 0 {
		return nil, fail(ErrInvalidScope, "your role allows none of the requested scopes")
	}
	return g, nil
}

// ScopeString renders scopes as a scope parameter.
func ScopeString(scopes []engram.Permission) string {
	s := make([]string, len(scopes))
	for i, p := range scopes {
		s[i] = string(p)
	}
	return strings.Join(s, " ")
}
