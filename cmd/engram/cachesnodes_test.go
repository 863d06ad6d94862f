package main_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestCachesAcrossNodesOnPostgres: two nodes on one PostgreSQL database,
// each with its own in-memory indexes and key cache. Node B's vector index,
// loaded before node A writes, finds A's new memory by a vector-mode
// search, and stops returning it once A deletes it or erases its user;
// after a key rotation on A, B writes under the subject key's new version.
func TestCachesAcrossNodesOnPostgres(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "n1"), filepath.Join(root, "n2")
	n1 := startServerWith(t, d1, nil, "--store", dsn)
	raw, err := os.ReadFile(filepath.Join(d1, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	kek, err := os.ReadFile(filepath.Join(d1, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d2, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d2, "kek.key"), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	n2 := startServerWith(t, d2, nil, "--store", dsn)
	ctx := t.Context()
	a, b := client.New(n1.url, key), client.New(n2.url, key)
	add := func(c *client.Client, user, content string) string {
		t.Helper()
		res, err := c.Memories().Add(ctx, engrampkg.AddRequest{Content: content, Scope: engrampkg.Scope{UserID: user}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].ID
	}
	vector := func(c *client.Client, query string) []string {
		t.Helper()
		zero := 0.0
		hits, err := c.Memories().Search(ctx, engrampkg.SearchRequest{Query: query, Mode: engrampkg.SearchVector, Limit: 50, Threshold: &zero})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(hits))
		for i, h := range hits {
			ids[i] = h.ID
		}
		return ids
	}

	warm := add(a, "ann", "ann reads the morning paper with coffee")
	if got := vector(b, "morning paper and coffee"); !slices.Contains(got, warm) {
		t.Fatalf("B does not find A's first memory: %v", got) // B's index is loaded now
	}
	quokka := add(a, "bob", "a quokka sunbathes on Rottnest island")
	if got := vector(b, "quokka on Rottnest island"); len(got) == 0 || got[0] != quokka {
		t.Errorf("B's vector search does not rank A's new memory first: %v, want %s first", got, quokka)
	}
	if err := a.Memories().Delete(ctx, quokka); err != nil {
		t.Fatal(err)
	}
	if got := vector(b, "quokka on Rottnest island"); slices.Contains(got, quokka) {
		t.Errorf("B's vector search returns a memory deleted on A")
	}
	parrot := add(a, "carol", "carol's parrot sings opera at night")
	if got := vector(b, "a parrot singing opera"); !slices.Contains(got, parrot) {
		t.Errorf("B does not find carol's memory: %v", got)
	}
	if _, err := a.ForgetUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if got := vector(b, "a parrot singing opera"); slices.Contains(got, parrot) {
		t.Errorf("B's vector search returns a memory of a user erased on A")
	}

	// B caches bob's subject key by writing and reading under it; A
	// rotates; B's next write for bob is under the new version.
	before := add(b, "bob", "bob plans a trip before the rotation")
	if _, err := b.Memories().Get(ctx, before); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	after := add(b, "bob", "bob books the trip after the rotation")
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	versions := func(id string) (used, newest int) {
		t.Helper()
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		// Engram's own role, under row-level security: every tenant.
		if _, err := tx.ExecContext(ctx, `SELECT set_config('app.tenant_id', '*', true)`); err != nil {
			t.Fatal(err)
		}
		err = tx.QueryRowContext(ctx, `SELECT m.key_version, (SELECT max(k.version) FROM wrapped_keys k
			 WHERE k.tenant_id = m.tenant_id AND k.purpose = 'subject' AND k.owner = m.subject)
			 FROM memories m WHERE m.id = $1`, id).Scan(&used, &newest)
		if err != nil {
			t.Fatal(err)
		}
		return used, newest
	}
	v1, _ := versions(before)
	v2, newest := versions(after)
	if v2 <= v1 || v2 != newest {
		t.Errorf("B wrote under subject key version %d after A's rotation (before: %d, newest: %d)", v2, v1, newest)
	}
	for _, c := range []*client.Client{a, b} {
		for _, id := range []string{before, after, warm} {
			if _, err := c.Memories().Get(ctx, id); err != nil {
				t.Errorf("get %s after the rotation: %v", id, err)
			}
		}
	}
}
