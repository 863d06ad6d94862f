package rbac

import (
	"errors"
	"slices"

	"github.com/engram-memory/engram"
)

// Errors of the checks. Transports map ErrForbidden and ErrLastOwner to
// 403 (ErrLastOwner as a conflict, 409, if the API prefers).
var (
	ErrForbidden = errors.New("rbac: not allowed")
	ErrLastOwner = errors.New("rbac: a tenant keeps at least one owner")
	ErrRole      = errors.New("rbac: unknown role")
)

// Actor is who asks: an account's role, and when the request came with an
// API key rather than a session, the key's scopes.
type Actor struct {
	AccountID string
	Role      engram.Role
	// Key is true for API keys (and OAuth access tokens given to MCP
	// hosts, which carry scopes like keys); false for a person's session.
	Key    bool
	Scopes []engram.Permission
}

// Authorize returns the reach the actor has for op, or ErrForbidden. A
// session acts with its role; a key acts with its role and its scopes,
// and never performs a session-only operation.
func Authorize(a Actor, op Op) (Reach, error) {
	r, ok := Lookup(op)
	if !ok {
		return No, ErrForbidden
	}
	reach := r.Reach[a.Role]
	if reach == No {
		return No, ErrForbidden
	}
	if a.Key && (r.Scope == SessionOnly || !slices.Contains(a.Scopes, r.Scope)) {
		return No, ErrForbidden
	}
	return reach, nil
}

// Record is what a per-record check needs to know of a memory (or a key,
// a session: AuthorID is then its owner and Private true).
type Record struct {
	AuthorID string
	// Private: only the author (and reach Any) may touch it. Memories
	// written before accounts existed have no author and are shared.
	Private bool
}

// Allows reports whether reach lets actor touch rec.
func Allows(reach Reach, actorID string, rec Record) bool {
	own := rec.AuthorID != "" && rec.AuthorID == actorID
	switch reach {
	case Any:
		return true
	case Shared:
		return own || !rec.Private
	case Own:
		return own
	}
	return false
}

// Filter is what a list or search must restrict itself to, so that it
// returns exactly the records Allows would: the store turns it into
// "WHERE visibility = 'shared' OR author = ?" (Shared), "WHERE author = ?"
// (Own) or nothing (Any).
type Filter struct {
	Reach    Reach
	AuthorID string
}

// Match is Allows for the filter, for stores that filter in memory.
func (f Filter) Match(rec Record) bool { return Allows(f.Reach, f.AuthorID, rec) }

// Rank orders roles: owner 5 … reader 1, unknown 0 (engram.Role.Rank).
func Rank(r engram.Role) int { return r.Rank() }

// CanGrant reports whether an actor of role actor may give someone role:
// a role at most its own, and owner only from an owner.
func CanGrant(actor, role engram.Role) bool {
	if Rank(role) == 0 || Rank(actor) == 0 {
		return false
	}
	if role == engram.RoleOwner {
		return actor == engram.RoleOwner
	}
	return Rank(role) <= Rank(actor)
}

// Member is an account's membership of the tenant.
type Member struct {
	AccountID string
	Role      engram.Role
}

// CheckInvite decides whether actor may invite someone with role.
func CheckInvite(actor Actor, role engram.Role) error {
	if Rank(role) == 0 {
		return ErrRole
	}
	if _, err := Authorize(actor, MemberInvite); err != nil {
		return err
	}
	if !CanGrant(actor.Role, role) {
		return ErrForbidden
	}
	return nil
}

// CheckRoleChange decides whether actor may change target's role to to,
// given the tenant's number of owners. An actor changing its own role is
// held to the same rules (an admin cannot make itself owner; an owner may
// step down while another owner remains).
func CheckRoleChange(actor Actor, target Member, to engram.Role, owners int) error {
	if Rank(to) == 0 {
		return ErrRole
	}
	if _, err := Authorize(actor, MemberRoleChange); err != nil {
		return err
	}
	if Rank(target.Role) > Rank(actor.Role) || !CanGrant(actor.Role, to) {
		return ErrForbidden
	}
	if target.Role == engram.RoleOwner && to != engram.RoleOwner && owners <= 1 {
		return ErrLastOwner
	}
	return nil
}

// CheckRemove decides whether actor may remove target from the tenant. An
// actor removing itself is leaving, which every role may, except the last
// owner.
func CheckRemove(actor Actor, target Member, owners int) error {
	last := target.Role == engram.RoleOwner && owners <= 1
	if target.AccountID == actor.AccountID {
		if _, err := Authorize(actor, MemberLeave); err != nil {
			return err
		}
		if last {
			return ErrLastOwner
		}
		return nil
	}
	if _, err := Authorize(actor, MemberRemove); err != nil {
		return err
	}
	if Rank(target.Role) > Rank(actor.Role) {
		return ErrForbidden
	}
	if last {
		return ErrLastOwner
	}
	return nil
}

// Change is one role change to apply.
type Change struct {
	AccountID string
	From, To  engram.Role
}

// Transfer decides an ownership transfer from actor (an owner, signed in)
// to target (a member of the tenant, any role) and returns the changes to
// apply in one transaction: target becomes owner, actor becomes admin.
// An owner who wants to stay owner grants owner with a role change
// instead.
func Transfer(actor Actor, target Member) ([]Change, error) {
	if _, err := Authorize(actor, OwnershipTransfer); err != nil {
		return nil, err
	}
	if Rank(target.Role) == 0 || target.AccountID == actor.AccountID {
		return nil, ErrForbidden
	}
	return []Change{
		{AccountID: target.AccountID, From: target.Role, To: engram.RoleOwner},
		{AccountID: actor.AccountID, From: engram.RoleOwner, To: engram.RoleAdmin},
	}, nil
}

// KeyScopes returns the scopes of a new API key requested by an account of
// role: every requested scope must be one the role may hold (else
// ErrForbidden); none requested means all of them.
func KeyScopes(role engram.Role, requested []engram.Permission) ([]engram.Permission, error) {
	allowed := RolePermissions(role)
	if len(allowed) == 0 {
		return nil, ErrRole
	}
	if len(requested) == 0 {
		return allowed, nil
	}
	var out []engram.Permission
	for _, p := range requested {
		if !slices.Contains(allowed, p) {
			return nil, ErrForbidden
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// EffectiveScopes is what a key may do now: its scopes that its account's
// current role still allows. Applied at every authentication, it makes a
// demotion shrink the account's keys at once, without rewriting them.
func EffectiveScopes(role engram.Role, keyScopes []engram.Permission) []engram.Permission {
	allowed := RolePermissions(role)
	var out []engram.Permission
	for _, p := range keyScopes {
		if slices.Contains(allowed, p) {
			out = append(out, p)
		}
	}
	return out
}
