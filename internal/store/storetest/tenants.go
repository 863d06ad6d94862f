package storetest

import (
	"slices"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

func testTenants(f *fx) {
	t := f.t
	tn := &store.Tenant{ID: newID(), Name: "acme", CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateTenant(f.ctx, tn) })

	got := mustGet(f, func(tx store.Tx) (*store.Tenant, error) { return tx.Tenant(f.ctx, tn.ID) })
	checkEqual(t, "Tenant", got, tn)
	got = mustGet(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, "acme") })
	checkEqual(t, "TenantByName", got, tn)

	err := f.write(func(tx store.Tx) error {
		return tx.CreateTenant(f.ctx, &store.Tenant{ID: newID(), Name: "acme", CreatedAt: base})
	})
	wantErr(t, "CreateTenant with a taken name", err, store.ErrConflict)
	err = f.write(func(tx store.Tx) error {
		return tx.CreateTenant(f.ctx, &store.Tenant{ID: tn.ID, Name: "other", CreatedAt: base})
	})
	wantErr(t, "CreateTenant with a taken id", err, store.ErrConflict)

	_, err = get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.Tenant(f.ctx, newID()) })
	wantErr(t, "Tenant(unknown)", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, "nobody") })
	wantErr(t, "TenantByName(unknown)", err, store.ErrNotFound)
	// Names are identifiers: no case folding that would let two tenants
	// collide or one answer for another.
	_, err = get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, "ACME") })
	wantErr(t, "TenantByName(ACME)", err, store.ErrNotFound)
}

func testAccounts(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	acc := &store.Account{ID: newID(), TenantID: a, Role: "admin", Subject: "user:u1", KeyVersion: 3,
		Name: sealed("name"), Email: sealed("email"), CreatedAt: base}
	noEmail := &store.Account{ID: newID(), TenantID: a, Role: "reader", Subject: "tenant",
		Name: sealed("name 2"), CreatedAt: at(1)}
	f.mustWrite(func(tx store.Tx) error {
		if err := tx.CreateAccount(f.ctx, acc); err != nil {
			return err
		}
		return tx.CreateAccount(f.ctx, noEmail)
	})

	got := mustGet(f, func(tx store.Tx) (*store.Account, error) { return tx.Account(f.ctx, a, acc.ID) })
	checkEqual(t, "Account", got, acc)
	got = mustGet(f, func(tx store.Tx) (*store.Account, error) { return tx.Account(f.ctx, a, noEmail.ID) })
	checkEqual(t, "Account", got, noEmail)

	_, err := get(f, func(tx store.Tx) (*store.Account, error) { return tx.Account(f.ctx, b, acc.ID) })
	wantErr(t, "Account of another tenant", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*store.Account, error) { return tx.Account(f.ctx, a, newID()) })
	wantErr(t, "Account(unknown)", err, store.ErrNotFound)

	dup := *acc
	err = f.write(func(tx store.Tx) error { return tx.CreateAccount(f.ctx, &dup) })
	wantErr(t, "CreateAccount with a taken id", err, store.ErrConflict)
}

// apiKey returns a key of account in tenant (not stored).
func apiKey(tenantID, accountID string, n int) *store.APIKey {
	return &store.APIKey{
		ID: newID(), TenantID: tenantID, AccountID: accountID,
		Name: "key", Prefix: "egm_" + newID()[:8],
		Scopes:    []string{"memories:read", "memories:write"},
		SecretMAC: sealed("mac %d", n), PepperVersion: 1, CreatedAt: at(n),
	}
}

func testAPIKeys(f *fx) {
	t := f.t
	a, b, empty := f.tenant(), f.tenant(), f.tenant()
	accA, accB := f.account(a), f.account(b)

	expires := at(3600)
	k1 := apiKey(a, accA, 1)
	k1.ExpiresAt = &expires
	k2 := apiKey(a, accA, 2)
	k2.Scopes = nil
	k2.PepperVersion = 2
	k3 := apiKey(b, accB, 3)
	f.mustWrite(func(tx store.Tx) error {
		for _, k := range []*store.APIKey{k1, k2, k3} {
			if err := tx.CreateAPIKey(f.ctx, k); err != nil {
				return err
			}
		}
		return nil
	})

	for _, k := range []*store.APIKey{k1, k2, k3} {
		got := mustGet(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
		checkEqual(t, "APIKey", got, k)
	}
	_, err := get(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, newID()) })
	wantErr(t, "APIKey(unknown)", err, store.ErrNotFound)

	for _, c := range []struct {
		tenant string
		want   []*store.APIKey
	}{{a, []*store.APIKey{k1, k2}}, {b, []*store.APIKey{k3}}, {empty, nil}} {
		got := mustGet(f, func(tx store.Tx) ([]store.APIKey, error) { return tx.ListAPIKeys(f.ctx, c.tenant) })
		if len(got) != len(c.want) {
			t.Errorf("ListAPIKeys: %d keys, want %d", len(got), len(c.want))
			continue
		}
		slices.SortFunc(got, func(x, y store.APIKey) int { return strings.Compare(x.ID, y.ID) })
		for i := range got {
			checkEqual(t, "ListAPIKeys", &got[i], c.want[i])
		}
	}

	dup := *k1
	dup.Prefix = "egm_other"
	err = f.write(func(tx store.Tx) error { return tx.CreateAPIKey(f.ctx, &dup) })
	wantErr(t, "CreateAPIKey with a taken id", err, store.ErrConflict)
}

