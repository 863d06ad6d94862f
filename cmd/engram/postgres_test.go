package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestServeOnPostgres runs two nodes on one PostgreSQL database, each with
// its own data directory and the same kek.key: the first start bootstraps
// the owner key; a memory written on one node is found on the other; a key
// revoked on one is refused on the other at its next request; the audit
// chain verifies from either; the data directories hold no database.
func TestServeOnPostgres(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "n1"), filepath.Join(root, "n2")
	store := []string{"ENGRAM_STORE=" + dsn}
	n1 := startServerWith(t, d1, store)
	raw, err := os.ReadFile(filepath.Join(d1, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	if err := os.Mkdir(d2, 0o700); err != nil {
		t.Fatal(err)
	}
	kek, err := os.ReadFile(filepath.Join(d1, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d2, "kek.key"), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	n2 := startServerWith(t, d2, nil, "--store", dsn)
	if strings.Contains(string(n2.stdout.Bytes()), "egm_") {
		t.Fatal("the second node bootstrapped another owner key")
	}
	if _, err := os.Stat(filepath.Join(d1, "engram.db")); err == nil {
		t.Fatal("the first node made an embedded store beside PostgreSQL")
	}

	on := func(s *server, k string) []string { return []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + k} }
	out := mustEngram(t, on(n1, key), "add", "Bob is allergic to peanuts", "--user", "bob")
	id := strings.Fields(out)[1]
	if out := mustEngram(t, on(n2, key), "search", "peanut allergies? peanuts", "--user", "bob"); !strings.Contains(out, id) {
		t.Fatalf("search on node 2: %q", out)
	}
	out = mustEngram(t, on(n2, key), "add", "Alice drinks green tea", "--user", "alice")
	id2 := strings.Fields(out)[1]
	if out := mustEngram(t, on(n1, key), "get", id2); !strings.Contains(out, "green tea") {
		t.Fatalf("get on node 1: %q", out)
	}

	ro := strings.TrimSpace(mustEngram(t, on(n1, key), "keys", "create", "ro", "--scope", "memories:read"))
	mustEngram(t, on(n2, ro), "list", "--user", "bob")
	kid := strings.Split(strings.TrimPrefix(ro, "egm_"), "_")[0]
	mustEngram(t, on(n1, key), "keys", "revoke", kid)
	if _, errOut, err := engram(t, on(n2, ro), "list", "--user", "bob"); err == nil || !strings.Contains(errOut, "unauthenticated") {
		t.Fatalf("a key revoked on node 1, on node 2: %v %q", err, errOut)
	}

	n1.stop(t)
	n2.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", d2, "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
	if _, errOut, err := engram(t, nil, "backup", "--data", d1, "--store", dsn, "--to", filepath.Join(root, "b")); err == nil || !strings.Contains(errOut, "pg_dump") {
		t.Fatalf("backup of a PostgreSQL store: %v %q", err, errOut)
	}
}
