package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// TestIndexHints: the shared queries that name an index reach SQLite with
// their INDEXED BY (the dialect's hints), as its statement cache sees them:
// the query plans the store depends on (docs/ARCHITECTURE.md, Storage) did
// not go with the queries' move to sqlstore.
func TestIndexHints(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	tn := &store.Tenant{ID: "t1", Name: "one", CreatedAt: now}
	m := &store.Memory{ID: "m1", TenantID: tn.ID, UserID: "u", Subject: "s", Content: []byte("sealed"),
		ContentMAC: []byte("mac"), DocLen: 1, CreatedAt: now, UpdatedAt: now}
	scope := engram.Scope{UserID: "u"}
	tok := [][]byte{[]byte("tok")}
	err = db.Write(ctx, func(st store.Tx) error {
		if err := st.CreateTenant(ctx, tn); err != nil {
			return err
		}
		if err := st.InsertMemory(ctx, m, []store.Posting{{Token: tok[0], TF: 1}}); err != nil {
			return err
		}
		for _, step := range []func() error{
			func() error { _, err := st.MemoryHeads(ctx, tn.ID, []string{m.ID}); return err },
			func() error { _, err := st.MemoryByMAC(ctx, tn.ID, scope, m.ContentMAC); return err },
			func() error {
				_, err := st.MemoryByMACAs(ctx, tn.ID, scope, m.ContentMAC, "", false)
				return err
			},
			func() error { _, err := st.SearchPostings(ctx, tn.ID, scope, tok); return err },
			func() error {
				_, err := st.SearchVisiblePostings(ctx, tn.ID, scope, rbac.Filter{Reach: rbac.Any}, tok)
				return err
			},
			func() error { _, err := st.DocPostings(ctx, tn.ID, "", 10); return err },
			func() error { _, err := st.DueDeletions(ctx, now, 10); return err },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.writerStmts.pending.Wait()
	db.writerStmts.mu.RLock()
	count := map[string]int{}
	for q := range db.writerStmts.stmts {
		for _, hint := range []string{"memories_mac", "memories_stats", "postings_memory", "deletions_due"} {
			if strings.Contains(q, "INDEXED BY "+hint) {
				count[hint]++
			}
		}
	}
	db.writerStmts.mu.RUnlock()
	for hint, want := range map[string]int{"memories_mac": 2, "memories_stats": 3, "postings_memory": 1, "deletions_due": 1} {
		if count[hint] < want {
			t.Errorf("INDEXED BY %s: in %d queries, want %d or more", hint, count[hint], want)
		}
	}
}
