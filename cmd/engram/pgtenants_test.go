package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// joinNode starts another node on the database of the node whose data
// directory is from: a new data directory dir holding a copy of from's
// kek.key, and the same store.
func joinNode(t *testing.T, from, dir, dsn string) *server {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	kek, err := os.ReadFile(filepath.Join(from, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kek.key"), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	return startServerWith(t, dir, nil, "--store", dsn)
}

// TestTenantsWriteConcurrentlyOnPostgres: two nodes on one database, three
// tenants, and on each node one client per tenant adding memories and
// searching them, all at once — writes of different tenants run
// concurrently (per-tenant write locks) on both nodes. Every acknowledged
// memory reads back with its content on the other node; no tenant's key
// reads another tenant's memory; the audit chains verify.
func TestTenantsWriteConcurrentlyOnPostgres(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "n1"), filepath.Join(root, "n2")
	n1 := startServerWith(t, d1, nil, "--store", dsn)
	raw, err := os.ReadFile(filepath.Join(d1, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{strings.TrimSpace(string(raw))}
	for _, name := range []string{"globex", "initech"} {
		keys = append(keys, strings.TrimSpace(mustEngram(t, nil, "tenants", "create", name, "--data", d1, "--store", dsn)))
	}
	n2 := joinNode(t, d1, d2, dsn)
	nodes := []*server{n1, n2}

	const writes = 6
	ctx := t.Context()
	acked := make([]map[string]string, len(keys)) // per tenant: id → content
	for i := range acked {
		acked[i] = map[string]string{}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ti, key := range keys {
		for ni, n := range nodes {
			mem := client.New(n.url, key).Memories()
			wg.Go(func() {
				for i := range writes {
					content := fmt.Sprintf("tenant %d node %d note %d about gardening", ti, ni, i)
					res, err := mem.Add(ctx, engrampkg.AddRequest{Content: content, Scope: engrampkg.Scope{UserID: "u"}})
					if err != nil {
						t.Errorf("tenant %d node %d add: %v", ti, ni, err)
						return
					}
					mu.Lock()
					acked[ti][res[0].ID] = content
					mu.Unlock()
					if _, err := mem.Search(ctx, engrampkg.SearchRequest{Query: "gardening", Scope: engrampkg.Scope{UserID: "u"}, Mode: engrampkg.SearchBM25}); err != nil {
						t.Errorf("tenant %d node %d search: %v", ti, ni, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for ti, key := range keys {
		if len(acked[ti]) != writes*len(nodes) {
			t.Errorf("tenant %d: %d memories acknowledged, want %d", ti, len(acked[ti]), writes*len(nodes))
		}
		for ni, n := range nodes {
			mem := client.New(n.url, key).Memories()
			for id, content := range acked[ti] {
				if m, err := mem.Get(context.Background(), id); err != nil || m.Content != content {
					t.Errorf("tenant %d's %s on node %d: %v", ti, id, ni, err)
				}
			}
			// Another tenant's memory is not found with this key.
			for id := range acked[(ti+1)%len(keys)] {
				if _, err := mem.Get(context.Background(), id); engrampkg.ErrorCode(err) != engrampkg.CodeNotFound {
					t.Errorf("tenant %d's key on node %d reading tenant %d's %s: %v", ti, ni, (ti+1)%len(keys), id, err)
				}
				break
			}
		}
	}
	n1.stop(t)
	n2.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", d1, "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
}
