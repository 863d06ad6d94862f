package storetest

import (
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/sso/saml"
	"github.com/engram-memory/engram/internal/sso/saml/replaytest"
	"github.com/engram-memory/engram/internal/store"
)

// RunSSO runs the single sign-on cases: configurations, identity links,
// the SAML replay table through store.ReplayCache (saml's conformance
// suite), and what erasing a tenant and rotating keys do to them.
func RunSSO(t *testing.T, open func(t *testing.T) store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*fx)
	}{
		{"SSOConfig", testSSOConfig},
		{"SSOIdentity", testSSOIdentity},
		{"SSOStale", testSSOStale},
		{"SSODeleteTenant", testSSODeleteTenant},
		{"SAMLAssertionExpired", testSAMLAssertionExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(&fx{t: t, s: s, ctx: t.Context()})
		})
	}
	t.Run("ReplayCache", func(t *testing.T) {
		// One store for the whole suite: its ids are unique per call, and
		// a shared database is what the nodes of a deployment share.
		s := open(t)
		t.Cleanup(func() { s.Close() })
		replaytest.Run(t, func(*testing.T) saml.ReplayCache { return store.ReplayCache{Store: s} })
	})
}

func ssoConfig(tenant string, n int) *store.SSOConfig {
	return &store.SSOConfig{TenantID: tenant, Kind: "oidc", Subject: "sso", KeyVersion: n,
		Config: sealed("config %d", n), Policy: []byte(`{"jit":true}`), UpdatedAt: at(n)}
}

func testSSOConfig(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	_, err := get(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, a) })
	wantErr(t, "config before any", err, store.ErrNotFound)
	c1 := ssoConfig(a, 1)
	f.mustWrite(func(tx store.Tx) error { return tx.PutSSOConfig(f.ctx, c1) })
	checkEqual(t, "config", mustGet(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, a) }), c1)
	// A second put replaces it whole.
	c2 := ssoConfig(a, 2)
	c2.Kind, c2.Policy = "saml", []byte(`{"sso_only":true}`)
	f.mustWrite(func(tx store.Tx) error { return tx.PutSSOConfig(f.ctx, c2) })
	checkEqual(t, "replaced config", mustGet(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, a) }), c2)
	// Tenants are separate.
	_, err = get(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, b) })
	wantErr(t, "other tenant's config", err, store.ErrNotFound)
	wantErr(t, "delete in other tenant", f.write(func(tx store.Tx) error { return tx.DeleteSSOConfig(f.ctx, b) }), store.ErrNotFound)
	// Only the two protocols are accepted.
	bad := ssoConfig(b, 1)
	bad.Kind = "ldap"
	if err := f.write(func(tx store.Tx) error { return tx.PutSSOConfig(f.ctx, bad) }); err == nil {
		t.Error("kind ldap stored")
	}
	f.mustWrite(func(tx store.Tx) error { return tx.DeleteSSOConfig(f.ctx, a) })
	_, err = get(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, a) })
	wantErr(t, "deleted config", err, store.ErrNotFound)
	wantErr(t, "second delete", f.write(func(tx store.Tx) error { return tx.DeleteSSOConfig(f.ctx, a) }), store.ErrNotFound)
}

func testSSOIdentity(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	acct := f.account(a)
	id := &store.SSOIdentity{TenantID: a, Issuer: "https://idp.example", Subject: "blind-1", AccountID: acct, CreatedAt: at(1)}
	f.mustWrite(func(tx store.Tx) error { return tx.PutSSOIdentity(f.ctx, id) })
	checkEqual(t, "identity", mustGet(f, func(tx store.Tx) (*store.SSOIdentity, error) {
		return tx.SSOIdentity(f.ctx, a, id.Issuer, id.Subject)
	}), id)
	// A second link of the same IdP user conflicts, even to another account.
	dup := *id
	dup.AccountID = f.account(a)
	wantErr(t, "second link", f.write(func(tx store.Tx) error { return tx.PutSSOIdentity(f.ctx, &dup) }), store.ErrConflict)
	for _, k := range []struct{ tenant, issuer, subject string }{
		{b, id.Issuer, id.Subject}, {a, "https://other.example", id.Subject}, {a, id.Issuer, "blind-2"},
	} {
		_, err := get(f, func(tx store.Tx) (*store.SSOIdentity, error) {
			return tx.SSOIdentity(f.ctx, k.tenant, k.issuer, k.subject)
		})
		wantErr(t, "identity under "+k.tenant+" "+k.issuer+" "+k.subject, err, store.ErrNotFound)
	}
	// A link names an account of its own tenant only.
	cross := &store.SSOIdentity{TenantID: b, Issuer: id.Issuer, Subject: "x", AccountID: "no-such-account", CreatedAt: at(2)}
	if err := f.write(func(tx store.Tx) error { return tx.PutSSOIdentity(f.ctx, cross) }); err == nil {
		t.Error("identity linked to a missing account")
	}
}

