package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// waitLimit bounds every wait in these tests, so that a store that blocks
// fails the test instead of hanging it.
const waitLimit = 10 * time.Second

func testWriteRollsBackOnError(f *fx) {
	t := f.t
	a := f.tenant()
	boom := errors.New("boom")
	tn := &store.Tenant{ID: newID(), Name: "rolled back", CreatedAt: base}
	m := memory(a, engram.Scope{UserID: "u1"}, 1)
	err := f.write(func(tx store.Tx) error {
		if err := tx.CreateTenant(f.ctx, tn); err != nil {
			return err
		}
		if err := tx.InsertMemory(f.ctx, m, []store.Posting{posting("w", 1)}); err != nil {
			return err
		}
		return fmt.Errorf("later step: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want fn's error", err)
	}
	f.checkRolledBack(tn, m)
}

func testWriteRollsBackOnPanic(f *fx) {
	t := f.t
	a := f.tenant()
	tn := &store.Tenant{ID: newID(), Name: "rolled back", CreatedAt: base}
	m := memory(a, engram.Scope{UserID: "u1"}, 1)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the panic of fn", p)
			}
		}()
		_ = f.write(func(tx store.Tx) error {
			if err := tx.CreateTenant(f.ctx, tn); err != nil {
				return err
			}
			if err := tx.InsertMemory(f.ctx, m, []store.Posting{posting("w", 1)}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	f.checkRolledBack(tn, m)

	// The panic must not have kept the transaction, or its connection.
	ctx, cancel := context.WithTimeout(f.ctx, waitLimit)
	defer cancel()
	if err := f.s.Write(ctx, func(tx store.Tx) error { return tx.CreateTenant(ctx, tn) }); err != nil {
		t.Fatalf("Write after a panic: %v", err)
	}
}

// checkRolledBack fails unless neither tn nor m (nor m's postings) exist.
func (f *fx) checkRolledBack(tn *store.Tenant, m *store.Memory) {
	f.t.Helper()
	_, err := get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.Tenant(f.ctx, tn.ID) })
	wantErr(f.t, "Tenant after rollback", err, store.ErrNotFound)
	_, err = get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, tn.Name) })
	wantErr(f.t, "TenantByName after rollback", err, store.ErrNotFound)
	_, err = f.memory(m.TenantID, m.ID)
	wantErr(f.t, "Memory after rollback", err, store.ErrNotFound)
	f.checkPostings("postings after rollback", f.search(m.TenantID, engram.Scope{}, "w"), 0, 0)
}

func testReadIsReadOnly(f *fx) {
	tn := &store.Tenant{ID: newID(), Name: "read only", CreatedAt: base}
	err := f.s.Read(f.ctx, func(tx store.Tx) error { return tx.CreateTenant(f.ctx, tn) })
	if err == nil {
		f.t.Errorf("CreateTenant in Read succeeded")
	}
	_, err = get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.Tenant(f.ctx, tn.ID) })
	wantErr(f.t, "Tenant written in Read", err, store.ErrNotFound)
}

// testReadBesideWrite holds a write transaction open while reading: the read
// must neither wait for the write nor see what it has not committed.
func testReadBesideWrite(f *fx) {
	t := f.t
	tn := &store.Tenant{ID: newID(), Name: "in flight", CreatedAt: base}
	written, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.s.Write(f.ctx, func(tx store.Tx) error {
			err := tx.CreateTenant(f.ctx, tn)
			close(written)
			<-release
			return err
		})
	}()
	select {
	case <-written:
	case err := <-done:
		t.Fatalf("Write: %v", err)
	}

	ctx, cancel := context.WithTimeout(f.ctx, waitLimit)
	err := f.s.Read(ctx, func(tx store.Tx) error {
		_, err := tx.TenantByName(ctx, tn.Name)
		return err
	})
	cancel()
	close(release)
	wantErr(t, "TenantByName during the write", err, store.ErrNotFound)
	if err := <-done; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if _, err := get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, tn.Name) }); err != nil {
		t.Errorf("TenantByName after the write: %v", err)
	}
}

