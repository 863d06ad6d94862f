package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/store"
)

// errRaced: the key set changed between preparing and committing a
// rotation; Rotate retries.
var errRaced = errors.New("keys: key set changed during rotation")

// Rotation reports what Rotate did.
type Rotation struct {
	TenantKeyVersion int `json:"tenant_key_version"`
	Rewrapped        int `json:"rewrapped"`
	SubjectKeys      int `json:"subject_keys"`
}

// Rotate adds a tenant key version and, in one transaction: rewraps every
// key the tenant key wraps (index key, every subject key version) under it,
// destroys the old tenant key versions, and adds a new version to every
// subject key so that new writes use fresh data keys. Records sealed under
// the old subject key versions stay readable until Reencrypt moves them.
func (r *Ring) Rotate(ctx context.Context, tenantID string) (*Rotation, error) {
	for range 5 {
		rot, err := r.rotate(ctx, tenantID)
		if !errors.Is(err, errRaced) {
			return rot, err
		}
	}
	return nil, fmt.Errorf("rotate tenant key: %w", errRaced)
}

func (r *Ring) rotate(ctx context.Context, tenantID string) (*Rotation, error) {
	var (
		cur      *store.WrappedKey
		children []store.WrappedKey
	)
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		if cur, err = tx.LatestKey(ctx, tenantID, PurposeTenant, ""); err != nil {
			return err
		}
		for _, p := range []string{PurposeIndex, PurposeSubject} {
			ks, err := tx.Keys(ctx, tenantID, p)
			if err != nil {
				return err
			}
			children = append(children, ks...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rotate: load keys: %w", err)
	}
	next := cur.Version + 1
	ntk, wtk, err := r.NewTenantKey(ctx, tenantID, next)
	if err != nil {
		return nil, err
	}
	rewrapped := make([]*store.WrappedKey, 0, len(children))
	latest := map[string]int{} // subject → newest version
	for i := range children {
		c := &children[i]
		k, err := r.openChild(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("rotate: %w", err)
		}
		w, err := r.wrapChild(ntk, tenantID, c.Purpose, c.Owner, k)
		if err != nil {
			return nil, err
		}
		w.CreatedAt = c.CreatedAt
		rewrapped = append(rewrapped, w)
		if c.Purpose == PurposeSubject {
			latest[c.Owner] = max(latest[c.Owner], c.Version)
		}
	}
	fresh := make([]*store.WrappedKey, 0, len(latest))
	for owner, v := range latest {
		_, w, err := r.NewChildKey(ntk, tenantID, PurposeSubject, owner, v+1)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, w)
	}
	err = r.st.Write(ctx, func(tx store.Tx) error {
		// Nothing may have been added since the read: a key wrapped under
		// the old tenant key would not survive its destruction.
		now, err := tx.LatestKey(ctx, tenantID, PurposeTenant, "")
		if err != nil {
			return err
		}
		n := 0
		for _, p := range []string{PurposeIndex, PurposeSubject} {
			ks, err := tx.Keys(ctx, tenantID, p)
			if err != nil {
				return err
			}
			n += len(ks)
		}
		if now.Version != cur.Version || n != len(children) {
			return errRaced
		}
		if err := tx.PutKey(ctx, wtk); err != nil {
			return err
		}
		for _, w := range rewrapped {
			if err := tx.UpdateKey(ctx, w); err != nil {
				return err
			}
		}
		for _, w := range fresh {
			if err := tx.PutKey(ctx, w); err != nil {
				return err
			}
		}
		old, err := tx.Keys(ctx, tenantID, PurposeTenant)
		if err != nil {
			return err
		}
		for _, o := range old {
			if o.Version < next {
				if err := tx.DeleteKey(ctx, tenantID, PurposeTenant, "", o.Version); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.Forget(tenantID, "*")
	return &Rotation{TenantKeyVersion: next, Rewrapped: len(rewrapped), SubjectKeys: len(fresh)}, nil
}

// RetireSubjectKeys destroys the subject key versions that no record uses
// any more, once the tenant has no stale record left. It returns how many
// versions it destroyed.
func (r *Ring) RetireSubjectKeys(ctx context.Context, tenantID string) (int, error) {
	n := 0
	err := r.st.Write(ctx, func(tx store.Tx) error {
		n = 0
		stale, err := tx.CountStale(ctx, tenantID)
		if err != nil || stale > 0 {
			return err
		}
		ks, err := tx.Keys(ctx, tenantID, PurposeSubject)
		if err != nil {
			return err
		}
		latest := map[string]int{}
		for _, k := range ks {
			latest[k.Owner] = max(latest[k.Owner], k.Version)
		}
		for _, k := range ks {
			if k.Version < latest[k.Owner] {
				if err := tx.DeleteKey(ctx, tenantID, PurposeSubject, k.Owner, k.Version); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err == nil && n > 0 {
		r.Forget(tenantID, "*")
	}
	return n, err
}

// RewrapKEK moves everything the system KEK wraps (each tenant key
// version, the pepper, the system audit key, the checkpoint key and the
// public keys of its versions, and the configurations of tenants' own
// KEKs) from the ring's KEK to next, in one transaction; nothing else
// changes. Keys of tenants that brought their own KEK stay under it. The
// caller switches to next once it returns.
func (r *Ring) RewrapKEK(ctx context.Context, next kek.KEK) (int, error) {
	var (
		ws   []store.WrappedKey
		cfgs []store.TenantKEK
	)
	err := r.st.Read(ctx, func(tx store.Tx) error {
		ts, err := tx.ListTenants(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			c, err := tx.TenantKEK(ctx, t.ID)
			if err == nil {
				cfgs = append(cfgs, *c)
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			ks, err := tx.Keys(ctx, t.ID, PurposeTenant)
			if err != nil {
				return err
			}
			ws = append(ws, ks...)
		}
		for _, purpose := range []string{PurposePepper, PurposeAuditRoot, PurposeAuditCheckpoint, PurposeAuditCheckpointPublic} {
			ps, err := tx.Keys(ctx, "", purpose)
			if err != nil {
				return err
			}
			ws = append(ws, ps...)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("rewrap: load keys: %w", err)
	}
	rewrap := func(what string, wrapped, aad []byte) ([]byte, error) {
		raw, err := r.kek.Unwrap(ctx, wrapped, aad)
		if err != nil {
			return nil, fmt.Errorf("rewrap %s: %w", what, err)
		}
		out, err := next.Wrap(ctx, raw, aad)
		if err != nil {
			return nil, fmt.Errorf("rewrap %s: %w", what, err)
		}
		return out, nil
	}
	for i := range ws {
		w := &ws[i]
		if w.Wrapped, err = rewrap(fmt.Sprintf("%s key of %q", w.Purpose, w.TenantID), w.Wrapped, kekAAD(w.TenantID, w.Purpose, w.Version)); err != nil {
			return 0, err
		}
	}
	for i := range cfgs {
		c := &cfgs[i]
		if c.Config, err = rewrap(fmt.Sprintf("kek configuration of %q", c.TenantID), c.Config, kekConfigAAD(c.TenantID)); err != nil {
			return 0, err
		}
	}
	err = r.st.Write(ctx, func(tx store.Tx) error {
		for i := range ws {
			if err := tx.UpdateKey(ctx, &ws[i]); err != nil {
				return err
			}
		}
		for i := range cfgs {
			if err := tx.PutTenantKEK(ctx, &cfgs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ws) + len(cfgs), nil
}
