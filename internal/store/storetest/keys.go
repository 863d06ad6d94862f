package storetest

import (
	"fmt"

	"github.com/engram-memory/engram/internal/store"
)

// wrappedKey returns a key (not stored) whose fields all derive from its
// identity. ParentVersion is version % 3, so that some keys have 0 (wrapped
// by the KEK) and others a parent version.
func wrappedKey(tenantID, purpose, owner string, version int) *store.WrappedKey {
	return &store.WrappedKey{TenantID: tenantID, Purpose: purpose, Owner: owner, Version: version,
		ParentVersion: version % 3,
		Wrapped:       sealed("%s/%s/%s/%d", tenantID, purpose, owner, version),
		CreatedAt:     at(version)}
}

// putKeys stores keys in one transaction.
func (f *fx) putKeys(ks ...*store.WrappedKey) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error {
		for _, k := range ks {
			if err := tx.PutKey(f.ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fx) keys(tenantID, purpose string) []store.WrappedKey {
	f.t.Helper()
	return mustGet(f, func(tx store.Tx) ([]store.WrappedKey, error) { return tx.Keys(f.ctx, tenantID, purpose) })
}

func (f *fx) key(tenantID, purpose, owner string, version int) (*store.WrappedKey, error) {
	return get(f, func(tx store.Tx) (*store.WrappedKey, error) {
		return tx.Key(f.ctx, tenantID, purpose, owner, version)
	})
}

// checkKeys fails unless each key is stored exactly as given.
func (f *fx) checkKeys(what string, ks ...*store.WrappedKey) {
	f.t.Helper()
	for _, k := range ks {
		got, err := f.key(k.TenantID, k.Purpose, k.Owner, k.Version)
		if err != nil {
			f.t.Errorf("%s: Key(%q, %s, %s, %d): %v", what, k.TenantID, k.Purpose, k.Owner, k.Version, err)
			continue
		}
		checkEqual(f.t, what, got, k)
	}
}

// checkNoKeys fails unless none of the keys is stored.
func (f *fx) checkNoKeys(what string, ks ...*store.WrappedKey) {
	f.t.Helper()
	for _, k := range ks {
		_, err := f.key(k.TenantID, k.Purpose, k.Owner, k.Version)
		wantErr(f.t, fmt.Sprintf("%s: Key(%s, %d)", what, k.Owner, k.Version), err, store.ErrNotFound)
	}
}

func testKeys(f *fx) {
	t := f.t
	a, b, empty := f.tenant(), f.tenant(), f.tenant()
	s := store.PurposeSubject
	// Stored out of order, with versions 2 and 10 so that a textual
	// ordering would put them the wrong way round.
	u1v1, u1v2, u1v10 := wrappedKey(a, s, "u1", 1), wrappedKey(a, s, "u1", 2), wrappedKey(a, s, "u1", 10)
	u2v1 := wrappedKey(a, s, "u2", 1)
	tenantKey := wrappedKey(a, "tenant", "", 1)
	userKey := wrappedKey(a, "tenant", "user:u1", 1)
	theirs := wrappedKey(b, s, "u1", 1)
	pepper1, pepper2 := wrappedKey("", "pepper", "", 1), wrappedKey("", "pepper", "", 2)
	// A system key of the subject purpose: the "" tenant is a tenant of its
	// own, not a wildcard.
	sysSubject := wrappedKey("", s, "u1", 3)
	f.putKeys(u2v1, u1v10, userKey, tenantKey, u1v1, theirs, pepper2, u1v2, pepper1, sysSubject)

	for _, c := range []struct {
		what, tenant, purpose string
		want                  []*store.WrappedKey
	}{
		{"subject keys", a, s, []*store.WrappedKey{u1v1, u1v2, u1v10, u2v1}},
		{"tenant keys", a, "tenant", []*store.WrappedKey{tenantKey, userKey}},
		{"another tenant's subject keys", b, s, []*store.WrappedKey{theirs}},
		{"system keys", "", "pepper", []*store.WrappedKey{pepper1, pepper2}},
		{"system subject keys", "", s, []*store.WrappedKey{sysSubject}},
		{"unknown purpose", a, "pepper", nil},
		{"tenant without keys", empty, s, nil},
	} {
		got, err := get(f, func(tx store.Tx) ([]store.WrappedKey, error) { return tx.Keys(f.ctx, c.tenant, c.purpose) })
		if err != nil {
			t.Errorf("Keys(%s): %v", c.what, err)
			continue
		}
		checkList(t, "Keys("+c.what+")", got, c.want)
	}
}

func testUpdateKey(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	s := store.PurposeSubject
	k1, k2 := wrappedKey(a, s, "u1", 1), wrappedKey(a, s, "u1", 2)
	sys := wrappedKey("", s, "u1", 1)
	f.putKeys(k1, k2, sys)

	upd := *k1
	upd.Wrapped = sealed("rewrapped")
	upd.ParentVersion = 7
	// Not rewritten: a rewrap does not change the key, nor when it was made.
	upd.CreatedAt = at(999)
	f.mustWrite(func(tx store.Tx) error { return tx.UpdateKey(f.ctx, &upd) })
	want := *k1
	want.Wrapped, want.ParentVersion = upd.Wrapped, upd.ParentVersion
	f.checkKeys("updated key", &want, k2, sys)
	latest := mustGet(f, func(tx store.Tx) (*store.WrappedKey, error) { return tx.LatestKey(f.ctx, a, s, "u1") })
	checkEqual(t, "LatestKey after updating an older version", latest, k2)

	// A failed update changes (and creates) nothing, even in a transaction
	// that goes on to commit.
	misses := []struct {
		what                   string
		tenant, purpose, owner string
		version                int
	}{
		{"another tenant's", b, s, "u1", 1},
		{"system key of a tenant key's identity", "", s, "u1", 2},
		{"unknown version", a, s, "u1", 3},
		{"unknown owner", a, s, "u2", 1},
		{"unknown purpose", a, "tenant", "u1", 1},
	}
	errs := make([]error, len(misses))
	f.mustWrite(func(tx store.Tx) error {
		for i, m := range misses {
			errs[i] = tx.UpdateKey(f.ctx, &store.WrappedKey{TenantID: m.tenant, Purpose: m.purpose, Owner: m.owner,
				Version: m.version, ParentVersion: 9, Wrapped: sealed("intruder"), CreatedAt: at(5)})
		}
		return nil
	})
	for i, m := range misses {
		wantErr(t, "UpdateKey("+m.what+")", errs[i], store.ErrNotFound)
		_, err := f.key(m.tenant, m.purpose, m.owner, m.version)
		wantErr(t, "Key after UpdateKey("+m.what+")", err, store.ErrNotFound)
	}
	f.checkKeys("keys after failed updates", &want, k2, sys)
	checkList(t, "Keys(A) after failed updates", f.keys(a, s), []*store.WrappedKey{&want, k2})
	checkList(t, "Keys(B) after failed updates", f.keys(b, s), nil)
}

func testDeleteKey(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	s := store.PurposeSubject
	k1, k2, k3 := wrappedKey(a, s, "u1", 1), wrappedKey(a, s, "u1", 2), wrappedKey(a, s, "u1", 3)
	u2 := wrappedKey(a, s, "u2", 1)
	theirs := wrappedKey(b, s, "u1", 3)
	sys := wrappedKey("", s, "u1", 3)
	f.putKeys(k1, k2, k3, u2, theirs, sys)

	misses := []struct {
		what                   string
		tenant, purpose, owner string
		version                int
	}{
		{"another tenant's", b, s, "u1", 1},
		{"system key of a tenant key's identity", "", s, "u1", 2},
		{"unknown version", a, s, "u1", 4},
		{"unknown owner", a, s, "u3", 1},
		{"unknown purpose", a, "tenant", "u1", 1},
	}
	errs := make([]error, len(misses))
	f.mustWrite(func(tx store.Tx) error {
		for i, m := range misses {
			errs[i] = tx.DeleteKey(f.ctx, m.tenant, m.purpose, m.owner, m.version)
		}
		return nil
	})
	for i, m := range misses {
		wantErr(t, "DeleteKey("+m.what+")", errs[i], store.ErrNotFound)
	}
	f.checkKeys("keys after failed deletes", k1, k2, k3, u2, theirs, sys)

	// Destroying the newest version makes the previous one the latest.
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteKey(f.ctx, a, s, "u1", 3) })
	f.checkNoKeys("deleted key", k3)
	latest := mustGet(f, func(tx store.Tx) (*store.WrappedKey, error) { return tx.LatestKey(f.ctx, a, s, "u1") })
	checkEqual(t, "LatestKey after deleting the newest", latest, k2)
	checkList(t, "Keys after delete", f.keys(a, s), []*store.WrappedKey{k1, k2, u2})
	f.checkKeys("other tenants' keys after delete", theirs, sys)

	err := f.write(func(tx store.Tx) error { return tx.DeleteKey(f.ctx, a, s, "u1", 3) })
	wantErr(t, "DeleteKey twice", err, store.ErrNotFound)

	f.mustWrite(func(tx store.Tx) error { return tx.DeleteKey(f.ctx, a, s, "u1", 1) })
	checkList(t, "Keys after deleting the oldest", f.keys(a, s), []*store.WrappedKey{k2, u2})
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteKey(f.ctx, a, s, "u1", 2) })
	_, err = get(f, func(tx store.Tx) (*store.WrappedKey, error) { return tx.LatestKey(f.ctx, a, s, "u1") })
	wantErr(t, "LatestKey after deleting every version", err, store.ErrNotFound)
	checkList(t, "Keys after deleting every version of u1", f.keys(a, s), []*store.WrappedKey{u2})
}