func testConcurrentWrites(f *fx) {
	const writers, writes = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				tn := &store.Tenant{ID: newID(), Name: fmt.Sprintf("w%d-%d", w, i), CreatedAt: base}
				errs <- f.write(func(tx store.Tx) error {
					if err := tx.CreateTenant(f.ctx, tn); err != nil {
						return err
					}
					// Read-then-write inside one transaction must not
					// fail because another writer went first.
					if _, err := tx.TenantByName(f.ctx, tn.Name); err != nil {
						return err
					}
					return tx.InsertMemory(f.ctx, memory(tn.ID, engram.Scope{}, i), []store.Posting{posting("w", 1)})
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			f.t.Errorf("concurrent Write: %v", err)
		}
	}
	for w := range writers {
		for i := range writes {
			name := fmt.Sprintf("w%d-%d", w, i)
			if _, err := get(f, func(tx store.Tx) (*store.Tenant, error) { return tx.TenantByName(f.ctx, name) }); err != nil {
				f.t.Errorf("TenantByName(%s): %v", name, err)
			}
		}
	}
}

// testTenantIsolation reads every kind of record of tenant A with tenant B's
// id: each answer is ErrNotFound or empty, and no write from B touches A.
func testTenantIsolation(f *fx) {
	t := f.t
	a, b := f.tenant(), f.tenant()
	acc := f.account(a)
	k := apiKey(a, acc, 1)
	wk := &store.WrappedKey{TenantID: a, Purpose: "tenant", Version: 1, Wrapped: sealed("key"), CreatedAt: base}
	scope := engram.Scope{UserID: "u1", AgentID: "a1", RunID: "r1"}
	m := memory(a, scope, 1)
	h := &store.History{ID: newID(), TenantID: a, MemoryID: m.ID, Subject: "tenant",
		Event: string(engram.EventAdd), New: m.Content, CreatedAt: base}
	idem := &store.Idempotency{TenantID: a, Principal: "p", Key: "k", RequestHash: sealed("h"), Result: []byte("[]"), CreatedAt: base}
	kek := &store.TenantKEK{TenantID: a, Provider: "vault", Config: sealed("config"), CreatedAt: base}
	// Stale records: the subject key of the memory, history entry and
	// account has a newer version than theirs.
	sk := &store.WrappedKey{TenantID: a, Purpose: store.PurposeSubject, Owner: m.Subject, Version: m.KeyVersion + 1,
		Wrapped: sealed("subject key"), CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error {
		return errors.Join(
			tx.CreateAPIKey(f.ctx, k),
			tx.PutKey(f.ctx, wk),
			tx.PutKey(f.ctx, sk),
			tx.InsertMemory(f.ctx, m, []store.Posting{posting("w", 1)}),
			tx.InsertHistory(f.ctx, h),
			tx.PutIdempotency(f.ctx, idem),
			tx.PutTenantKEK(f.ctx, kek),
		)
	})
	account := mustGet(f, func(tx store.Tx) (*store.Account, error) { return tx.Account(f.ctx, a, acc) })

	notFound := map[string]func(tx store.Tx) error{
		"Account": func(tx store.Tx) error { _, err := tx.Account(f.ctx, b, acc); return err },
		"Key":     func(tx store.Tx) error { _, err := tx.Key(f.ctx, b, wk.Purpose, wk.Owner, wk.Version); return err },
		"LatestKey": func(tx store.Tx) error {
			_, err := tx.LatestKey(f.ctx, b, wk.Purpose, wk.Owner)
			return err
		},
		"Memory": func(tx store.Tx) error { _, err := tx.Memory(f.ctx, b, m.ID); return err },
		"MemoryByMAC": func(tx store.Tx) error {
			_, err := tx.MemoryByMAC(f.ctx, b, scope, m.ContentMAC)
			return err
		},
		"Idempotency":  func(tx store.Tx) error { _, err := tx.Idempotency(f.ctx, b, idem.Principal, idem.Key); return err },
		"HistoryEntry": func(tx store.Tx) error { _, err := tx.HistoryEntry(f.ctx, b, h.ID); return err },
		"TenantKEK":    func(tx store.Tx) error { _, err := tx.TenantKEK(f.ctx, b); return err },
	}
	for name, fn := range notFound {
		wantErr(t, name+" with another tenant's id", f.s.Read(f.ctx, fn), store.ErrNotFound)
	}

	f.mustRead(func(tx store.Tx) error {
		keys, err := tx.ListAPIKeys(f.ctx, b)
		if err != nil || len(keys) != 0 {
			t.Errorf("ListAPIKeys(B) = %d keys, %v; want none", len(keys), err)
		}
		ms, err := tx.Memories(f.ctx, b, []string{m.ID})
		if err != nil || len(ms) != 0 {
			t.Errorf("Memories(B) = %d memories, %v; want none", len(ms), err)
		}
		ms, err = tx.ListMemories(f.ctx, b, engram.Scope{}, "", 10)
		if err != nil || len(ms) != 0 {
			t.Errorf("ListMemories(B) = %d memories, %v; want none", len(ms), err)
		}
		hs, err := tx.History(f.ctx, b, m.ID)
		if err != nil || len(hs) != 0 {
			t.Errorf("History(B) = %d entries, %v; want none", len(hs), err)
		}
		p, err := tx.SearchPostings(f.ctx, b, engram.Scope{}, [][]byte{tok("w")})
		if err != nil || p.Docs != 0 || p.TotalLen != 0 || len(p.Matches) != 0 {
			t.Errorf("SearchPostings(B) = %+v, %v; want nothing", p, err)
		}
		for _, purpose := range []string{wk.Purpose, sk.Purpose} {
			ks, err := tx.Keys(f.ctx, b, purpose)
			if err != nil || len(ks) != 0 {
				t.Errorf("Keys(B, %s) = %d keys, %v; want none", purpose, len(ks), err)
			}
		}
		rs, err := tx.StaleRecords(f.ctx, b, 10)
		if err != nil || len(rs) != 0 {
			t.Errorf("StaleRecords(B) = %d records, %v; want none", len(rs), err)
		}
		n, err := tx.CountStale(f.ctx, b)
		if err != nil || n != 0 {
			t.Errorf("CountStale(B) = %d, %v; want 0", n, err)
		}
		return nil
	})

	var (
		errs    []error
		erasure *store.Erasure
	)
	f.mustWrite(func(tx store.Tx) error {
		other := *m
		other.TenantID = b
		otherKey := *wk
		otherKey.TenantID, otherKey.Wrapped = b, sealed("intruder")
		otherHist := *h
		otherHist.TenantID, otherHist.New = b, sealed("intruder")
		otherAcc := *account
		otherAcc.TenantID, otherAcc.Name = b, sealed("intruder")
		errs = append(errs,
			tx.RevokeAPIKey(f.ctx, b, k.ID, base),
			tx.UpdateMemory(f.ctx, &other, nil),
			tx.DeleteMemory(f.ctx, b, m.ID),
			tx.UpdateKey(f.ctx, &otherKey),
			tx.DeleteKey(f.ctx, b, wk.Purpose, wk.Owner, wk.Version),
			tx.ReplaceHistory(f.ctx, &otherHist),
			tx.ReplaceAccount(f.ctx, &otherAcc),
		)
		var err error
		erasure, err = tx.DeleteSubject(f.ctx, b, m.Subject)
		return err
	})
	for i, err := range errs {
		wantErr(t, fmt.Sprintf("write %d with another tenant's id", i), err, store.ErrNotFound)
	}
	checkEqual(t, "DeleteSubject in another tenant", erasure, &store.Erasure{})
	gotKey := mustGet(f, func(tx store.Tx) (*store.APIKey, error) { return tx.APIKey(f.ctx, k.ID) })
	checkEqual(t, "APIKey after B's revoke", gotKey, k)
	gotMem, err := f.memory(a, m.ID)
	if err != nil {
		t.Fatalf("Memory after B's writes: %v", err)
	}
	checkEqual(t, "Memory after B's writes", gotMem, m)
	f.checkPostings("postings after B's writes", f.search(a, scope, "w"), 1, int64(m.DocLen), match(m, "w", 1))
	f.checkPresent("A's records after B's writes", &records{
		history:  []*store.History{h},
		keys:     []*store.WrappedKey{wk, sk},
		accounts: []*store.Account{account},
		keks:     []*store.TenantKEK{kek},
	})
	f.checkStale("A after B's writes", a,
		stale("memory", m.ID, m.Subject, m.KeyVersion),
		stale("history", h.ID, h.Subject, h.KeyVersion),
		stale("account", account.ID, account.Subject, account.KeyVersion))
}
