// Package sqlite is the embedded store: one SQLite file reached through the
// pure-Go modernc.org/sqlite driver, so that Engram ships as one static
// binary with no database to run beside it.
//
// A DB holds two connection pools on the file: a single writer connection,
// whose transactions begin IMMEDIATE, and a few read-only connections. In
// WAL mode readers never wait for the writer, and because every write
// transaction takes the file's write lock when it begins, two processes
// (the server and an `engram` CLI command) can share the file: one waits,
// under busy_timeout, for the other's transaction instead of failing halfway
// through its own.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/engram-memory/engram/internal/filemode"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlstore"
)

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// busyTimeout bounds how long a transaction waits for a lock held by
	// another connection, in this process or another, before it fails.
	busyTimeout = 10 * time.Second
	// readerConns lets a few reads run beside the writer and each other.
	readerConns = 4
)

// DB is a store in one SQLite file. It is safe for concurrent use.
type DB struct {
	writer *sql.DB
	reader *sql.DB
	// Prepared statements of each pool (stmts.go).
	writerStmts *stmtCache
	readerStmts *stmtCache
}

// Open opens the database file at path, creating it (mode 0600) when it is
// missing, and brings its schema up to date. Other processes may hold the
// same file open.
//
// The -wal and -shm files SQLite creates beside the database cannot be
// created in advance; SQLite gives them the permissions of the database file,
// so they are 0600 too unless the process umask removes owner bits.
func Open(ctx context.Context, path string) (*DB, error) {
	// A '?' would be read as the start of the DSN's parameters.
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open sqlite: invalid path %q", path)
	}
	// An absolute path can never be taken for ":memory:" or a "file:" URI.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// The file holds sealed data but also who talks to whom (scope ids,
	// timestamps): only the service's user may read it. A file, log or
	// shared-memory index others can reach is refused, not repaired: it
	// may already have been copied (docs/SECURITY.md). Creating it here,
	// rather than letting SQLite create it with 0644, is the only way to get
	// the mode right from the first byte.
	if err := filemode.CheckFiles(abs, abs+"-wal", abs+"-shm"); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}

	writer, err := sql.Open("sqlite", abs+"?"+writerParams().Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	// One connection serialises this process's writers in the pool instead of
	// in SQLite's busy handler, which polls.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	db := &DB{writer: writer}
	// The file is in WAL mode, and migrated, before any reader connects.
	if err := enableWAL(ctx, writer); err != nil {
		_ = writer.Close()
		return nil, err
	}
	if err := migrate(ctx, writer); err != nil {
		_ = writer.Close()
		return nil, err
	}

	reader, err := sql.Open("sqlite", abs+"?"+readerParams().Encode())
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	reader.SetMaxOpenConns(readerConns)
	reader.SetMaxIdleConns(readerConns)
	if err := reader.PingContext(ctx); err != nil {
		_ = reader.Close()
		_ = writer.Close()
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	db.reader = reader
	db.writerStmts, db.readerStmts = newStmtCache(writer), newStmtCache(reader)
	return db, nil
}

// Checkpoint folds the write-ahead log into the database file and
// truncates it. The engine calls it after an erasure so that the erased
// pages (zeroed by secure_delete) replace their old images and no copy of
// an erased record or destroyed key stays in the log.
func (db *DB) Checkpoint(ctx context.Context) error {
	// The TRUNCATE checkpoint waits (busy_timeout) for readers of older
	// snapshots. If they outlast it, the log is checkpointed again by
	// SQLite's automatic checkpoints and the next erasure; that is not an
	// error of the erasure, which has committed.
	var busy, logFrames, done int
	err := db.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// writerParams are the DSN parameters of the writer pool. Pragmas go in the
// DSN, not in an Exec after Open, so that every connection the pool ever
// opens gets them.
func writerParams() url.Values {
	return url.Values{
		"_pragma": {
			"busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")",
			"foreign_keys(1)",
			// journal_mode is not here: WAL is a setting of the file,
			// which Open makes once (see enableWAL).
			// In WAL mode NORMAL keeps the file consistent but may lose the
			// last transactions on power loss. A write the service has
			// acknowledged (and audited) must survive, so every commit
			// syncs the WAL.
			"synchronous(FULL)",
			// Deleted content is overwritten, not left in free pages:
			// erasure must not leave sealed records or wrapped keys behind
			// for a forensic read of the file.
			"secure_delete(1)",
		},
		// BEGIN IMMEDIATE takes the write lock up front, where busy_timeout
		// applies. A deferred transaction that reads and then writes would
		// instead fail with SQLITE_BUSY when another process wrote in
		// between, and no amount of waiting could save it.
		"_txlock": {"immediate"},
	}
}

// readerParams are the DSN parameters of the reader pool.
func readerParams() url.Values {
	return url.Values{
		"_pragma": {
			// Readers rarely wait in WAL mode, but they do while another
			// connection recovers or resets the WAL.
			"busy_timeout(" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) + ")",
			// A write through Read is a bug; make it fail rather than
			// take the write lock beside the writer.
			"query_only(1)",
		},
	}
}

