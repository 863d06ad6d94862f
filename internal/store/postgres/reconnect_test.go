package postgres_test

import (
	"database/sql"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestDeadPooledConnections: every connection a node's pool keeps is
// terminated by the server (as in a restart) and the next transactions
// come at once — before stdlib would ping a connection idle for a second:
// they run on fresh connections rather than fail on the dead ones. (pgx
// notices most dead connections itself before reuse; Open's begin retries
// a BEGIN that still fails on one.)
func TestDeadPooledConnections(t *testing.T) {
	const conns = 4
	dsn := postgrestest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	ctx := t.Context()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	admin, err := sql.Open("pgx", postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	// Fill the pool: conns transactions open at once.
	var wg sync.WaitGroup
	var started sync.WaitGroup
	started.Add(conns)
	for range conns {
		wg.Go(func() {
			_ = db.Read(ctx, func(tx store.Tx) error {
				started.Done()
				started.Wait()
				_, err := tx.TenantByName(ctx, "none")
				return err
			})
		})
	}
	wg.Wait()
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var k int
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left after pg_terminate_backend", k)
		}
	}
	id := newID()
	if err := db.Write(ctx, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, &store.Tenant{ID: id, Name: "after", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatalf("a write after the connections died: %v", err)
	}
	if err := db.Read(ctx, func(tx store.Tx) error {
		_, err := tx.Tenant(ctx, id)
		return err
	}); err != nil {
		t.Fatalf("a read after the connections died: %v", err)
	}
}
