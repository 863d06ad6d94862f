package engine

import (
	"context"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/deletion"
	"github.com/engram-memory/engram/internal/rbac"
)

// actorOf is the principal as internal/rbac judges it: a person's own
// session acts with its role; an API key or an OAuth client acts with its
// role and its scopes.
func actorOf(p *engram.Principal) rbac.Actor {
	return rbac.Actor{AccountID: p.AccountID, Role: p.Role, Key: !p.Person(), Scopes: p.Permissions}
}

// can returns the principal in ctx and how far its right to op reaches
// (internal/rbac's matrix, the one table of who may do what). A refusal
// says why without naming anything of the tenant: the key's missing
// scope, or the role.
func can(ctx context.Context, op rbac.Op) (*engram.Principal, rbac.Reach, error) {
	p := engram.PrincipalFrom(ctx)
	if p == nil || p.TenantID == "" {
		return nil, rbac.No, engram.Errorf(engram.CodeUnauthenticated, "authentication required")
	}
	reach, err := rbac.Authorize(actorOf(p), op)
	if err != nil {
		rule, _ := rbac.Lookup(op)
		switch {
		case rule.Reach[p.Role] != rbac.No && rule.Scope == rbac.SessionOnly:
			return nil, rbac.No, engram.Errorf(engram.CodeForbidden, "%s needs a person signed in, not a key", op)
		case rule.Reach[p.Role] != rbac.No && !slices.Contains(p.Permissions, rule.Scope):
			return nil, rbac.No, engram.Errorf(engram.CodeForbidden, "this key lacks the %q scope", rule.Scope)
		default:
			return nil, rbac.No, engram.Errorf(engram.CodeForbidden, "the %s role may not %s", p.Role, op)
		}
	}
	return p, reach, nil
}

// can is can on the action's principal.
//
// An account whose deletion is pending is read-only: an op that writes
// (deletion.ReadOnly) is refused with CodeDeletionPending.
func (a *action) can(op rbac.Op) (*engram.Principal, rbac.Reach, error) {
	p, reach, err := can(a.ctx, op)
	if err != nil || !deletion.ReadOnly(op) {
		return p, reach, err
	}
	if err := a.e.writable(a.ctx, p.TenantID, engram.DeletionAccount, p.AccountID); err != nil {
		return nil, rbac.No, err
	}
	return p, reach, nil
}

// may reports whether p may do op at all: what a write-only key is told
// apart by (it may write memories but not read them, so its answers must
// not say what the tenant holds).
func may(p *engram.Principal, op rbac.Op) bool {
	_, err := rbac.Authorize(actorOf(p), op)
	return err == nil
}

// alsoCan is can for a second operation an action needs besides its own
// (a graph write answers with what it wrote, so it also reads the graph).
func (a *action) alsoCan(op rbac.Op) error {
	_, _, err := can(a.ctx, op)
	return err
}
