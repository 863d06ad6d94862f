package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/filemode"
	"github.com/engram-memory/engram/internal/kek/kekconfig"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
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
type dataFlags struct {
	Data string `name:"data" env:"ENGRAM_DATA" default:"engram-data" type:"path" help:"Data directory (embedded store, key file)."`
}

// kekFile is the local KEK's file in the data directory.
const kekFile = "kek.key"

// localEngine opens the store and key hierarchy of a data directory.
type localEngine struct {
	*engine.Engine
	db   *sqlite.DB
	ring *keys.Ring
	lock *dataLock
}

func (l *localEngine) Close() error { return errors.Join(l.db.Close(), l.lock.Close()) }

// openLocal opens a data directory for a command that is safe beside a
// running server.
func openLocal(ctx context.Context, dir string, opts ...engine.Option) (*localEngine, error) {
	return openLocalFor(ctx, dir, useShared, opts...)
}

// openLocalFor checks the modes of the directory and its secrets, takes
// the directory's locks for use, and opens the store and key hierarchy.
func openLocalFor(ctx context.Context, dir string, use dataUse, opts ...engine.Option) (*localEngine, error) {
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
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
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
func openKeys(ctx context.Context, db *sqlite.DB, dir string, opts []engine.Option) (*localEngine, error) {
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
