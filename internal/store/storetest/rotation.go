package storetest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// Key rotation: finding the records sealed under an old subject key version
// and sealing them again.

func (f *fx) historyEntry(tenantID, id string) (*store.History, error) {
	return get(f, func(tx store.Tx) (*store.History, error) { return tx.HistoryEntry(f.ctx, tenantID, id) })
}

func (f *fx) accountRecord(tenantID, id string) (*store.Account, error) {
	return get(f, func(tx store.Tx) (*store.Account, error) { return tx.Account(f.ctx, tenantID, id) })
}

func testHistoryEntry(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	full := &store.History{ID: newID(), TenantID: a, MemoryID: newID(), Subject: "user:u1", KeyVersion: 4,
		Event: string(engram.EventUpdate), Old: sealed("old"), New: sealed("new"), CreatedAt: at(1)}
	bare := &store.History{ID: newID(), TenantID: a, MemoryID: full.MemoryID, Subject: "tenant",
		Event: string(engram.EventDelete), CreatedAt: at(2)}
	f.mustWrite(func(tx store.Tx) error {
		if err := tx.InsertHistory(f.ctx, full); err != nil {
			return err
		}
		return tx.InsertHistory(f.ctx, bare)
	})

	for _, h := range []*store.History{full, bare} {
		got, err := f.historyEntry(a, h.ID)
		if err != nil {
			t.Fatalf("HistoryEntry: %v", err)
		}
		checkEqual(t, "HistoryEntry", got, h)
	}
	if got, _ := f.historyEntry(a, bare.ID); got != nil && (got.Old != nil || got.New != nil) {
		t.Errorf("HistoryEntry: Old, New = %q, %q, want nil", got.Old, got.New)
	}
	_, err := f.historyEntry(b, full.ID)
	wantErr(t, "HistoryEntry of another tenant", err, store.ErrNotFound)
	_, err = f.historyEntry(a, newID())
	wantErr(t, "HistoryEntry(unknown)", err, store.ErrNotFound)
	// A memory id is not a history entry id.
	_, err = f.historyEntry(a, full.MemoryID)
	wantErr(t, "HistoryEntry(memory id)", err, store.ErrNotFound)
}

func testReplaceHistory(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	memID := newID()
	h := &store.History{ID: newID(), TenantID: a, MemoryID: memID, Subject: "s1", KeyVersion: 1,
		Event: string(engram.EventUpdate), Old: sealed("old 1"), New: sealed("new 1"), CreatedAt: at(1)}
	next := &store.History{ID: newID(), TenantID: a, MemoryID: memID, Subject: "s1", KeyVersion: 1,
		Event: string(engram.EventDelete), Old: sealed("new 1"), CreatedAt: at(2)}
	f.mustWrite(func(tx store.Tx) error {
		if err := tx.InsertHistory(f.ctx, h); err != nil {
			return err
		}
		return tx.InsertHistory(f.ctx, next)
	})

	upd := *h
	upd.KeyVersion = 2
	upd.Old = sealed("old 1 under v2")
	upd.New = nil
	// Not rewritten: only the sealed fields and their key version change.
	upd.MemoryID = newID()
	upd.Subject = "s2"
	upd.Event = string(engram.EventAdd)
	upd.CreatedAt = at(99)
	f.mustWrite(func(tx store.Tx) error { return tx.ReplaceHistory(f.ctx, &upd) })
	want := *h
	want.KeyVersion, want.Old, want.New = upd.KeyVersion, upd.Old, nil
	got, err := f.historyEntry(a, h.ID)
	if err != nil {
		t.Fatalf("HistoryEntry after ReplaceHistory: %v", err)
	}
	checkEqual(t, "replaced history entry", got, &want)
	if got.New != nil {
		t.Errorf("New = %q, want nil", got.New)
	}
	hist := mustGet(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, a, memID) })
	checkList(t, "History after ReplaceHistory", hist, []*store.History{&want, next})

	// A failed replace changes nothing, even in a transaction that goes on
	// to commit.
	var errOther, errUnknown error
	f.mustWrite(func(tx store.Tx) error {
		other := want
		other.TenantID = b
		other.KeyVersion, other.Old = 9, sealed("from another tenant")
		errOther = tx.ReplaceHistory(f.ctx, &other)
		unknown := other
		unknown.TenantID, unknown.ID = a, newID()
		errUnknown = tx.ReplaceHistory(f.ctx, &unknown)
		return nil
	})
	wantErr(t, "ReplaceHistory in another tenant", errOther, store.ErrNotFound)
	wantErr(t, "ReplaceHistory(unknown)", errUnknown, store.ErrNotFound)
	hist = mustGet(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, a, memID) })
	checkList(t, "History after failed replaces", hist, []*store.History{&want, next})
	_, err = f.historyEntry(b, h.ID)
	wantErr(t, "HistoryEntry(B) after ReplaceHistory in B", err, store.ErrNotFound)
}

