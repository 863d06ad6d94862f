package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// TestDiskFullIsErrFull: SQLite's own SQLITE_FULL (a real one, from a
// capped file size rather than a full disk) comes back as store.ErrFull,
// which clients see as insufficient_storage, not as an internal error;
// nothing of the transaction is written, reads go on, and writes work
// again once there is room.
func TestDiskFullIsErrFull(t *testing.T) {
	ctx := t.Context()
	db := open(t, filepath.Join(t.TempDir(), "engram.db"))
	defer db.Close()
	if err := writeTenantAndMemory(ctx, db, "acme"); err != nil {
		t.Fatal(err)
	}
	pages, err := sqlite.SetMaxPageCount(ctx, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.SetMaxPageCount(ctx, db, pages); err != nil {
		t.Fatal(err)
	}
	insert := func() error {
		return db.Write(ctx, func(tx store.Tx) error {
			tn, err := tx.TenantByName(ctx, "acme")
			if err != nil {
				return err
			}
			m := &store.Memory{ID: newID(), TenantID: tn.ID, UserID: "u", Subject: "tenant",
				Content: make([]byte, 256<<10), ContentMAC: []byte("mac2"), DocLen: 3,
				CreatedAt: time.Now(), UpdatedAt: time.Now()}
			return tx.InsertMemory(ctx, m, nil)
		})
	}
	err = insert()
	if !errors.Is(err, store.ErrFull) || engram.ErrorCode(err) != engram.CodeInsufficientStorage {
		t.Fatalf("write past the cap: %v (code %q)", err, engram.ErrorCode(err))
	}
	var n int
	if err := db.Read(ctx, func(tx store.Tx) error {
		tn, err := tx.TenantByName(ctx, "acme")
		if err != nil {
			return err
		}
		ms, err := tx.ListMemories(ctx, tn.ID, engram.Scope{}, "", 10)
		n = len(ms)
		return err
	}); err != nil || n != 1 {
		t.Fatalf("read while full: %d memories, %v", n, err)
	}
	if _, err := sqlite.SetMaxPageCount(ctx, db, 0); err != nil {
		t.Fatal(err)
	}
	if err := insert(); err != nil {
		t.Fatalf("write with room again: %v", err)
	}
}

// TestNoCommitOnceContextDone: a transaction whose context ends before it
// commits (a request past its deadline) is rolled back, and the error says
// why, so the transport answers a timeout rather than an internal error.
func TestNoCommitOnceContextDone(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "engram.db"))
	defer db.Close()
	ctx, cancel := context.WithCancel(t.Context())
	err := db.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, &store.Tenant{ID: newID(), Name: "late", CreatedAt: time.Now()}); err != nil {
			return err
		}
		cancel() // the deadline passes after the work, before the commit
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
