package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/auth/apikey"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// countingStore is the real SQLite store with a tally of the transactions
// and key/account lookups that pass through it: the work a request does
// in the database, observable without timing it.
type countingStore struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
}

func (s *countingStore) note(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[what]++
}

func (s *countingStore) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n
	s.n = map[string]int{}
	return n
}

func (s *countingStore) Read(ctx context.Context, fn func(store.Tx) error) error {
	s.note("read")
	return s.Store.Read(ctx, func(tx store.Tx) error { return fn(countingTx{tx, s}) })
}

func (s *countingStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	s.note("write")
	return s.Store.Write(ctx, func(tx store.Tx) error { return fn(countingTx{tx, s}) })
}

type countingTx struct {
	store.Tx
	s *countingStore
}

func (t countingTx) APIKey(ctx context.Context, id string) (*store.APIKey, error) {
	t.s.note("api_key")
	return t.Tx.APIKey(ctx, id)
}

func (t countingTx) Account(ctx context.Context, tenantID, id string) (*store.Account, error) {
	t.s.note("account")
	return t.Tx.Account(ctx, tenantID, id)
}

// countingEngine is an engine over a countingStore in a fresh data
// directory, with one tenant; it returns the owner key.
func countingEngine(t testing.TB) (*engine.Engine, *countingStore, string) {
	t.Helper()
	ctx := context.Background()
	var cs *countingStore
	e := testserver.OpenEngineOver(t, t.TempDir(), nil, func(db store.Store) store.Store {
		cs = &countingStore{Store: db, n: map[string]int{}}
		return cs
	})
	nt, err := e.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	// Warm the key ring's caches (the pepper) and the first-use touch.
	if _, err := e.Authenticate(ctx, nt.Key.Secret); err != nil {
		t.Fatal(err)
	}
	cs.take()
	return e, cs, nt.Key.Secret
}

// refusedKeys returns a well-formed key with an unknown id and one with
// the owner's id and a wrong secret.
func refusedKeys(t testing.TB, owner string) (unknownID, wrongSecret string) {
	t.Helper()
	tok, err := apikey.Parse(owner)
	if err != nil {
		t.Fatal(err)
	}
	u, w := tok, tok
	u.ID = "ZZZZZZZZZZZZ"
	w.Secret = "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
	return u.String(), w.String()
}

// TestAuthEqualWork: an unknown key id and a known id with a wrong secret
// cost the same database work (one read transaction, one key lookup, no
// account read, no write), so their response times do not tell which ids
// exist. Before, the wrong secret also read the account and wrote its
// audit entry on the request's path.
func TestAuthEqualWork(t *testing.T) {
	e, cs, owner := countingEngine(t)
	ctx := context.Background()
	unknown, wrong := refusedKeys(t, owner)
	work := func(key string) map[string]int {
		t.Helper()
		if _, err := e.Authenticate(ctx, key); engram.ErrorCode(err) != engram.CodeUnauthenticated {
			t.Fatalf("refused key: %v", err)
		}
		return cs.take()
	}
	u, w := work(unknown), work(wrong)
	if fmt.Sprint(u) != fmt.Sprint(w) {
		t.Fatalf("unknown id did %v, wrong secret did %v: the work differs", u, w)
	}
	if u["write"] != 0 || u["read"] != 1 || u["api_key"] != 1 {
		t.Fatalf("a refused key did %v; want one read with one key lookup and no write", u)
	}
}

// TestAuthFailuresBounded: refusals from more sources than the cap in one
// window still flush to a bounded number of entries, whose counts add up.
func TestAuthFailuresBounded(t *testing.T) {
	e, cs, owner := countingEngine(t)
	ctx := context.Background()
	unknown, _ := refusedKeys(t, owner)
	const max, sources = 40, 100
	engine.SetAuthFailureGroupsForTest(e, max)
	for i := range sources {
		octx := engram.WithOrigin(ctx, engram.Origin{IP: fmt.Sprintf("10.%d.%d.1", i/256, i%256), Transport: "rest", RequestID: "r"})
		if _, err := e.Authenticate(octx, unknown); engram.ErrorCode(err) != engram.CodeUnauthenticated {
			t.Fatal(err)
		}
	}
	cs.take()
	if err := e.FlushAuthFailures(ctx); err != nil {
		t.Fatal(err)
	}
	if n := cs.take()["write"]; n > max+1 {
		t.Fatalf("%d writes for one window, want at most %d", n, max+1)
	}
	var total uint64
	var entries, overflow int
	reps, err := e.VerifyAudit(ctx, "", false)
	if err != nil || reps[0].Problem != nil {
		t.Fatalf("system chain: %v %v", err, reps)
	}
	if err := cs.Store.Read(ctx, func(tx store.Tx) error {
		recs, err := tx.AuditRange(ctx, "", 0, 10*sources)
		for _, r := range recs {
			if r.Entry.Action == engram.AuditAuthFailure {
				entries++
				total += r.Entry.Count
				if r.Entry.IP == "" {
					overflow++
				}
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if entries != max+1 || overflow != 1 || total != sources {
		t.Fatalf("%d entries (%d without a source) counting %d, want %d + 1 counting %d", entries, overflow, total, max, sources)
	}
}