func testReplaceAccount(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	acc := &store.Account{ID: newID(), TenantID: a, Role: "admin", Subject: "s1", KeyVersion: 1,
		Name: sealed("name"), Email: sealed("email"), CreatedAt: at(1)}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateAccount(f.ctx, acc) })
	k := apiKey(a, acc.ID, 1)
	f.mustWrite(func(tx store.Tx) error { return tx.CreateAPIKey(f.ctx, k) })

	upd := *acc
	upd.KeyVersion = 2
	upd.Name = sealed("name under v2")
	upd.Email = nil
	// Not rewritten: only the sealed fields and their key version change.
	upd.Role = "reader"
	upd.Subject = "s2"
	upd.CreatedAt = at(99)
	f.mustWrite(func(tx store.Tx) error { return tx.ReplaceAccount(f.ctx, &upd) })
	want := *acc
	want.KeyVersion, want.Name, want.Email = upd.KeyVersion, upd.Name, nil
	got, err := f.accountRecord(a, acc.ID)
	if err != nil {
		t.Fatalf("Account after ReplaceAccount: %v", err)
	}
	checkEqual(t, "replaced account", got, &want)
	if got.Email != nil {
		t.Errorf("Email = %q, want nil", got.Email)
	}
	gotKey := mustGet(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
	checkEqual(t, "API key of the replaced account", gotKey, k)

	var errOther, errUnknown error
	f.mustWrite(func(tx store.Tx) error {
		other := want
		other.TenantID = b
		other.KeyVersion, other.Name = 9, sealed("from another tenant")
		errOther = tx.ReplaceAccount(f.ctx, &other)
		unknown := other
		unknown.TenantID, unknown.ID = a, newID()
		errUnknown = tx.ReplaceAccount(f.ctx, &unknown)
		return nil
	})
	wantErr(t, "ReplaceAccount in another tenant", errOther, store.ErrNotFound)
	wantErr(t, "ReplaceAccount(unknown)", errUnknown, store.ErrNotFound)
	got, err = f.accountRecord(a, acc.ID)
	if err != nil {
		t.Fatalf("Account after failed replaces: %v", err)
	}
	checkEqual(t, "account after failed replaces", got, &want)
	_, err = f.accountRecord(b, acc.ID)
	wantErr(t, "Account(B) after ReplaceAccount in B", err, store.ErrNotFound)
}

// stale renders a stale record, as staleStrings renders results.
func stale(kind, id, subject string, version int) string {
	return fmt.Sprintf("%s/%s/%s/v%d", kind, id, subject, version)
}

func staleStrings(rs []store.StaleRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = stale(r.Kind, r.ID, r.Subject, r.KeyVersion)
	}
	slices.Sort(out)
	return out
}

// checkStale checks StaleRecords and CountStale of a tenant against the
// records expected (in any order).
func (f *fx) checkStale(what, tenantID string, want ...string) {
	f.t.Helper()
	slices.Sort(want)
	got := mustGet(f, func(tx store.Tx) ([]store.StaleRecord, error) { return tx.StaleRecords(f.ctx, tenantID, 100) })
	if g := staleStrings(got); !slices.Equal(g, want) {
		f.t.Errorf("%s: StaleRecords\n%q\nwant\n%q", what, g, want)
	}
	n := mustGet(f, func(tx store.Tx) (int, error) { return tx.CountStale(f.ctx, tenantID) })
	if n != len(want) {
		f.t.Errorf("%s: CountStale = %d, want %d", what, n, len(want))
	}
}

func (f *fx) countStale(tenantID string) int {
	f.t.Helper()
	return mustGet(f, func(tx store.Tx) (int, error) { return tx.CountStale(f.ctx, tenantID) })
}