// testSSOStale: a configuration sealed under an old subject key version is
// stale, so re-encryption moves it and the old version is not retired
// under it.
func testSSOStale(f *fx) {
	t := f.t
	a := f.tenant()
	f.putKeys(wrappedKey(a, store.PurposeSubject, "sso", 1), wrappedKey(a, store.PurposeSubject, "sso", 2))
	c := ssoConfig(a, 1)
	f.mustWrite(func(tx store.Tx) error { return tx.PutSSOConfig(f.ctx, c) })
	rs := mustGet(f, func(tx store.Tx) ([]store.StaleRecord, error) { return tx.StaleRecords(f.ctx, a, 10) })
	if want := (store.StaleRecord{Kind: "sso_config", ID: a, Subject: "sso", KeyVersion: 1}); len(rs) != 1 || rs[0] != want {
		t.Errorf("StaleRecords = %+v, want [%+v]", rs, want)
	}
	if n := mustGet(f, func(tx store.Tx) (int, error) { return tx.CountStale(f.ctx, a) }); n != 1 {
		t.Errorf("CountStale = %d, want 1", n)
	}
	c.KeyVersion = 2
	f.mustWrite(func(tx store.Tx) error { return tx.PutSSOConfig(f.ctx, c) })
	if n := mustGet(f, func(tx store.Tx) (int, error) { return tx.CountStale(f.ctx, "") }); n != 0 {
		t.Errorf("CountStale after reseal = %d, want 0", n)
	}
}

func testSSODeleteTenant(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	for _, tn := range []string{a, b} {
		acct := f.account(tn)
		f.mustWrite(func(tx store.Tx) error {
			if err := tx.PutSSOConfig(f.ctx, ssoConfig(tn, 1)); err != nil {
				return err
			}
			return tx.PutSSOIdentity(f.ctx, &store.SSOIdentity{TenantID: tn, Issuer: "i", Subject: "s", AccountID: acct, CreatedAt: base})
		})
	}
	f.mustWrite(func(tx store.Tx) error { _, err := tx.DeleteTenant(f.ctx, a); return err })
	_, err := get(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, a) })
	wantErr(t, "erased tenant's config", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*store.SSOIdentity, error) { return tx.SSOIdentity(f.ctx, a, "i", "s") })
	wantErr(t, "erased tenant's identity", err, store.ErrNotFound)
	mustGet(f, func(tx store.Tx) (*store.SSOConfig, error) { return tx.SSOConfig(f.ctx, b) })
	mustGet(f, func(tx store.Tx) (*store.SSOIdentity, error) { return tx.SSOIdentity(f.ctx, b, "i", "s") })
}

// testSAMLAssertionExpired: an expired record still refuses its id until
// the sweep removes it (the assertion itself is refused as expired by
// then), and the sweep takes only expired records.
func testSAMLAssertionExpired(f *fx) {
	t := f.t
	now := time.Now()
	var fresh bool
	f.mustWrite(func(tx store.Tx) (err error) {
		fresh, err = tx.ConsumeSAMLAssertion(f.ctx, "org", "old", now.Add(-time.Minute))
		return err
	})
	if !fresh {
		t.Fatal("first consume not fresh")
	}
	f.mustWrite(func(tx store.Tx) (err error) {
		fresh, err = tx.ConsumeSAMLAssertion(f.ctx, "org", "old", now.Add(time.Hour))
		return err
	})
	if fresh {
		t.Error("expired but unswept record accepted again")
	}
	var n int
	f.mustWrite(func(tx store.Tx) (err error) { n, err = tx.SweepSAMLAssertions(f.ctx, now); return err })
	if n != 1 {
		t.Errorf("sweep removed %d, want 1", n)
	}
	f.mustWrite(func(tx store.Tx) (err error) {
		fresh, err = tx.ConsumeSAMLAssertion(f.ctx, "org", "old", now.Add(time.Hour))
		return err
	})
	if !fresh {
		t.Error("swept id still refused")
	}
}