func testRevokeAPIKey(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	k := apiKey(a, f.account(a), 1)
	f.mustWrite(func(tx store.Tx) error { return tx.CreateAPIKey(f.ctx, k) })
	key := func() *store.APIKey {
		return mustGet(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
	}

	err := f.write(func(tx store.Tx) error { return tx.RevokeAPIKey(f.ctx, b, k.ID, at(10)) })
	wantErr(t, "RevokeAPIKey from another tenant", err, store.ErrNotFound)
	if got := key(); got.RevokedAt != nil {
		t.Fatalf("revoked from another tenant: RevokedAt = %v", got.RevokedAt)
	}
	err = f.write(func(tx store.Tx) error { return tx.RevokeAPIKey(f.ctx, a, newID(), at(10)) })
	wantErr(t, "RevokeAPIKey(unknown)", err, store.ErrNotFound)

	f.mustWrite(func(tx store.Tx) error { return tx.RevokeAPIKey(f.ctx, a, k.ID, at(20)) })
	f.mustWrite(func(tx store.Tx) error { return tx.RevokeAPIKey(f.ctx, a, k.ID, at(30)) })
	want := *k
	first := at(20)
	want.RevokedAt = &first
	checkEqual(t, "revoked key", key(), &want)
}

func testTouchAPIKey(f *fx) {
	t := f.t
	a := f.tenant()
	k := apiKey(a, f.account(a), 1)
	f.mustWrite(func(tx store.Tx) error { return tx.CreateAPIKey(f.ctx, k) })

	f.mustWrite(func(tx store.Tx) error { return tx.TouchAPIKey(f.ctx, k.ID, at(50)) })
	want := *k
	used := at(50)
	want.LastUsedAt = &used
	got := mustGet(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
	checkEqual(t, "touched key", got, &want)

	err := f.write(func(tx store.Tx) error { return tx.TouchAPIKey(f.ctx, newID(), at(50)) })
	wantErr(t, "TouchAPIKey(unknown)", err, store.ErrNotFound)
}

func testWrappedKeys(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	key := wrappedKey
	// Out of order, and with 9 and 10 so that a textual ordering would pick
	// the wrong latest version.
	var stored []*store.WrappedKey
	for _, v := range []int{2, 10, 1, 9} {
		stored = append(stored, key(a, "tenant", "", v))
	}
	userKey := key(a, "tenant", "user:u1", 1)
	system := key("", "pepper", "", 1)
	stored = append(stored, userKey, system)
	f.mustWrite(func(tx store.Tx) error {
		for _, k := range stored {
			if err := tx.PutKey(f.ctx, k); err != nil {
				return err
			}
		}
		return nil
	})

	for _, k := range stored {
		got := mustGet(f, func(tx store.Tx) (*store.WrappedKey, error) {
			return tx.Key(f.ctx, k.TenantID, k.Purpose, k.Owner, k.Version)
		})
		checkEqual(t, "Key", got, k)
	}
	for _, c := range []struct {
		tenant, purpose, owner string
		want                   *store.WrappedKey
	}{
		{a, "tenant", "", stored[1]},
		{a, "tenant", "user:u1", userKey},
		{"", "pepper", "", system},
	} {
		got := mustGet(f, func(tx store.Tx) (*store.WrappedKey, error) {
			return tx.LatestKey(f.ctx, c.tenant, c.purpose, c.owner)
		})
		checkEqual(t, "LatestKey", got, c.want)
	}

	err := f.write(func(tx store.Tx) error { return tx.PutKey(f.ctx, key(a, "tenant", "", 9)) })
	wantErr(t, "PutKey of an existing version", err, store.ErrConflict)

	for _, c := range []struct {
		tenant, purpose, owner string
		version                int
	}{
		{a, "tenant", "", 3},
		{a, "other", "", 1},
		{a, "tenant", "user:u2", 1},
		{b, "tenant", "", 1},
		{b, "pepper", "", 1},
	} {
		_, err := get(f, func(tx store.Tx) (*store.WrappedKey, error) {
			return tx.Key(f.ctx, c.tenant, c.purpose, c.owner, c.version)
		})
		wantErr(t, "Key "+c.purpose+"/"+c.owner, err, store.ErrNotFound)
		if c.version != 1 {
			continue
		}
		_, err = get(f, func(tx store.Tx) (*store.WrappedKey, error) {
			return tx.LatestKey(f.ctx, c.tenant, c.purpose, c.owner)
		})
		wantErr(t, "LatestKey "+c.purpose+"/"+c.owner, err, store.ErrNotFound)
	}
}

func testIdempotency(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	rec := func(tenant, principal, key string, created time.Time) *store.Idempotency {
		return &store.Idempotency{TenantID: tenant, Principal: principal, Key: key, RequestHash: sealed("hash %s %s", principal, key),
			Result: []byte(`[{"id":"x","event":"ADD"}]`), CreatedAt: created}
	}
	old := rec(a, "p1", "k1", at(0))
	edge := rec(a, "p1", "edge", at(3600))
	fresh := rec(a, "p1", "fresh", at(7200))
	other := rec(b, "p1", "k1", at(0))
	other.RequestHash = sealed("another request")
	// Another principal of the same tenant has its own key space: the
	// same key is a separate record, and neither answers for the other.
	mine := rec(a, "p2", "k1", at(7200))
	f.mustWrite(func(tx store.Tx) error {
		for _, r := range []*store.Idempotency{old, edge, fresh, other, mine} {
			if err := tx.PutIdempotency(f.ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	lookup := func(tenant, principal, key string) (*store.Idempotency, error) {
		return get(f, func(tx store.Tx) (*store.Idempotency, error) { return tx.Idempotency(f.ctx, tenant, principal, key) })
	}

	for _, r := range []*store.Idempotency{old, edge, fresh, other, mine} {
		got, err := lookup(r.TenantID, r.Principal, r.Key)
		if err != nil {
			t.Fatalf("Idempotency(%s, %s): %v", r.Principal, r.Key, err)
		}
		checkEqual(t, "Idempotency", got, r)
	}
	_, err := lookup(a, "p1", "unknown")
	wantErr(t, "Idempotency(unknown)", err, store.ErrNotFound)
	_, err = lookup(b, "p1", "fresh")
	wantErr(t, "Idempotency of another tenant", err, store.ErrNotFound)
	_, err = lookup(a, "p3", "k1")
	wantErr(t, "Idempotency of another principal", err, store.ErrNotFound)
	_, err = lookup(a, "p2", "fresh")
	wantErr(t, "Idempotency of another principal", err, store.ErrNotFound)

	err = f.write(func(tx store.Tx) error { return tx.PutIdempotency(f.ctx, rec(a, "p1", "k1", at(10))) })
	wantErr(t, "PutIdempotency with a used key", err, store.ErrConflict)

	f.mustWrite(func(tx store.Tx) error { return tx.DeleteIdempotencyBefore(f.ctx, at(3600)) })
	for _, r := range []*store.Idempotency{old, other} {
		_, err := lookup(r.TenantID, r.Principal, r.Key)
		wantErr(t, "Idempotency after expiry", err, store.ErrNotFound)
	}
	// "Before" is strict: a record created exactly at the cut-off stays.
	for _, r := range []*store.Idempotency{edge, fresh, mine} {
		if _, err := lookup(r.TenantID, r.Principal, r.Key); err != nil {
			t.Errorf("Idempotency(%s) after expiry of older records: %v", r.Key, err)
		}
	}
}

func testListTenants(f *fx) {
	t := f.t
	list := func() []store.Tenant {
		return mustGet(f, func(tx store.Tx) ([]store.Tenant, error) { return tx.ListTenants(f.ctx) })
	}
	if got := list(); len(got) != 0 {
		t.Errorf("ListTenants of an empty store: %d tenants", len(got))
	}
	// Created (so ids and times ordered) in an order other than by name.
	var created []*store.Tenant
	for i, name := range []string{"bravo", "alpha-2", "charlie", "alpha"} {
		tn := &store.Tenant{ID: newID(), Name: name, CreatedAt: at(-i)}
		created = append(created, tn)
		f.mustWrite(func(tx store.Tx) error { return tx.CreateTenant(f.ctx, tn) })
	}
	byName := slices.Clone(created)
	slices.SortFunc(byName, func(x, y *store.Tenant) int { return strings.Compare(x.Name, y.Name) })
	checkList(t, "ListTenants", list(), byName)
}
