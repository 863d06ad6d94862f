package storetest

import (
	"errors"
	"fmt"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// records is a set of stored records, to check they are all still there or
// all gone.
type records struct {
	memories []*store.Memory
	history  []*store.History
	keys     []*store.WrappedKey
	accounts []*store.Account
	apiKeys  []*store.APIKey
	idem     []*store.Idempotency
	keks     []*store.TenantKEK
}

func (f *fx) insertHistory(hs ...*store.History) {
	f.t.Helper()
	f.mustWrite(func(tx store.Tx) error {
		for _, h := range hs {
			if err := tx.InsertHistory(f.ctx, h); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkPresent fails unless every record is stored as given.
func (f *fx) checkPresent(what string, r *records) {
	f.t.Helper()
	t := f.t
	for _, m := range r.memories {
		got, err := f.memory(m.TenantID, m.ID)
		if err != nil {
			t.Errorf("%s: Memory: %v", what, err)
			continue
		}
		checkEqual(t, what+": Memory", got, m)
	}
	for _, h := range r.history {
		got, err := f.historyEntry(h.TenantID, h.ID)
		if err != nil {
			t.Errorf("%s: HistoryEntry: %v", what, err)
			continue
		}
		checkEqual(t, what+": HistoryEntry", got, h)
	}
	f.checkKeys(what+": Key", r.keys...)
	for _, a := range r.accounts {
		got, err := f.accountRecord(a.TenantID, a.ID)
		if err != nil {
			t.Errorf("%s: Account: %v", what, err)
			continue
		}
		checkEqual(t, what+": Account", got, a)
	}
	for _, k := range r.apiKeys {
		got, err := get(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
		if err != nil {
			t.Errorf("%s: APIKey: %v", what, err)
			continue
		}
		checkEqual(t, what+": APIKey", got, k)
	}
	for _, i := range r.idem {
		got, err := get(f, func(tx store.Tx) (*store.Idempotency, error) {
			return tx.Idempotency(f.ctx, i.TenantID, i.Principal, i.Key)
		})
		if err != nil {
			t.Errorf("%s: Idempotency: %v", what, err)
			continue
		}
		checkEqual(t, what+": Idempotency", got, i)
	}
	for _, k := range r.keks {
		got, err := get(f, func(tx store.Tx) (*store.TenantKEK, error) { return tx.TenantKEK(f.ctx, k.TenantID) })
		if err != nil {
			t.Errorf("%s: TenantKEK: %v", what, err)
			continue
		}
		checkEqual(t, what+": TenantKEK", got, k)
	}
}

// checkGone fails unless no record is found, by any of the ways to look it
// up.
func (f *fx) checkGone(what string, r *records) {
	f.t.Helper()
	t := f.t
	for _, m := range r.memories {
		_, err := f.memory(m.TenantID, m.ID)
		wantErr(t, what+": Memory", err, store.ErrNotFound)
		got := mustGet(f, func(tx store.Tx) ([]store.Memory, error) { return tx.Memories(f.ctx, m.TenantID, []string{m.ID}) })
		if len(got) != 0 {
			t.Errorf("%s: Memories: %q", what, ids(got))
		}
		_, err = get(f, func(tx store.Tx) (*store.Memory, error) {
			return tx.MemoryByMAC(f.ctx, m.TenantID, engram.Scope{UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID}, m.ContentMAC)
		})
		wantErr(t, what+": MemoryByMAC", err, store.ErrNotFound)
	}
	for _, h := range r.history {
		_, err := f.historyEntry(h.TenantID, h.ID)
		wantErr(t, what+": HistoryEntry", err, store.ErrNotFound)
		hs := mustGet(f, func(tx store.Tx) ([]store.History, error) { return tx.History(f.ctx, h.TenantID, h.MemoryID) })
		for _, e := range hs {
			if e.ID == h.ID {
				t.Errorf("%s: History(%s) still lists %s", what, h.MemoryID, h.ID)
			}
		}
	}
	f.checkNoKeys(what, r.keys...)
	for _, k := range r.keys {
		_, err := get(f, func(tx store.Tx) (*store.WrappedKey, error) {
			return tx.LatestKey(f.ctx, k.TenantID, k.Purpose, k.Owner)
		})
		wantErr(t, fmt.Sprintf("%s: LatestKey(%s, %s)", what, k.Purpose, k.Owner), err, store.ErrNotFound)
	}
	for _, a := range r.accounts {
		_, err := f.accountRecord(a.TenantID, a.ID)
		wantErr(t, what+": Account", err, store.ErrNotFound)
	}
	for _, k := range r.apiKeys {
		// Looked up by id alone, as authentication does.
		_, err := get(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
		wantErr(t, what+": APIKey", err, store.ErrNotFound)
	}
	for _, i := range r.idem {
		_, err := get(f, func(tx store.Tx) (*store.Idempotency, error) {
			return tx.Idempotency(f.ctx, i.TenantID, i.Principal, i.Key)
		})
		wantErr(t, what+": Idempotency", err, store.ErrNotFound)
	}
	for _, k := range r.keks {
		_, err := get(f, func(tx store.Tx) (*store.TenantKEK, error) { return tx.TenantKEK(f.ctx, k.TenantID) })
		wantErr(t, what+": TenantKEK", err, store.ErrNotFound)
	}
}

// subjectFixture stores, in tenants a and b, records of subject s1 (gone
// once s1 of a is erased) and of others (kept).
type subjectFixture struct {
	a, b       string
	gone, kept records
	// The memories of a kept and their postings of "w": erasing s1 leaves
	// these alone in a's search index, and b's index untouched.
	keptA, keptB []*store.Memory
}

func (f *fx) subjectFixture() *subjectFixture {
	f.t.Helper()
	a, b := f.tenant(), f.tenant()
	s := store.PurposeSubject
	mem := func(tenant, subject string, n int) *store.Memory {
		m := memory(tenant, engram.Scope{UserID: "u1"}, n)
		m.Subject, m.KeyVersion = subject, 1
		return m
	}
	hist := func(tenant, memoryID, subject string, n int) *store.History {
		return &store.History{ID: newID(), TenantID: tenant, MemoryID: memoryID, Subject: subject, KeyVersion: 1,
			Event: string(engram.EventAdd), New: sealed("history %d", n), CreatedAt: at(n)}
	}
	fx := &subjectFixture{a: a, b: b}
	gone1, gone2 := mem(a, "s1", 1), mem(a, "s1", 2)
	kept, tenantWide, theirs := mem(a, "s2", 3), mem(a, "tenant", 4), mem(b, "s1", 5)
	f.insert([]store.Posting{posting("w", 1), posting("x", 2)}, gone1, gone2)
	f.insert([]store.Posting{posting("w", 3)}, kept, tenantWide, theirs)
	fx.keptA, fx.keptB = []*store.Memory{kept, tenantWide}, []*store.Memory{theirs}

	fx.gone = records{
		memories: []*store.Memory{gone1, gone2},
		history: []*store.History{hist(a, gone1.ID, "s1", 1), hist(a, gone2.ID, "s1", 2),
			// The history of a memory deleted earlier is the subject's too.
			hist(a, newID(), "s1", 3)},
		keys: []*store.WrappedKey{wrappedKey(a, s, "s1", 1), wrappedKey(a, s, "s1", 2)},
	}
	acc := &store.Account{ID: newID(), TenantID: a, Role: "reader", Subject: "s2", KeyVersion: 1,
		Name: sealed("name"), CreatedAt: base}
	fx.kept = records{
		memories: []*store.Memory{kept, tenantWide, theirs},
		history:  []*store.History{hist(a, kept.ID, "s2", 4), hist(a, tenantWide.ID, "tenant", 5), hist(b, theirs.ID, "s1", 6)},
		keys: []*store.WrappedKey{
			wrappedKey(a, s, "s2", 1),
			wrappedKey(a, "tenant", "", 1),
			// Owners name subjects only for the subject purpose.
			wrappedKey(a, "tenant", "s1", 1),
			wrappedKey(b, s, "s1", 1),
			wrappedKey("", s, "s1", 1),
		},
		accounts: []*store.Account{acc},
		idem: []*store.Idempotency{{TenantID: a, Principal: "p", Key: "k", RequestHash: sealed("h"),
			Result: []byte("[]"), CreatedAt: base}},
	}
	f.insertHistory(append(fx.gone.history, fx.kept.history...)...)
	f.putKeys(append(fx.gone.keys, fx.kept.keys...)...)
	f.mustWrite(func(tx store.Tx) error {
		return errors.Join(tx.CreateAccount(f.ctx, acc), tx.PutIdempotency(f.ctx, fx.kept.idem[0]))
	})
	return fx
}

func testDeleteSubject(f *fx) {
	t := f.t
	fx := f.subjectFixture()
	a, b := fx.a, fx.b

	var e *store.Erasure
	f.mustWrite(func(tx store.Tx) error {
		var err error
		e, err = tx.DeleteSubject(f.ctx, a, "s1")
		return err
	})
	checkEqual(t, "Erasure", e, &store.Erasure{Memories: 2, History: 3, Keys: 2})

	f.checkGone("erased subject", &fx.gone)
	f.checkPresent("other subjects and tenants", &fx.kept)
	checkList(t, "Keys(A) after erasure", f.keys(a, store.PurposeSubject), []*store.WrappedKey{fx.kept.keys[0]})
	f.checkPostings("A's postings after erasure", f.search(a, engram.Scope{}, "w", "x"),
		2, int64(fx.keptA[0].DocLen+fx.keptA[1].DocLen),
		match(fx.keptA[0], "w", 3), match(fx.keptA[1], "w", 3))
	f.checkPostings("B's postings after A's erasure", f.search(b, engram.Scope{}, "w", "x"),
		1, int64(fx.keptB[0].DocLen), match(fx.keptB[0], "w", 3))
	f.checkStale("A after erasure", a)
}

// testDeleteSubjectRollsBack erases a subject in a transaction that fails:
// nothing is erased.
func testDeleteSubjectRollsBack(f *fx) {
	fx := f.subjectFixture()
	boom := errors.New("boom")
	err := f.write(func(tx store.Tx) error {
		if _, err := tx.DeleteSubject(f.ctx, fx.a, "s1"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		f.t.Fatalf("Write = %v, want fn's error", err)
	}
	f.checkPresent("subject after a rolled back erasure", &fx.gone)
	f.checkPresent("others after a rolled back erasure", &fx.kept)
	f.checkPostings("postings after a rolled back erasure", f.search(fx.a, engram.Scope{}, "x"),
		4, int64(fx.gone.memories[0].DocLen+fx.gone.memories[1].DocLen+fx.keptA[0].DocLen+fx.keptA[1].DocLen),
		match(fx.gone.memories[0], "x", 2), match(fx.gone.memories[1], "x", 2))
}

// populate creates a tenant named name holding one or more records of every
// kind, with postings of "w".
func (f *fx) populate(name string) (*store.Tenant, *records) {
	f.t.Helper()
	tn := &store.Tenant{ID: newID(), Name: name, CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateTenant(f.ctx, tn) })
	s := store.PurposeSubject
	m1, m2 := memory(tn.ID, engram.Scope{UserID: "u1"}, 1), memory(tn.ID, engram.Scope{}, 2)
	m1.Subject = "s1"
	r := &records{
		memories: []*store.Memory{m1, m2},
		keys:     []*store.WrappedKey{wrappedKey(tn.ID, "tenant", "", 1), wrappedKey(tn.ID, s, "s1", 1), wrappedKey(tn.ID, s, "s1", 2)},
		idem: []*store.Idempotency{{TenantID: tn.ID, Principal: "p", Key: "k", RequestHash: sealed("h"),
			Result: []byte("[]"), CreatedAt: base}},
		keks: []*store.TenantKEK{{TenantID: tn.ID, Provider: "vault", Config: sealed("config %s", name), CreatedAt: base}},
	}
	for i, m := range r.memories {
		r.history = append(r.history, &store.History{ID: newID(), TenantID: tn.ID, MemoryID: m.ID, Subject: m.Subject,
			KeyVersion: m.KeyVersion, Event: string(engram.EventAdd), New: m.Content, CreatedAt: at(i)})
	}
	r.history = append(r.history, &store.History{ID: newID(), TenantID: tn.ID, MemoryID: m1.ID, Subject: m1.Subject,
		KeyVersion: m1.KeyVersion, Event: string(engram.EventDelete), Old: m1.Content, CreatedAt: at(9)})
	for i := range 2 {
		acc := &store.Account{ID: newID(), TenantID: tn.ID, Role: "admin", Subject: "s1", KeyVersion: 1,
			Name: sealed("name %d", i), Email: sealed("email %d", i), CreatedAt: base}
		r.accounts = append(r.accounts, acc)
		r.apiKeys = append(r.apiKeys, apiKey(tn.ID, acc.ID, i))
	}
	f.insert([]store.Posting{posting("w", 1)}, r.memories...)
	f.insertHistory(r.history...)
	f.putKeys(r.keys...)
	f.mustWrite(func(tx store.Tx) error {
		var errs []error
		for i := range r.accounts {
			errs = append(errs, tx.CreateAccount(f.ctx, r.accounts[i]), tx.CreateAPIKey(f.ctx, r.apiKeys[i]))
		}
		errs = append(errs, tx.PutIdempotency(f.ctx, r.idem[0]), tx.PutTenantKEK(f.ctx, r.keks[0]))
		return errors.Join(errs...)
	})
	return tn, r
}

func testDeleteTenant(f *fx) {
	t := f.t
	a, gone := f.populate("alpha")
	b, kept := f.populate("bravo")
	sys := wrappedKey("", "pepper", "", 1)
	f.putKeys(sys)
	kept.keys = append(kept.keys, sys)

	var e *store.Erasure
	f.mustWrite(func(tx store.Tx) error {
		var err error
		e, err = tx.DeleteTenant(f.ctx, a.ID)
		return err
	})
	checkEqual(t, "Erasure", e, &store.Erasure{Memories: 2, History: 3, Keys: 3, Accounts: 2, APIKeys: 2})

	_, err := get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.Tenant(f.ctx, a.ID) })
	wantErr(t, "Tenant after DeleteTenant", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, a.Name) })
	wantErr(t, "TenantByName after DeleteTenant", err, store.ErrNotFound)
	tenants := mustGet(f, func(tx store.Tx) ([]store.Tenant, error) { return tx.ListTenants(f.ctx) })
	checkList(t, "ListTenants after DeleteTenant", tenants, []*store.Tenant{b})
	f.checkGone("erased tenant", gone)
	f.mustRead(func(tx store.Tx) error {
		for _, purpose := range []string{"tenant", store.PurposeSubject} {
			if ks, err := tx.Keys(f.ctx, a.ID, purpose); err != nil || len(ks) != 0 {
				t.Errorf("Keys(%s) of the erased tenant = %d keys, %v; want none", purpose, len(ks), err)
			}
		}
		if ks, err := tx.ListAPIKeys(f.ctx, a.ID); err != nil || len(ks) != 0 {
			t.Errorf("ListAPIKeys of the erased tenant = %d keys, %v; want none", len(ks), err)
		}
		if ms, err := tx.ListMemories(f.ctx, a.ID, engram.Scope{}, "", 10); err != nil || len(ms) != 0 {
			t.Errorf("ListMemories of the erased tenant = %d memories, %v; want none", len(ms), err)
		}
		return nil
	})
	f.checkPostings("postings of the erased tenant", f.search(a.ID, engram.Scope{}, "w"), 0, 0)
	f.checkStale("erased tenant", a.ID)

	f.checkPresent("the other tenant", kept)
	gotB := mustGet(f, func(tx store.Tx) (*store.Tenant, error) { return tx.Tenant(f.ctx, b.ID) })
	checkEqual(t, "the other tenant", gotB, b)
	f.checkPostings("postings of the other tenant", f.search(b.ID, engram.Scope{}, "w"),
		2, int64(kept.memories[0].DocLen+kept.memories[1].DocLen),
		match(kept.memories[0], "w", 1), match(kept.memories[1], "w", 1))

	for _, c := range []struct{ what, id string }{{"twice", a.ID}, {"unknown", newID()}} {
		err := f.write(func(tx store.Tx) error {
			_, err := tx.DeleteTenant(f.ctx, c.id)
			return err
		})
		wantErr(t, "DeleteTenant("+c.what+")", err, store.ErrNotFound)
	}

	// The name is free again.
	again := &store.Tenant{ID: newID(), Name: a.Name, CreatedAt: at(1)}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateTenant(f.ctx, again) })
}