func testTenantKEK(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	kek := func(tenantID string) (*store.TenantKEK, error) {
		return get(f, func(tx store.Tx) (*store.TenantKEK, error) { return tx.TenantKEK(f.ctx, tenantID) })
	}
	put := func(k *store.TenantKEK) {
		t.Helper()
		f.mustWrite(func(tx store.Tx) error { return tx.PutTenantKEK(f.ctx, k) })
	}
	check := func(what string, want *store.TenantKEK) {
		t.Helper()
		got, err := kek(want.TenantID)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		checkEqual(t, what, got, want)
	}

	_, err := kek(a)
	wantErr(t, "TenantKEK before PutTenantKEK", err, store.ErrNotFound)

	first := &store.TenantKEK{TenantID: a, Provider: "vault", Config: sealed("config 1"), CreatedAt: at(1)}
	put(first)
	check("TenantKEK", first)
	_, err = kek(b)
	wantErr(t, "TenantKEK of a tenant without one, beside one with", err, store.ErrNotFound)

	// Setting it again replaces the whole configuration.
	second := &store.TenantKEK{TenantID: a, Provider: "awskms", Config: sealed("config 2"), CreatedAt: at(2)}
	put(second)
	check("TenantKEK after replacing it", second)

	theirs := &store.TenantKEK{TenantID: b, Provider: "vault", Config: sealed("config of b"), CreatedAt: at(3)}
	put(theirs)
	check("TenantKEK(A) after B set its own", second)
	check("TenantKEK(B)", theirs)
}
