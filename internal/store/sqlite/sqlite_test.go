package sqlite_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
	"github.com/engram-memory/engram/internal/store/storetest"
)

func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "engram.db"))
	})
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// writeTenantAndMemory is a typical write: it reads, then writes, in one
// transaction. A transaction that took the write lock only at its first
// write would fail here, whatever the busy timeout, whenever another
// connection wrote in between.
func writeTenantAndMemory(ctx context.Context, s store.Store, name string) error {
	return s.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.TenantByName(ctx, name); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("tenant %s exists already: %w", name, err)
		}
		tn := &store.Tenant{ID: newID(), Name: name, CreatedAt: time.Now()}
		if err := tx.CreateTenant(ctx, tn); err != nil {
			return err
		}
		m := &store.Memory{ID: newID(), TenantID: tn.ID, UserID: "u", Subject: "tenant",
			Content: []byte("sealed"), ContentMAC: []byte("mac"), DocLen: 3,
			CreatedAt: time.Now(), UpdatedAt: time.Now()}
		return tx.InsertMemory(ctx, m, []store.Posting{{Token: []byte("tok"), TF: 1}})
	})
}

// TestTwoHandles opens the same new file twice at once, as the server and
// the CLI are two processes, and writes through both concurrently: neither
// may see "database is locked".
func TestTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engram.db")
	dbs := make([]*sqlite.DB, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = sqlite.Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = dbs[i].Close() })
	}

	const writers, writes = 4, 25
	werrs := make(chan error, len(dbs)*writers*writes)
	for d, db := range dbs {
		for w := range writers {
			wg.Go(func() {
				for i := range writes {
					werrs <- writeTenantAndMemory(t.Context(), db, fmt.Sprintf("db%d-w%d-%d", d, w, i))
				}
			})
		}
	}
	wg.Wait()
	close(werrs)
	for err := range werrs {
		if err != nil {
			t.Errorf("Write: %v", err)
		}
	}

	// Each handle sees the other's writes.
	for d, db := range dbs {
		err := db.Read(t.Context(), func(tx store.Tx) error {
			for o := range dbs {
				for w := range writers {
					for i := range writes {
						if _, err := tx.TenantByName(t.Context(), fmt.Sprintf("db%d-w%d-%d", o, w, i)); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("db%d Read: %v", d, err)
		}
	}
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engram.db")
	db := open(t, path)
	defer db.Close()
	if err := writeTenantAndMemory(t.Context(), db, "acme"); err != nil {
		t.Fatal(err)
	}
	// SQLite gives the WAL and shared-memory files the database file's
	// permissions.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(p), mode)
		}
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engram.db")
	db := open(t, path)
	if err := writeTenantAndMemory(t.Context(), db, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	defer db.Close()
	err := db.Read(t.Context(), func(tx store.Tx) error {
		_, err := tx.TenantByName(t.Context(), "acme")
		return err
	})
	if err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", filepath.Join(t.TempDir(), "a?mode=memory")} {
		if db, err := sqlite.Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// BenchmarkInsertMemory measures one acknowledged (synced) write of a memory
// with a typical number of postings.
func BenchmarkInsertMemory(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "engram.db"))
	defer db.Close()
	ctx := b.Context()
	tenant := &store.Tenant{ID: newID(), Name: "bench", CreatedAt: time.Now()}
	if err := db.Write(ctx, func(tx store.Tx) error { return tx.CreateTenant(ctx, tenant) }); err != nil {
		b.Fatal(err)
	}
	postings := make([]store.Posting, 40)
	for i := range postings {
		h := sha256.Sum256(fmt.Appendf(nil, "word %d", i))
		postings[i] = store.Posting{Token: h[:16], TF: 1 + i%3}
	}
	content := make([]byte, 1024)
	for i := 0; b.Loop(); i++ {
		m := &store.Memory{ID: newID(), TenantID: tenant.ID, UserID: "u1", AgentID: "a1",
			Subject: "tenant", Content: content, ContentMAC: fmt.Appendf(nil, "mac %d", i),
			DocLen: 60, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		err := db.Write(ctx, func(tx store.Tx) error { return tx.InsertMemory(ctx, m, postings) })
		if err != nil {
			b.Fatal(err)
		}
	}
}
