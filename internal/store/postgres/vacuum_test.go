package postgres_test

import (
	"database/sql"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestCheckpointVacuums: after Checkpoint (what the engine runs once an
// erasure committed) a deleted row of an erasure table no longer has a
// tuple in its page — the line pointer is unused or dead, its bytes no
// longer a tuple — where before it the deleted tuple was still there,
// whole. Read with pageinspect, as the test server's superuser.
func TestCheckpointVacuums(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	db, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	u, err := url.Parse(postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := url.Parse(dsn)
	u.Path = d.Path // this test's database, as the superuser
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx := t.Context()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE EXTENSION IF NOT EXISTS pageinspect`)
	exec(`INSERT INTO tenants (id, name, created_at) VALUES ('t-vacuum', 'vacuum', $1)`, time.Now())
	const marker = "erased-value-7f3a9c"
	exec(`INSERT INTO tenant_settings (tenant_id, name, value) VALUES ('t-vacuum', 'kept', 'kept-value'), ('t-vacuum', 'gone', $1)`, marker)
	var block, lp int
	if err := admin.QueryRowContext(ctx, `SELECT (ctid::text::point)[0]::int, (ctid::text::point)[1]::int FROM tenant_settings WHERE name = 'gone'`).Scan(&block, &lp); err != nil {
		t.Fatal(err)
	}
	exec(`DELETE FROM tenant_settings WHERE name = 'gone'`)

	// state is the line pointer's flags (1 normal, 2 redirect, 3 dead,
	// 0 unused, or gone: pruning truncates unused pointers at the end of
	// the array) and whether it still points at a tuple holding the marker.
	state := func() (int, bool) {
		t.Helper()
		var flags int
		var holds bool
		err := admin.QueryRowContext(ctx, `SELECT lp_flags, coalesce(position(convert_to($3, 'UTF8') IN t_data) > 0, false)
			FROM heap_page_items(get_raw_page('tenant_settings', $1)) WHERE lp = $2`, block, lp, marker).Scan(&flags, &holds)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return flags, holds
	}
	if flags, holds := state(); flags != 1 || !holds {
		t.Fatalf("before: line pointer flags %d, holds the value %v: want the deleted tuple still there", flags, holds)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if flags, holds := state(); flags == 1 || holds {
		t.Fatalf("after Checkpoint: line pointer flags %d, holds the value %v: the deleted tuple is still there", flags, holds)
	}
	var kept string
	if err := admin.QueryRowContext(ctx, `SELECT value FROM tenant_settings WHERE name = 'kept'`).Scan(&kept); err != nil || kept != "kept-value" {
		t.Fatalf("the other row: %q, %v", kept, err)
	}
}
