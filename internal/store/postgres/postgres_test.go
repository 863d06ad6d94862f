package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
	"github.com/engram-memory/engram/internal/store/storetest"
)

func open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), postgrestest.NewDatabase(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// TestNoCommitOnceContextDone: a transaction whose context ends before it
// commits is rolled back, and the error says why.
func TestNoCommitOnceContextDone(t *testing.T) {
	db := open(t)
	defer db.Close()
	ctx, cancel := context.WithCancel(t.Context())
	err := db.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &store.Tenant{ID: newID(), Name: "late", CreatedAt: time.Now()}); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || engram.ErrorCode(err) != engram.CodeUnavailable {
		t.Fatalf("Write after its context ended: %v (code %q)", err, engram.ErrorCode(err))
	}
	err = db.Read(t.Context(), func(tx store.Tx) error {
		_, err := tx.TenantByName(t.Context(), "late")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the write committed anyway: %v", err)
	}
}

// TestNodes opens one new database from three handles at once, as three
// nodes starting together (the migrations run once, under goose's lock),
// and writes through all of them concurrently, each transaction reading
// before it writes: the write lock serialises them across handles, so
// none fails and none is lost.
func TestNodes(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	const nodes, writes = 3, 20
	dbs := make([]*postgres.DB, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	ctx := t.Context()
	tn := &store.Tenant{ID: newID(), Name: "acme", CreatedAt: time.Now()}
	if err := dbs[0].Write(ctx, func(tx store.Tx) error { return tx.CreateTenant(ctx, tn) }); err != nil {
		t.Fatal(err)
	}
	// Each write reads the chain head and appends the next seq: without
	// serialisation across nodes two would read the same head and one
	// would fail with a conflict (or fork the chain).
	fail := make(chan error, nodes*writes)
	for i := range dbs {
		wg.Go(func() {
			for range writes {
				fail <- dbs[i].Write(ctx, func(tx store.Tx) error {
					var seq uint64
					h, err := tx.AuditHead(ctx, tn.ID)
					switch {
					case err == nil:
						seq = h.Seq
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
					seq++
					r := &store.AuditRecord{Entry: engram.AuditEntry{TenantID: tn.ID, Seq: seq, Time: time.Now(),
						Action: "memory.add", Outcome: "success"}, KeyVersion: 1, MAC: []byte("mac")}
					return tx.AppendAudit(ctx, r, &store.AuditHead{TenantID: tn.ID, Seq: seq, MAC: []byte("mac"),
						KeyVersion: 1, HeadMAC: []byte("head")})
				})
			}
		})
	}
	wg.Wait()
	close(fail)
	for err := range fail {
		if err != nil {
			t.Errorf("Write: %v", err)
		}
	}
	var head *store.AuditHead
	if err := dbs[2].Read(ctx, func(tx store.Tx) error {
		var err error
		head, err = tx.AuditHead(ctx, tn.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if head.Seq != nodes*writes {
		t.Fatalf("chain head %d after %d appends", head.Seq, nodes*writes)
	}
}
