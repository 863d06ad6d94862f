package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// handles opens n store handles on one new database (n nodes) and a plain
// connection pool on it, for looking at pg_locks.
func handles(t *testing.T, n int) ([]*postgres.DB, *sql.DB) {
	t.Helper()
	dsn := postgrestest.NewDatabase(t)
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		db, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return dbs, raw
}

// appendEntry appends the next entry to tenant's audit chain, reading its
// head first: two unserialised appends would take the same seq.
func appendEntry(ctx context.Context, tx store.Tx, tenant string) error {
	var seq uint64
	h, err := tx.AuditHead(ctx, tenant)
	switch {
	case err == nil:
		seq = h.Seq
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	seq++
	r := &store.AuditRecord{Entry: engram.AuditEntry{TenantID: tenant, Seq: seq, Time: time.Now(),
		Action: "memory.add", Outcome: "success"}, KeyVersion: 1, MAC: []byte("mac")}
	return tx.AppendAudit(ctx, r, &store.AuditHead{TenantID: tenant, Seq: seq, MAC: []byte("mac"),
		KeyVersion: 1, HeadMAC: []byte("head")})
}

func head(t *testing.T, db *postgres.DB, tenant string) uint64 {
	t.Helper()
	var seq uint64
	if err := db.Read(t.Context(), func(tx store.Tx) error {
		h, err := tx.AuditHead(t.Context(), tenant)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		seq = h.Seq
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return seq
}

func createTenants(t *testing.T, db *postgres.DB, names ...string) []string {
	t.Helper()
	ids := make([]string, len(names))
	if err := db.Write(t.Context(), func(tx store.Tx) error {
		for i, name := range names {
			ids[i] = newID()
			if err := tx.CreateTenant(t.Context(), &store.Tenant{ID: ids[i], Name: name, CreatedAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// waitForLockWaiters waits until n transactions of the database wait for an
// advisory lock (pg_locks), and fails the test if that does not happen.
func waitForLockWaiters(t *testing.T, raw *sql.DB, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var k int
		if err := raw.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions wait for an advisory lock, want %d", k, n)
		}
	}
}

// result runs fn in a Write on db in the background and returns where its
// error will arrive.
func result(ctx context.Context, db *postgres.DB, fn func(store.Tx) error) <-chan error {
	c := make(chan error, 1)
	go func() { c <- db.Write(ctx, fn) }()
	return c
}

func await(t *testing.T, c <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still waiting after 20 s", what)
		return nil
	}
}

// TestTenantLocks: while a write transaction of tenant A is open (it has
// read A's audit head and waits before appending), on another handle — a
// second node — a write of tenant B and one of the system chain commit;
// a second write of tenant A waits for the first and then appends after it
// (seq 2, not a fork of seq 1); a cross-tenant write (a new tenant) waits
// for every tenant writer.
func TestTenantLocks(t *testing.T) {
	dbs, raw := handles(t, 2)
	ctx := t.Context()
	ids := createTenants(t, dbs[0], "a", "b")
	a, b := ids[0], ids[1]

	locked, release := make(chan struct{}), make(chan struct{})
	first := result(ctx, dbs[0], func(tx store.Tx) error {
		h, err := tx.AuditHead(ctx, a)
		if err != nil && !errors.Is(err, store.ErrNotFound) || h != nil {
			return fmt.Errorf("head of a new chain: %v, %v", h, err)
		}
		close(locked)
		<-release
		return appendEntry(ctx, tx, a)
	})
	<-locked

	// Another tenant, and the system chain, go ahead.
	if err := await(t, result(ctx, dbs[1], func(tx store.Tx) error { return appendEntry(ctx, tx, b) }), "tenant b's write"); err != nil {
		t.Fatalf("tenant b's write: %v", err)
	}
	if err := await(t, result(ctx, dbs[1], func(tx store.Tx) error { return appendEntry(ctx, tx, "") }), "the system chain's write"); err != nil {
		t.Fatalf("the system chain's write: %v", err)
	}
	// The same tenant waits, and so does a cross-tenant write.
	second := result(ctx, dbs[1], func(tx store.Tx) error { return appendEntry(ctx, tx, a) })
	waitForLockWaiters(t, raw, 1)
	cross := result(ctx, dbs[1], func(tx store.Tx) error {
		return tx.CreateTenant(ctx, &store.Tenant{ID: newID(), Name: "c", CreatedAt: time.Now()})
	})
	waitForLockWaiters(t, raw, 2)
	select {
	case err := <-second:
		t.Fatalf("tenant a's second write finished while the first was open: %v", err)
	case err := <-cross:
		t.Fatalf("a cross-tenant write finished while tenant a's was open: %v", err)
	default:
	}
	close(release)
	for _, w := range []struct {
		c    <-chan error
		what string
	}{{first, "tenant a's first write"}, {second, "tenant a's second write"}, {cross, "the cross-tenant write"}} {
		if err := await(t, w.c, w.what); err != nil {
			t.Errorf("%s: %v", w.what, err)
		}
	}
	for tenant, want := range map[string]uint64{a: 2, b: 1, "": 1} {
		if got := head(t, dbs[0], tenant); got != want {
			t.Errorf("chain %q: head %d, want %d", tenant, got, want)
		}
	}
}

// TestTenantLocksNoFork: three handles append concurrently to two tenants'
// chains and the system chain, each append reading the head first: none
// fails, no seq is taken twice, every chain ends at its count.
func TestTenantLocksNoFork(t *testing.T) {
	dbs, _ := handles(t, 3)
	ctx := t.Context()
	ids := createTenants(t, dbs[0], "a", "b")
	chains := append(ids, "")
	const writes = 10
	var wg sync.WaitGroup
	fail := make(chan error, len(dbs)*len(chains)*writes)
	for _, db := range dbs {
		for _, tenant := range chains {
			wg.Go(func() {
				for range writes {
					fail <- db.Write(ctx, func(tx store.Tx) error { return appendEntry(ctx, tx, tenant) })
				}
			})
		}
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		if err != nil {
			t.Errorf("Write: %v", err)
		}
	}
	for _, tenant := range chains {
		if got := head(t, dbs[0], tenant); got != uint64(len(dbs)*writes) {
			t.Errorf("chain %q: head %d after %d appends", tenant, got, len(dbs)*writes)
		}
	}
}

// TestLockCycle: two transactions each hold a tenant's lock and then both
// write across tenants (each needs the other to finish): PostgreSQL breaks
// the cycle by cancelling one, whose Write returns ErrLockCycle (code
// unavailable) and wrote nothing; the other commits.
func TestLockCycle(t *testing.T) {
	dbs, raw := handles(t, 2)
	ctx := t.Context()
	ids := createTenants(t, dbs[0], "a", "b")
	var ready sync.WaitGroup
	ready.Add(2)
	errs := make([]<-chan error, 2)
	for i, db := range dbs {
		errs[i] = result(ctx, db, func(tx store.Tx) error {
			if err := appendEntry(ctx, tx, ids[i]); err != nil {
				return err
			}
			ready.Done()
			ready.Wait()
			return tx.CreateTenant(ctx, &store.Tenant{ID: newID(), Name: fmt.Sprintf("new%d", i), CreatedAt: time.Now()})
		})
	}
	var failed, committed int
	for i, c := range errs {
		err := await(t, c, fmt.Sprintf("write %d", i))
		switch {
		case err == nil:
			committed++
		case errors.Is(err, postgres.ErrLockCycle) && engram.ErrorCode(err) == engram.CodeUnavailable:
			failed++
			if got := head(t, dbs[0], ids[i]); got != 0 {
				t.Errorf("the cancelled write left chain %d at %d", i, got)
			}
		default:
			t.Errorf("write %d: %v", i, err)
		}
	}
	if failed != 1 || committed != 1 {
		t.Fatalf("%d cancelled, %d committed; want one each", failed, committed)
	}
	waitForLockWaiters(t, raw, 0)
}

// BenchmarkTenantWrites: audit appends (read the head, append) from eight
// goroutines over two handles, all to one tenant's chain or each to its
// own tenant's: the second runs them concurrently, the first one at a time.
//
//	scripts/pgtest go test -run '^$' -bench TenantWrites ./internal/store/postgres
func BenchmarkTenantWrites(b *testing.B) {
	for _, tenants := range []int{1, 8} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			dsn := postgrestest.NewDatabase(b)
			var dbs []*postgres.DB
			for range 2 {
				db, err := postgres.Open(b.Context(), dsn)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				dbs = append(dbs, db)
			}
			ctx := b.Context()
			ids := make([]string, tenants)
			if err := dbs[0].Write(ctx, func(tx store.Tx) error {
				for i := range ids {
					ids[i] = newID()
					if err := tx.CreateTenant(ctx, &store.Tenant{ID: ids[i], Name: fmt.Sprintf("t%d", i), CreatedAt: time.Now()}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			var next sync.Mutex
			n := 0
			b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				next.Lock()
				db, tenant := dbs[n%2], ids[n%tenants]
				n++
				next.Unlock()
				for pb.Next() {
					if err := db.Write(ctx, func(tx store.Tx) error { return appendEntry(ctx, tx, tenant) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
