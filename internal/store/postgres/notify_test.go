package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestListen: a node listening is told of another node's committed
// changes to a tenant's memories, of a subject key destroyed and of
// another key destroyed; when its connection is terminated it reports the
// failure, listens again on a new one and is told of later changes; it
// stops when its context ends.
func TestListen(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	ctx := t.Context()
	a, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tn := &store.Tenant{ID: newID(), Name: "acme", CreatedAt: time.Now()}
	keys := []*store.WrappedKey{
		{TenantID: tn.ID, Purpose: "tenant", Version: 2, Wrapped: []byte("wrapped tenant key"), CreatedAt: time.Now()},
		{TenantID: tn.ID, Purpose: "subject", Owner: "user:u", Version: 1, ParentVersion: 2, Wrapped: []byte("wrapped subject key"), CreatedAt: time.Now()},
	}
	if err := b.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, tn); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.PutKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	changes := make(chan store.Change, 1000)
	fails := make(chan error, 100)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Listen(lctx, func(c store.Change) {
			select {
			case changes <- c:
			default:
			}
		}, func(err error) {
			select {
			case fails <- err:
			default:
			}
		})
	}()
	defer func() { stop(); <-done }()

	n := 0
	add := func() {
		t.Helper()
		n++
		m := &store.Memory{ID: newID(), TenantID: tn.ID, Subject: "user:u", KeyVersion: 1, Content: fmt.Appendf(nil, "sealed %d", n),
			ContentMAC: fmt.Appendf(nil, "mac %d", n), DocLen: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := b.Write(ctx, func(tx store.Tx) error { return tx.InsertMemory(ctx, m, nil) }); err != nil {
			t.Fatal(err)
		}
	}
	// want waits for a change of the tenant matching ok, writing a memory
	// on b every 100 ms when keep (LISTEN takes effect some time after
	// Listen starts: the first notifications may precede it).
	want := func(what string, keep bool, ok func(store.Change) bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case c := <-changes:
				if c.TenantID == tn.ID && ok(c) {
					return
				}
			case <-tick.C:
				if keep {
					add()
				}
			case <-deadline:
				t.Fatalf("no notification of %s", what)
			}
		}
	}
	want("a memory written on another node", true, func(c store.Change) bool { return c.Memories })
	if err := b.Write(ctx, func(tx store.Tx) error { return tx.DeleteKey(ctx, tn.ID, "subject", "user:u", 1) }); err != nil {
		t.Fatal(err)
	}
	want("a subject key destroyed", false, func(c store.Change) bool { return c.SubjectKeys })
	if err := b.Write(ctx, func(tx store.Tx) error { return tx.DeleteKey(ctx, tn.ID, "tenant", "", 2) }); err != nil {
		t.Fatal(err)
	}
	want("a tenant key destroyed", false, func(c store.Change) bool { return c.Keys })

	// The listening connection is terminated (a database restart, a
	// network cut): reported, then listened again.
	admin, err := sql.Open("pgx", postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	var killed int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		 WHERE datname = $1 AND query = 'LISTEN engram_changes'`, strings.TrimPrefix(u.Path, "/")).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminate the listener: %d terminated, %v", killed, err)
	}
	select {
	case <-fails:
	case <-time.After(20 * time.Second):
		t.Fatal("the terminated connection was not reported")
	}
	want("a memory written after the reconnection", true, func(c store.Change) bool { return c.Memories })
}