// enableWAL turns the file to WAL mode, a setting of the file that every
// later connection (of any process) uses. Two processes opening the same new
// file at once both try to change its mode, and SQLite answers the loser's
// PRAGMA journal_mode with SQLITE_BUSY at once, without waiting for
// busy_timeout: so wait here, as busy_timeout would.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		switch {
		case err == nil && strings.EqualFold(mode, "wal"):
			return nil
		case err == nil:
			return fmt.Errorf("enable WAL: journal mode is %q", mode)
		case !isBusy(err) || time.Now().After(deadline):
			return fmt.Errorf("enable WAL: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("enable WAL: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *modernc.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// migrate brings the schema up to date with the embedded migrations.
func migrate(ctx context.Context, db *sql.DB) error {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, dir,
		// Go migrations registered globally by other packages must not
		// leak into this database.
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Another process opening the same new file may apply a migration
	// between our listing and our attempt: its transaction wins, ours fails
	// whole, and the other process may still be applying the later ones.
	// Each failure of that kind means the other made progress, so trying
	// again (at most once per migration, and a few more) ends either with
	// nothing pending or with an error that is ours.
	for attempt := 0; ; attempt++ {
		_, err := p.Up(ctx)
		if err == nil {
			return nil
		}
		pending, perr := p.HasPending(ctx)
		if perr == nil && !pending {
			return nil
		}
		if perr != nil || attempt >= len(p.ListSources())+3 {
			return fmt.Errorf("migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrate: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close closes both pools. Closing the last connection checkpoints the WAL
// into the database file.
func (db *DB) Close() error {
	return errors.Join(db.readerStmts.close(), db.writerStmts.close(), db.reader.Close(), db.writer.Close())
}

// Read runs fn in a read-only transaction, beside any write. fn sees one
// snapshot of the database throughout.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, db.reader, db.readerStmts, &sql.TxOptions{ReadOnly: true}, fn)
}

// Write runs fn in a write transaction, committed when fn returns nil. Writes
// wait for each other; fn must not call Write itself (it would wait for
// itself forever).
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, db.writer, db.writerStmts, nil, fn)
}

func run(ctx context.Context, pool *sql.DB, stmts *stmtCache, opts *sql.TxOptions, fn func(store.Tx) error) error {
	err := full(runTx(ctx, pool, stmts, opts, fn))
	if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, store.ErrTimedOut) {
		// Whatever failed, the context has ended: nothing committed, and
		// the caller learns why (an interrupted statement reports only
		// SQLITE_INTERRUPT, a late commit only ErrTxDone).
		return fmt.Errorf("%w: %w: %w", store.ErrTimedOut, cerr, err)
	}
	return err
}

// full marks SQLITE_FULL (by its result code, wherever it surfaced: a
// statement, the commit, a checkpoint) as store.ErrFull.
func full(err error) error {
	var se *modernc.Error
	if err != nil && errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL && !errors.Is(err, store.ErrFull) {
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	}
	return err
}

func runTx(ctx context.Context, pool *sql.DB, stmts *stmtCache, opts *sql.TxOptions, fn func(store.Tx) error) error {
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	done := false
	// Deferred rather than on the error path alone: a panic, or a test's
	// t.FailNow (runtime.Goexit, which recover cannot see), must not keep
	// the transaction open, or the single writer connection would never
	// return to the pool. The panic itself goes on up after the rollback.
	defer func() {
		if !done {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(withQueries(&tx{tx: stmtTx{Tx: sqlTx, stmts: stmts}})); err != nil {
		// fn's error is what the caller can act on; a failed rollback
		// leaves database/sql to discard the connection.
		done = true
		_ = sqlTx.Rollback()
		return err
	}
	// A request whose deadline passed, or whose client went away, must
	// not commit: its caller can no longer be told that it happened.
	// database/sql checks too, but may then report only ErrTxDone; run
	// marks either as store.ErrTimedOut.
	if err := ctx.Err(); err != nil {
		done = true
		_ = sqlTx.Rollback()
		return fmt.Errorf("not committed: %w", err)
	}
	done = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// tx implements store.Tx on one database/sql transaction: the shared
// queries (sqlstore) over the transaction's statements (withQueries).
type tx struct {
	tx stmtTx
	sqlstore.Tx
}

var _ store.Tx = (*tx)(nil)
