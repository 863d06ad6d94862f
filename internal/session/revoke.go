package session

import (
	"time"

	"github.com/engram-memory/engram"
)

// Revocation says which families to revoke. The store applies it as one
// update ("… SET revoked_at = At, revoke_reason = Reason WHERE tenant = ?
// AND account = ? [AND id = FamilyID] AND revoked_at IS NULL") in the
// transaction of the change that caused it (the role change, the removal),
// so the change and the revocation commit together. Access tokens need no
// update: CheckAccess refuses every token of a revoked family.
type Revocation struct {
	TenantID  string
	AccountID string
	// FamilyID names one family; empty means all of the account's.
	FamilyID string
	At       time.Time
	Reason   Reason
}

// Matches reports whether f is one of the families r revokes.
func (r Revocation) Matches(f *Family) bool {
	return f.TenantID == r.TenantID && f.AccountID == r.AccountID && (r.FamilyID == "" || r.FamilyID == f.ID)
}

// Apply revokes f if r covers it and it is not revoked yet (the first
// revocation's time and reason stay), and reports whether it changed f.
// It is the in-memory form of the store's update, used by tests and by
// any store that keeps families in memory.
func (r Revocation) Apply(f *Family) bool {
	if f.Revoked() || !r.Matches(f) {
		return false
	}
	at := r.At
	f.RevokedAt = &at
	f.RevokeReason = r.Reason
	return true
}

// RevokeFamily revokes one family: logout of this session, or a reused
// refresh token.
func RevokeFamily(now time.Time, f *Family, reason Reason) Revocation {
	return Revocation{TenantID: f.TenantID, AccountID: f.AccountID, FamilyID: f.ID, At: now, Reason: reason}
}

// LogoutEverywhere revokes every family of an account in a tenant.
func LogoutEverywhere(now time.Time, tenantID, accountID string) Revocation {
	return Revocation{TenantID: tenantID, AccountID: accountID, At: now, Reason: ReasonLogoutAll}
}

// OnRoleChange returns the revocation a role change calls for, if any.
// A demotion revokes every session of the account: the role is read per
// request, so nothing the old role allowed survives anyway, but a session
// that was stolen while the account held more power is ended too, and the
// member signs in again under the new role. A promotion revokes nothing:
// the new rights apply from the next request.
func OnRoleChange(now time.Time, tenantID, accountID string, from, to engram.Role) (Revocation, bool) {
	if to.Rank() >= from.Rank() {
		return Revocation{}, false
	}
	return Revocation{TenantID: tenantID, AccountID: accountID, At: now, Reason: ReasonDemoted}, true
}

// OnRemoval revokes every session of a member removed from a tenant. The
// store also revokes the account's API keys in that tenant, in the same
// transaction.
func OnRemoval(now time.Time, tenantID, accountID string) Revocation {
	return Revocation{TenantID: tenantID, AccountID: accountID, At: now, Reason: ReasonRemoved}
}

// OnPasswordChange revokes every session of the account except the one
// that changed the password (keepFamilyID, may be empty), as a stolen
// session must not outlive the password it was opened with. It returns the
// families to revoke from those given (the account's live families).
func OnPasswordChange(now time.Time, families []*Family, keepFamilyID string) []Revocation {
	var out []Revocation
	for _, f := range families {
		if f.ID != keepFamilyID && !f.Revoked() {
			out = append(out, RevokeFamily(now, f, ReasonPassword))
		}
	}
	return out
}
