package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// kekConfigAAD binds a tenant's wrapped KEK configuration to the tenant.
func kekConfigAAD(tenantID string) []byte {
	return seal.AAD(seal.Context{Domain: "kek", Tenant: tenantID, Record: "tenant-kek", Field: "config"}, seal.AES256GCMSIV, 1)
}

// kekFor returns the KEK that wraps a tenant's keys: its own when it brought
// one, the system KEK otherwise. The tenant's provider is rebuilt at most
// every cacheTTL; revoking Engram's access at the provider cuts the tenant
// off once its cached tenant key expires, also within cacheTTL.
func (r *Ring) kekFor(ctx context.Context, tenantID string) (kek.KEK, error) {
	if tenantID == "" || r.factory == nil {
		return r.kek, nil
	}
	r.mu.RLock()
	c, ok := r.keks[tenantID]
	r.mu.RUnlock()
	if ok && r.now().Before(c.expires) {
		return c.k, nil
	}
	var row *store.TenantKEK
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		row, err = tx.TenantKEK(ctx, tenantID)
		return err
	})
	var k kek.KEK = r.kek
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("load tenant kek: %w", err)
	default:
		if k, err = r.openTenantKEK(ctx, row); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.keks[tenantID] = cachedKEK{k: k, expires: r.now().Add(cacheTTL)}
	r.mu.Unlock()
	return k, nil
}

func (r *Ring) openTenantKEK(ctx context.Context, row *store.TenantKEK) (kek.KEK, error) {
	cfg, err := r.kek.Unwrap(ctx, row.Config, kekConfigAAD(row.TenantID))
	if err != nil {
		return nil, fmt.Errorf("unwrap tenant kek configuration: %w", err)
	}
	k, err := r.factory(ctx, row.Provider, cfg)
	if err != nil {
		return nil, fmt.Errorf("tenant kek (%s): %w", row.Provider, err)
	}
	return k, nil
}

// SetTenantKEK puts a tenant's keys under its own KEK: it checks the new
// KEK round-trips, rewraps every version of the tenant key from the current
// KEK to it and stores the configuration (wrapped by the system KEK), in
// one transaction. It returns the number of keys rewrapped.
func (r *Ring) SetTenantKEK(ctx context.Context, tenantID, provider string, config []byte) (int, error) {
	if r.factory == nil {
		return 0, errors.New("keys: this build does not support tenant KEKs")
	}
	next, err := r.factory(ctx, provider, config)
	if err != nil {
		return 0, fmt.Errorf("tenant kek (%s): %w", provider, err)
	}
	probe := []byte("engram tenant kek probe ........")
	w, err := next.Wrap(ctx, probe, []byte("probe"))
	if err != nil {
		return 0, fmt.Errorf("tenant kek (%s) cannot wrap: %w", provider, err)
	}
	if got, err := next.Unwrap(ctx, w, []byte("probe")); err != nil || string(got) != string(probe) {
		return 0, fmt.Errorf("tenant kek (%s) does not round-trip: %w", provider, err)
	}
	cur, err := r.kekFor(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	var ws []store.WrappedKey
	if err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		ws, err = tx.Keys(ctx, tenantID, PurposeTenant)
		return err
	}); err != nil {
		return 0, err
	}
	if len(ws) == 0 {
		return 0, fmt.Errorf("tenant has no key: %w", store.ErrNotFound)
	}
	for i := range ws {
		aad := kekAAD(tenantID, PurposeTenant, ws[i].Version)
		raw, err := cur.Unwrap(ctx, ws[i].Wrapped, aad)
		if err != nil {
			return 0, fmt.Errorf("unwrap tenant key v%d: %w", ws[i].Version, err)
		}
		if ws[i].Wrapped, err = next.Wrap(ctx, raw, aad); err != nil {
			return 0, fmt.Errorf("wrap tenant key v%d under the tenant kek: %w", ws[i].Version, err)
		}
	}
	sealedCfg, err := r.kek.Wrap(ctx, config, kekConfigAAD(tenantID))
	if err != nil {
		return 0, fmt.Errorf("wrap tenant kek configuration: %w", err)
	}
	err = r.st.Write(ctx, func(tx store.Tx) error {
		latest, err := tx.LatestKey(ctx, tenantID, PurposeTenant, "")
		if err != nil {
			return err
		}
		if latest.Version != ws[len(ws)-1].Version {
			return errRaced
		}
		for i := range ws {
			if err := tx.UpdateKey(ctx, &ws[i]); err != nil {
				return err
			}
		}
		return tx.PutTenantKEK(ctx, &store.TenantKEK{TenantID: tenantID, Provider: provider, Config: sealedCfg, CreatedAt: r.now().UTC()})
	})
	if err != nil {
		return 0, err
	}
	r.Forget(tenantID, "*")
	return len(ws), nil
}
