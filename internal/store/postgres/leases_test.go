package postgres_test

import (
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestLeases opens two handles on one database, as two nodes would: a
// lease is held by one handle at a time; resigning, a terminated session
// and Close each free it for the other.
func TestLeases(t *testing.T) {
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
	want := func(db *postgres.DB, who, name string, want bool) {
		t.Helper()
		ok, err := db.Lead(ctx, name)
		if err != nil || ok != want {
			t.Fatalf("%s.Lead(%q) = %v, %v; want %v", who, name, ok, err, want)
		}
	}
	// eventually waits for a lease freed by the server (a terminated
	// backend ends asynchronously).
	eventually := func(db *postgres.DB, who, name string) {
		t.Helper()
		testserver.Eventually(t, who+" to take "+name, func() bool {
			ok, _ := db.Lead(ctx, name)
			return ok
		})
	}

	want(a, "a", "seal", true)
	want(b, "b", "seal", false)
	want(b, "b", "sweep", true)
	want(a, "a", "sweep", false)
	want(a, "a", "seal", true) // still held

	a.Resign("seal")
	want(b, "b", "seal", true)
	want(a, "a", "seal", false)

	// b's lease session is terminated (a node cut off): its locks go with
	// it, a takes them, and b learns it lost them.
	admin, err := sql.Open("pgx", postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted
		AND database = (SELECT oid FROM pg_database WHERE datname = $2)`, 0x656e6772, dbName(t, dsn)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("terminated %d lease locks, want b's 2 (seal, sweep)", n)
	}
	eventually(a, "a", "seal")
	eventually(a, "a", "sweep")
	if ok, _ := b.Lead(ctx, "seal"); ok { // an error too: its session is gone
		t.Fatal("b still leads after its session was terminated")
	}
	want(b, "b", "seal", false)

	// Close frees a's leases.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(b, "b", "seal")
	eventually(b, "b", "sweep")

	// Resigning the last lease hands the connection back to the pool
	// without any lock on it.
	b.Resign("seal")
	b.Resign("sweep")
	if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2
		AND database = (SELECT oid FROM pg_database WHERE datname = $2)`, 0x656e6772, dbName(t, dsn)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d lease locks left after resigning all", n)
	}
}

// dbName is the database a postgres:// DSN names.
func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}
