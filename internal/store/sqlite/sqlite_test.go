package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestOpenRefusesLooseModes: a database, log or shared-memory file that
// group or others can read is refused with the fix in the message, not
// opened (or silently repaired).
func TestOpenRefusesLooseModes(t *testing.T) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		t.Run("file"+suffix, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "engram.db")
			open(t, path).Close()
			if err := os.WriteFile(path+suffix, nil, 0o600); suffix != "" && err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path+suffix, 0o644); err != nil {
				t.Fatal(err)
			}
			db, err := sqlite.Open(t.Context(), path)
			if err == nil {
				db.Close()
				t.Fatalf("Open accepted %s with mode 0644", filepath.Base(path+suffix))
			}
			if want := "chmod 600 " + path + suffix; !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
			if err := os.Chmod(path+suffix, 0o600); err != nil {
				t.Fatal(err)
			}
			open(t, path).Close()
		})
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

// TestDeleteSubjectLeavesNoTrace erases a subject and checkpoints: neither
// the database file nor its log may still hold the bytes of the subject's
// wrapped keys, sealed records or blind tokens, while another subject's are
// still there (so the test reads the right file).
func TestDeleteSubjectLeavesNoTrace(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engram.db")
	db := open(t, path)
	defer db.Close()
	// Random, so that no other byte in the file can match by chance.
	secret := func(what string) []byte { return []byte(what + " " + rand.Text()) }

	tn := &store.Tenant{ID: newID(), Name: "acme", CreatedAt: time.Now()}
	var erased, kept [][]byte
	err := db.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, tn); err != nil {
			return err
		}
		for _, subject := range []string{"erased", "kept"} {
			var secrets [][]byte
			for v := 1; v <= 2; v++ {
				k := &store.WrappedKey{TenantID: tn.ID, Purpose: store.PurposeSubject, Owner: subject,
					Version: v, Wrapped: secret("wrapped key"), CreatedAt: time.Now()}
				if err := tx.PutKey(ctx, k); err != nil {
					return err
				}
				secrets = append(secrets, k.Wrapped)
			}
			m := &store.Memory{ID: newID(), TenantID: tn.ID, UserID: "u", Subject: subject, KeyVersion: 2,
				Content: secret("content"), Metadata: secret("metadata"), ContentMAC: secret("mac"),
				DocLen: 3, CreatedAt: time.Now(), UpdatedAt: time.Now()}
			token := secret("token")
			if err := tx.InsertMemory(ctx, m, []store.Posting{{Token: token, TF: 1}}); err != nil {
				return err
			}
			h := &store.History{ID: newID(), TenantID: tn.ID, MemoryID: m.ID, Subject: subject, KeyVersion: 2,
				Event: "ADD", New: secret("history"), CreatedAt: time.Now()}
			if err := tx.InsertHistory(ctx, h); err != nil {
				return err
			}
			secrets = append(secrets, m.Content, m.Metadata, m.ContentMAC, token, h.New)
			if subject == "erased" {
				erased = secrets
			} else {
				kept = secrets
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	files := func() []byte {
		t.Helper()
		var all []byte
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	before := files()
	for _, s := range append(slices.Clone(erased), kept...) {
		if !bytes.Contains(before, s) {
			t.Fatalf("%q is not in the file before the erasure: the test cannot see what it looks for", s)
		}
	}

	err = db.Write(ctx, func(tx store.Tx) error {
		_, err := tx.DeleteSubject(ctx, tn.ID, "erased")
		return err
	})
	if err != nil {
		t.Fatalf("DeleteSubject: %v", err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	after := files()
	for _, s := range erased {
		if bytes.Contains(after, s) {
			t.Errorf("%q of the erased subject is still in the file", s)
		}
	}
	for _, s := range kept {
		if !bytes.Contains(after, s) {
			t.Errorf("%q of another subject is gone from the file", s)
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
