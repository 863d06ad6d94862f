package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/filemode"
	"github.com/engram-memory/engram/internal/kek/kekconfig"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// dataFlags locate the data directory. Its layout:
//
//	DIR/engram.db (+ -wal, -shm)  the embedded store (ciphertext only)
//	DIR/kek.key                   the local key-encryption key (0600)
//	DIR/admin.key                 the first owner API key (0600)
//	DIR/engram.lock, serve.lock   who uses the directory (datalock.go)
//
// Files that group or others can read, and a directory they can write,
// are refused (internal/filemode).
//
// With --store postgres://… the store is that PostgreSQL database instead
// of DIR/engram.db; the directory still holds the KEK, the admin key and
// the locks (each node has its own directory, with the same kek.key).
type dataFlags struct {
	Data  string `name:"data" env:"ENGRAM_DATA" default:"engram-data" type:"path" help:"Data directory (embedded store, key file)."`
	Store string `name:"store" env:"ENGRAM_STORE" help:"Store: empty for the embedded store in the data directory, or a PostgreSQL URL (postgres://USER@HOST/DB?sslmode=verify-full)."`
}

// postgresDSN reports whether the --store value names a PostgreSQL
// database, and refuses any other non-empty value.
func (d dataFlags) postgresDSN() (string, bool, error) {
	switch {
	case d.Store == "":
		return "", false, nil
	case strings.HasPrefix(d.Store, "postgres://"), strings.HasPrefix(d.Store, "postgresql://"):
		return d.Store, true, nil
	}
	// The value may hold a password: never echo it.
	return "", false, errors.New("--store: want a postgres:// or postgresql:// URL, or nothing for the embedded store")
}

// databaseHealth is /healthz's database check for a store on a server
// (one with Ping), nil for the embedded store: a file that is open.
func databaseHealth(db store.Store) func(context.Context) error {
	if p, ok := db.(interface{ Ping(context.Context) error }); ok {
		return p.Ping
	}
	return nil
}

// embeddedOnly refuses a command that works on the embedded store's file
// alone (backup, restore) when --store names PostgreSQL.
func (d dataFlags) embeddedOnly(cmd string) error {
	_, pg, err := d.postgresDSN()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if pg {
		return &exitError{code: 2, err: fmt.Errorf("engram %s works on the embedded store only; back up PostgreSQL with pg_dump (docs/POSTGRES-STATUS.md)", cmd)}
	}
	return nil
}

// storeKind names the store for logs, without its address (which may
// hold credentials).
func (d dataFlags) storeKind() string {
	if _, pg, _ := d.postgresDSN(); pg {
		return "postgres"
	}
	return "sqlite"
}

// openStore opens the store the flags name.
func openStore(ctx context.Context, d dataFlags) (store.Store, error) {
	dsn, pg, err := d.postgresDSN()
	if err != nil {
		return nil, err
	}
	if pg {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, filepath.Join(d.Data, "engram.db"))
}

// kekFile is the local KEK's file in the data directory.
const kekFile = "kek.key"

// localEngine opens the store and key hierarchy of a data directory.
type localEngine struct {
	*engine.Engine
	db   store.Store
	ring *keys.Ring
	lock *dataLock
}

func (l *localEngine) Close() error { return errors.Join(l.db.Close(), l.lock.Close()) }

// openLocal opens a data directory for a command that is safe beside a
// running server.
func openLocal(ctx context.Context, d dataFlags, opts ...engine.Option) (*localEngine, error) {
	return openLocalFor(ctx, d, useShared, opts...)
}

// openLocalFor checks the modes of the directory and its secrets, takes
// the directory's locks for use, and opens the store and key hierarchy.
func openLocalFor(ctx context.Context, d dataFlags, use dataUse, opts ...engine.Option) (*localEngine, error) {
	dir := d.Data
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// kek.key and the database files are checked where they are opened.
	if err := filemode.CheckDir(dir); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := filemode.CheckFile(filepath.Join(dir, adminKeyFile)); err != nil {
		return nil, fmt.Errorf("%w; anyone who could read it may hold the owner key: revoke it", err)
	}
	lock, err := lockData(dir, use)
	if err != nil {
		return nil, err
	}
	db, err := openStore(ctx, d)
	if err != nil {
		lock.Close()
		return nil, err
	}
	l, err := openKeys(ctx, db, dir, opts)
	if err != nil {
		db.Close()
		lock.Close()
		return nil, err
	}
	l.lock = lock
	return l, nil
}

// openKeys opens the local KEK and checks that it opens the hierarchy. A
// `kek rotate` interrupted between its commit and its rename left the new
// KEK in kek.key.next: if the old one no longer opens the pepper and the
// new one does, the rotation finishes here.
func openKeys(ctx context.Context, db store.Store, dir string, opts []engine.Option) (*localEngine, error) {
	path := filepath.Join(dir, kekFile)
	try := func(p string) (*localEngine, error) {
		k, err := local.OpenOrCreate(p)
		if err != nil {
			return nil, err
		}
		ring := keys.New(db, k, nil, keys.WithTenantKEKs(kekconfig.Open))
		e := engine.New(db, ring, nil, opts...)
		if err := e.Start(ctx); err != nil {
			return nil, err
		}
		return &localEngine{Engine: e, db: db, ring: ring}, nil
	}
	l, err := try(path)
	next := path + ".next"
	if _, serr := os.Stat(next); serr != nil {
		return l, err
	}
	if err == nil {
		// The rotation never committed: its key is not needed.
		return l, os.Remove(next)
	}
	if l, nerr := try(next); nerr == nil {
		return l, os.Rename(next, path)
	}
	return nil, err
}