func testStaleRecords(f *fx) {
	t := f.t
	a, b, empty := f.tenant(), f.tenant(), f.tenant()
	s := store.PurposeSubject
	f.putKeys(
		// s1's newest version is 3.
		wrappedKey(a, s, "s1", 1), wrappedKey(a, s, "s1", 3), wrappedKey(a, s, "s1", 2),
		// s2 has one version.
		wrappedKey(a, s, "s2", 1),
		// s3 has no subject key in A: a key of another purpose, another
		// tenant or the system does not make its records stale.
		wrappedKey(a, "tenant", "s3", 5),
		wrappedKey(b, s, "s3", 9),
		wrappedKey("", s, "s3", 7),
		wrappedKey("", s, "s2", 7),
		// In B, s1's newest version is 1.
		wrappedKey(b, s, "s1", 1),
	)

	mem := func(tenant, subject string, version, n int) *store.Memory {
		m := memory(tenant, engram.Scope{UserID: "u1"}, n)
		m.Subject, m.KeyVersion = subject, version
		return m
	}
	hist := func(tenant, subject string, version, n int) *store.History {
		return &store.History{ID: newID(), TenantID: tenant, MemoryID: newID(), Subject: subject,
			KeyVersion: version, Event: string(engram.EventAdd), New: sealed("history %d", n), CreatedAt: at(n)}
	}
	acct := func(tenant, subject string, version int) *store.Account {
		return &store.Account{ID: newID(), TenantID: tenant, Role: "reader", Subject: subject,
			KeyVersion: version, Name: sealed("name"), CreatedAt: base}
	}
	m1, m2, m3 := mem(a, "s1", 1, 1), mem(a, "s1", 3, 2), mem(a, "s1", 2, 3)
	m4, m5, m6 := mem(a, "s2", 1, 4), mem(a, "s3", 1, 5), mem(a, "s3", 0, 6)
	mb1, mb2 := mem(b, "s1", 1, 7), mem(b, "s3", 1, 8)
	h1, h2, h3, h4 := hist(a, "s1", 2, 1), hist(a, "s1", 3, 2), hist(a, "s2", 1, 3), hist(a, "s3", 1, 4)
	hb := hist(b, "s1", 1, 5)
	acc1, acc2, acc3 := acct(a, "s1", 1), acct(a, "s2", 1), acct(a, "s3", 0)
	accB := acct(b, "s3", 2)
	f.insert(nil, m1, m2, m3, m4, m5, m6, mb1, mb2)
	f.mustWrite(func(tx store.Tx) error {
		for _, h := range []*store.History{h1, h2, h3, h4, hb} {
			if err := tx.InsertHistory(f.ctx, h); err != nil {
				return err
			}
		}
		for _, acc := range []*store.Account{acc1, acc2, acc3, accB} {
			if err := tx.CreateAccount(f.ctx, acc); err != nil {
				return err
			}
		}
		return nil
	})

	staleA := []string{
		stale("memory", m1.ID, "s1", 1),
		stale("memory", m3.ID, "s1", 2),
		stale("history", h1.ID, "s1", 2),
		stale("account", acc1.ID, "s1", 1),
	}
	staleB := []string{
		stale("memory", mb2.ID, "s3", 1),
		stale("account", accB.ID, "s3", 2),
	}
	f.checkStale("tenant A", a, staleA...)
	f.checkStale("tenant B", b, staleB...)
	f.checkStale("tenant without records", empty)
	if n := f.countStale(""); n != len(staleA)+len(staleB) {
		t.Errorf("CountStale(every tenant) = %d, want %d", n, len(staleA)+len(staleB))
	}

	// The limit: a batch of exactly limit records, each stale, none twice.
	for limit := 1; limit <= len(staleA)+1; limit++ {
		got := mustGet(f, func(tx store.Tx) ([]store.StaleRecord, error) { return tx.StaleRecords(f.ctx, a, limit) })
		if want := min(limit, len(staleA)); len(got) != want {
			t.Errorf("StaleRecords(limit %d): %d records, want %d", limit, len(got), want)
		}
		g := staleStrings(got)
		if len(slices.Compact(slices.Clone(g))) != len(g) {
			t.Errorf("StaleRecords(limit %d): a record twice: %q", limit, g)
		}
		for _, r := range g {
			if !slices.Contains(staleA, r) {
				t.Errorf("StaleRecords(limit %d): %s is not stale in A", limit, r)
			}
		}
	}

	// Sealing records again under the newest version makes them current.
	f.mustWrite(func(tx store.Tx) error {
		m := *m1
		m.KeyVersion, m.Content = 3, sealed("content 1 under v3")
		h := *h1
		h.KeyVersion, h.New = 3, sealed("history 1 under v3")
		acc := *acc1
		acc.KeyVersion, acc.Name = 3, sealed("name under v3")
		return errors.Join(
			tx.UpdateMemory(f.ctx, &m, nil),
			tx.ReplaceHistory(f.ctx, &h),
			tx.ReplaceAccount(f.ctx, &acc),
		)
	})
	f.checkStale("tenant A after resealing", a, stale("memory", m3.ID, "s1", 2))
	f.checkStale("tenant B after A's resealing", b, staleB...)

	// A new version of s2's key makes every record of s2 stale.
	f.putKeys(wrappedKey(a, s, "s2", 2))
	f.checkStale("tenant A after rotating s2", a,
		stale("memory", m3.ID, "s1", 2),
		stale("memory", m4.ID, "s2", 1),
		stale("history", h3.ID, "s2", 1),
		stale("account", acc2.ID, "s2", 1),
	)
	f.checkStale("tenant B after A's rotation", b, staleB...)
	if n := f.countStale(""); n != 4+len(staleB) {
		t.Errorf("CountStale(every tenant) after rotation = %d, want %d", n, 4+len(staleB))
	}
}
