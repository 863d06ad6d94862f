package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// dataFlags locate the data directory. Its layout:
//
//	DIR/engram.db (+ -wal, -shm)  the embedded store (ciphertext only)
//	DIR/kek.key                   the local key-encryption key (0600)
//	DIR/admin.key                 the first owner API key (0600)
type dataFlags struct {
	Data string `name:"data" env:"ENGRAM_DATA" default:"engram-data" type:"path" help:"Data directory (embedded store, key file)."`
}

// localEngine opens the store and key hierarchy of a data directory.
type localEngine struct {
	*engine.Engine
	db *sqlite.DB
}

func (l *localEngine) Close() error { return l.db.Close() }

func openLocal(ctx context.Context, dir string) (*localEngine, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		return nil, err
	}
	e := engine.New(db, keys.New(db, k, nil), nil)
	if err := e.Start(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return &localEngine{Engine: e, db: db}, nil
}
