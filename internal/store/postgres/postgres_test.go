package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"

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

func TestSSOConformance(t *testing.T) {
	storetest.RunSSO(t, func(t *testing.T) store.Store { return open(t) })
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
	dsn := postgrestest.NewEmptyDatabase(t)
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
				fail <- dbs[i].Write(ctx, func(tx store.Tx) error { return appendEntry(ctx, tx, tn.ID) })
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

// TestRowLevelSecurity: under the store's tenant filters, PostgreSQL's own
// policies (FORCE, so they bind the tables' owner, which the store
// connects as) show a transaction only the tenant it set: a query that
// sets none sees nothing, one that set another tenant sees nothing of this
// one and cannot write into it.
func TestRowLevelSecurity(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	ctx := t.Context()
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := &store.Tenant{ID: newID(), Name: "a", CreatedAt: time.Now()}
	b := &store.Tenant{ID: newID(), Name: "b", CreatedAt: time.Now()}
	if err := db.Write(ctx, func(tx store.Tx) error {
		for _, tn := range []*store.Tenant{a, b} {
			if err := tx.CreateTenant(ctx, tn); err != nil {
				return err
			}
		}
		m := &store.Memory{ID: newID(), TenantID: a.ID, UserID: "u", Subject: "tenant", KeyVersion: 1,
			Content: []byte("sealed"), ContentMAC: []byte("mac"), DocLen: 1, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		return tx.InsertMemory(ctx, m, []store.Posting{{Token: []byte("tok"), TF: 1}})
	}); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var super, bypass bool
	if err := raw.QueryRowContext(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&super, &bypass); err != nil {
		t.Fatal(err)
	}
	if super || bypass {
		t.Fatalf("the test role escapes row-level security (superuser %v, bypassrls %v)", super, bypass)
	}
	// count counts rows of table in a transaction that set tenant ("": none).
	count := func(tenant, table string) int {
		t.Helper()
		tx, err := raw.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if tenant != "" {
			if _, err := tx.ExecContext(ctx, `SELECT set_config('app.tenant_id', $1, true)`, tenant); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, table := range []string{"memories", "postings", "scope_stats", "index_generations"} {
		if n := count("", table); n != 0 {
			t.Errorf("%s without a tenant: %d rows visible", table, n)
		}
		if n := count(b.ID, table); n != 0 {
			t.Errorf("%s as tenant b: %d of tenant a's rows visible", table, n)
		}
		if n := count(a.ID, table); n != 1 {
			t.Errorf("%s as tenant a: %d rows, want 1", table, n)
		}
	}
	// The setting is transaction-local: the next transaction on the same
	// connection sees nothing again.
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('app.tenant_id', $1, true)`, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM memories`).Scan(&n); err != nil || n != 0 {
		t.Errorf("memories after the tenant's transaction ended: %d rows, %v", n, err)
	}
	// A write under tenant b's scope into tenant a fails the policy.
	tx, err = raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT set_config('app.tenant_id', $1, true)`, b.ID); err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, name, value) VALUES ($1, 'x', 'y')`, a.ID)
	if err == nil {
		t.Fatal("tenant b's transaction wrote a row of tenant a")
	}
}
