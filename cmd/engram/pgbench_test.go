package main_test

import (
	"database/sql"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// benchRole is an ordinary role that may create databases, as `engram
// bench load --postgres` wants: row-level security binds it.
const benchRole = "engram_bench"

// benchAdminDSN creates benchRole on the test server (whoever loses a race
// to create it finds it made) and returns the DSN that connects as it.
func benchAdminDSN(t *testing.T) string {
	t.Helper()
	dsn := postgrestest.ServerDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(t.Context(), `DO $$ BEGIN
		CREATE ROLE `+benchRole+` LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(benchRole)
	return u.String()
}

// TestBenchLoadCompare runs `engram bench load` over the embedded store
// and one and two nodes on PostgreSQL in one run, with two tenants, as
// docs/BENCHMARKS.md does: every setup answers every request (a key of
// the wrong tenant would get 401, a memory id of the other tenant 404),
// both nodes of the two-node setup take requests, the table has a row per
// setup, and every scratch database is dropped afterwards.
func TestBenchLoadCompare(t *testing.T) {
	dsn := benchAdminDSN(t)
	out := mustEngram(t, []string{"ENGRAM_API_KEY=", "ENGRAM_BENCH_POSTGRES=" + dsn}, "bench", "load",
		"--store", "sqlite,postgres", "--nodes", "1,2", "--tenants", "2", "--concurrency", "2", "--duration", "1s", "--corpus", "10", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var cs []struct {
		Store string
		Nodes int
		Runs  []struct {
			Tenants  int            `json:"tenants"`
			Requests int            `json:"requests"`
			Errors   map[string]int `json:"errors"`
			PerNode  []int          `json:"per_node"`
			CPU      *float64       `json:"server_cpu_ms_per_req"`
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cs); err != nil {
		t.Fatalf("last line is not the comparison: %v\n%s", err, out)
	}
	want := []string{"sqlite/1", "postgres/1", "postgres/2"}
	if len(cs) != len(want) {
		t.Fatalf("%d setups, want %v\n%s", len(cs), want, out)
	}
	for i, c := range cs {
		if got := c.Store + "/" + string(rune('0'+c.Nodes)); got != want[i] || len(c.Runs) != 1 {
			t.Fatalf("setup %d: %s with %d runs, want %s with 1", i, got, len(c.Runs), want[i])
		}
		r := c.Runs[0]
		if r.Requests < 1 || len(r.Errors) != 0 || r.CPU == nil || r.Tenants != 2 {
			t.Errorf("%s: %+v", want[i], r)
		}
		if c.Nodes == 2 && (len(r.PerNode) != 2 || r.PerNode[0] < 1 || r.PerNode[1] < 1) {
			t.Errorf("%s: requests per node %v: want both nodes used", want[i], r.PerNode)
		}
	}
	for _, row := range []string{"| sqlite, 1 node |", "| postgres, 1 node |", "| postgres, 2 nodes |"} {
		if !strings.Contains(out, row) {
			t.Errorf("no table row %q:\n%s", row, out)
		}
	}
	admin, err := sql.Open("pgx", postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var left int
	if err := admin.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE r.rolname = $1`, benchRole).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d scratch databases left (%v)", left, err)
	}

	// A postgres setup without --postgres, sqlite on two nodes (one row),
	// or a comparison against --url: refused before any server starts.
	for _, bad := range [][]string{{"--store", "postgres"}, {"--store", "mysql"}, {"--nodes", "0"}, {"--runs", "2", "--url", "http://127.0.0.1:1", "--key", "k"}} {
		if _, errOut, err := engram(t, []string{"ENGRAM_BENCH_POSTGRES="}, append([]string{"bench", "load", "--duration", "1s"}, bad...)...); err == nil {
			t.Errorf("bench load %v: accepted", bad)
		} else if strings.Contains(errOut, "listening") || strings.Contains(errOut, "corpus:") {
			t.Errorf("bench load %v: started a server", bad)
		}
	}
}

// TestErasureVacuumsOnPostgres: an erasure through a node on PostgreSQL
// ends with the store's Checkpoint, a VACUUM of the tables it deleted from
// (the wrapped subject keys' above all), as the embedded store folds its
// WAL: the table's manual vacuum count goes up.
func TestErasureVacuumsOnPostgres(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	data := filepath.Join(t.TempDir(), "n1")
	c := client.New(startServerWith(t, data, nil, "--store", dsn).url, ownerKey(t, data))
	ctx := t.Context()
	if _, err := c.Memories().Add(ctx, engrampkg.AddRequest{Content: "a note to be erased", Scope: engrampkg.Scope{UserID: "leaving"}}); err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := url.Parse(dsn)
	u.Path = d.Path // the node's database, as the superuser (statistics of every table)
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	vacuums := func() int {
		t.Helper()
		var n int
		if err := admin.QueryRowContext(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'wrapped_keys'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := vacuums()
	if _, err := c.ForgetUser(ctx, "leaving"); err != nil {
		t.Fatal(err)
	}
	if after := vacuums(); after <= before {
		t.Fatalf("wrapped_keys vacuumed %d times before the erasure and %d after: no VACUUM", before, after)
	}
}
