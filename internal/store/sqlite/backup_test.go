package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// TestCopyTo: the copy is a 0600 database holding what was committed,
// opened again as a store; an existing target is never overwritten.
func TestCopyTo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, filepath.Join(dir, "engram.db"))
	raw, err := sql.Open("sqlite", filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// A committed row written by another connection, still in the WAL.
	if _, err := raw.Exec(`CREATE TABLE backup_probe (v TEXT); INSERT INTO backup_probe VALUES ('committed')`); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "copy.db")
	if err := db.CopyTo(ctx, out); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy mode: %v %v", fi, err)
	}
	cp, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var v string
	if err := cp.QueryRow(`SELECT v FROM backup_probe`).Scan(&v); err != nil || v != "committed" {
		t.Fatalf("copy lacks the committed row: %q %v", v, err)
	}
	open(t, out) // a store opens the copy
	if err := db.CopyTo(ctx, out); err == nil {
		t.Fatal("CopyTo overwrote an existing file")
	}
}
