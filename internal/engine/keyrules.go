package engine

import (
	"context"
	"slices"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// Who may revoke what. A key that manages keys must not be a way to lock
// the tenant out of what only its owner can do (erasing users, placing
// holds): revoking is bounded like granting, and the tenant keeps at least
// one owner-equivalent key. An operator can still mint one offline
// (MintOwnerKey) if every owner key is lost or expires.

// mayRevoke checks, inside the revoking transaction, that p may revoke
// key id of its tenant: the key must exist in the tenant (not_found), p
// may reach it (rbac: reach Own only its own account's keys; not_found
// otherwise), must hold every scope the key was granted (forbidden), and revoking it
// must leave the tenant an owner-equivalent key (conflict).
func (e *Engine) mayRevoke(ctx context.Context, tx store.Tx, p *engram.Principal, reach rbac.Reach, id string) error {
	k, err := tx.APIKey(ctx, id)
	if err != nil {
		return err
	}
	// Another account's key, at reach Own, is as unknown as another
	// tenant's: its id says nothing.
	if k.TenantID != p.TenantID || !rbac.Allows(reach, p.AccountID, keyRecord(k)) {
		return store.ErrNotFound
	}
	for _, s := range k.Scopes {
		if !p.Can(engram.Permission(s)) {
			return engram.Errorf(engram.CodeForbidden, "cannot revoke a key with scope %q: the calling key does not hold it", s)
		}
	}
	now := e.clock()
	roles := map[string]engram.Role{}
	target, err := ownerEquivalent(ctx, tx, k, now, roles)
	if err != nil || !target {
		return err
	}
	keys, err := tx.ListAPIKeys(ctx, p.TenantID)
	if err != nil {
		return err
	}
	for i := range keys {
		if keys[i].ID == id {
			continue
		}
		ok, err := ownerEquivalent(ctx, tx, &keys[i], now, roles)
		if err != nil || ok {
			return err
		}
	}
	return engram.Errorf(engram.CodeConflict, "cannot revoke the tenant's last owner key; create another key with every scope first")
}

// ownerEquivalent reports whether k is an owner-equivalent key: not
// revoked, not expired at now, and holding, after its account's role
// limits it (as Authenticate does), every permission of the owner role.
// roles caches account roles across calls.
func ownerEquivalent(ctx context.Context, tx store.Tx, k *store.APIKey, now time.Time, roles map[string]engram.Role) (bool, error) {
	if k.RevokedAt != nil || k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return false, nil
	}
	role, ok := roles[k.AccountID]
	if !ok {
		acct, err := tx.Account(ctx, k.TenantID, k.AccountID)
		if err != nil {
			return false, err
		}
		role = engram.Role(acct.Role)
		roles[k.AccountID] = role
	}
	allowed := role.Permissions()
	for _, perm := range engram.RoleOwner.Permissions() {
		if !slices.Contains(allowed, perm) || !slices.Contains(k.Scopes, string(perm)) {
			return false, nil
		}
	}
	return true, nil
}
