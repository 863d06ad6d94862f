// Package postgres is the store on PostgreSQL (15 or later), for running
// several Engram nodes on one database. It is reached through pgx v5's
// database/sql driver, and its schema is brought up to date by goose under a
// session advisory lock, so that nodes starting together migrate it once.
//
// The database sees what the embedded store sees and nothing more: sealed
// envelopes (bytea), blind tokens, ids, scope ids, sizes, key versions and
// times (timestamptz).
//
// The queries are the stores' shared ones (internal/store/sqlstore), written
// with '?' markers that stmtTx rebinds to PostgreSQL's $n (see rebind), in
// PostgreSQL's dialect (dialect.go: timestamptz times, GREATEST for the
// scalar MAX, no index hints), each method scoped to its tenant for
// row-level security.
//
// Writes are serialised, as the store contract requires: in the process by
// a semaphore, and across processes by a transaction-level advisory lock
// taken first in every write transaction (writeLock). That is coarse, but
// correct for many nodes on one database; finer (per-tenant) locking is the
// next step of issue 16 (docs/POSTGRES-STATUS.md). Reads run in REPEATABLE
// READ, READ ONLY transactions: one snapshot each, beside any write.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlstore"
)

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// writeLock is the key of the transaction-level advisory lock every write
// transaction takes before anything else: it serialises writers across
// every node on the database. (The value is arbitrary: "engram" in ASCII.)
const writeLock = 0x656e6772616d

// defaultMaxConns bounds the pool unless the DSN's pool_max_conns says
// otherwise: the writer plus concurrent readers.
const defaultMaxConns = 16

// DB is a store in one PostgreSQL database. It is safe for concurrent use.
type DB struct {
	pool *sql.DB
	// writer is a semaphore of one: this process's writers wait here, not
	// each on a connection of the pool blocked on the advisory lock.
	writer chan struct{}
	leases leases // store.Leases (leases.go)
}

// Open connects to the database named by dsn (a postgres:// URL, with
// libpq's parameters: sslmode, sslrootcert, sslcert, sslkey, …) and brings
// its schema up to date. One parameter is the pool's, not the server's:
// pool_max_conns (default 16, at least 2: a write and a read at once)
// bounds the connections this node opens.
func Open(ctx context.Context, dsn string) (*DB, error) {
	dsn, maxConns, err := poolParams(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		_ = pool.Close()
		return nil, err
	}
	return &DB{pool: pool, writer: make(chan struct{}, 1)}, nil
}

// Migrations returns the embedded migrations (goose SQL files), for tools
// and tests that need to know the schema this binary expects.
func Migrations() fs.FS {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // a constant path into an embedded directory
	}
	return dir
}

// poolParams takes the pool's own parameters out of a postgres:// URL
// (pgx would send them to the server as settings).
func poolParams(dsn string) (string, int, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// A key=value string: passed on as it is. (Not echoed: it may
		// hold a password.)
		return dsn, defaultMaxConns, nil
	}
	q := u.Query()
	v := q.Get("pool_max_conns")
	if v == "" {
		return dsn, defaultMaxConns, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return "", 0, errors.New("pool_max_conns: want a whole number of at least 2")
	}
	q.Del("pool_max_conns")
	u.RawQuery = q.Encode()
	return u.String(), n, nil
}

// migrate brings the schema up to date with the embedded migrations, under
// goose's session advisory lock: nodes starting at once apply each
// migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	dir := Migrations()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir,
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
		goose.WithSessionLocker(locker),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Ping checks that the database answers: the readiness of a node.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.PingContext(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close releases this handle's leases and closes the pool.
func (db *DB) Close() error {
	db.leases.close()
	return db.pool.Close()
}

// Read runs fn in a read-only REPEATABLE READ transaction: one snapshot of
// the database throughout, beside any write.
func (db *DB) Read(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, func() error {
		return runTx(ctx, db.pool, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, false, fn)
	})
}

// Write runs fn in a write transaction, committed when fn returns nil.
// Writes wait for each other, in this process and on every node; fn must
// not call Write itself (it would wait for itself forever).
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, func() error {
		select {
		case db.writer <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("wait for the writer: %w", ctx.Err())
		}
		defer func() { <-db.writer }()
		return runTx(ctx, db.pool, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, true, fn)
	})
}

func run(ctx context.Context, do func() error) error {
	err := full(do())
	if cerr := ctx.Err(); err != nil && cerr != nil && !errors.Is(err, store.ErrTimedOut) {
		// Whatever failed, the context has ended: nothing committed, and
		// the caller learns why.
		return fmt.Errorf("%w: %w: %w", store.ErrTimedOut, cerr, err)
	}
	return err
}

// full marks PostgreSQL's disk_full (SQLSTATE 53100) as store.ErrFull.
func full(err error) error {
	if err != nil && sqlState(err) == "53100" && !errors.Is(err, store.ErrFull) {
		return fmt.Errorf("%w: %w", store.ErrFull, err)
	}
	return err
}

// sqlState returns err's SQLSTATE, "" when it is not a PostgreSQL error.
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func runTx(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, write bool, fn func(store.Tx) error) error {
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	done := false
	// Deferred rather than on the error path alone: a panic, or a test's
	// t.FailNow, must not keep the transaction open.
	defer func() {
		if !done {
			_ = sqlTx.Rollback()
		}
	}()
	if write {
		if _, err := sqlTx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(writeLock)); err != nil {
			done = true
			_ = sqlTx.Rollback()
			return fmt.Errorf("take the write lock: %w", err)
		}
	}
	if err := fn(withQueries(&tx{tx: stmtTx{Tx: sqlTx}})); err != nil {
		done = true
		_ = sqlTx.Rollback()
		return err
	}
	// A request whose deadline passed, or whose client went away, must
	// not commit: its caller can no longer be told that it happened.
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

// stmtTx is a transaction whose queries, written with '?' markers, are
// rebound to $n before they run (pgx prepares and caches each statement on
// its connection itself), and which sets the tenant that row-level
// security lets its statements see (migrations/00003_rls.sql) before the
// first statement that needs a different one.
type stmtTx struct {
	*sql.Tx
	// want is the app.tenant_id the next statement runs under, applied
	// the one in effect ("" until the first is set: nothing visible).
	want, applied string
}

// Values of app.tenant_id besides a tenant id (migrations/00003_rls.sql).
const (
	rlsNone   = ""
	rlsSystem = ".system"
	rlsAll    = "*"
)

// scope makes the tenant's rows (tenantID "": the system rows) the only
// ones row-level security shows the method's statements, and returns the
// function (to defer) that restores the scope of the caller: a method
// called by another gets its own scope and gives the caller's back.
func (t *tx) scope(tenantID string) func() {
	if tenantID == "" {
		tenantID = rlsSystem
	}
	return t.scopeAs(tenantID)
}

// scopeAll lets a cross-tenant method (a lookup by a credential's id or
// digest, a sweep, a listing of tenants) see every tenant's rows.
func (t *tx) scopeAll() func() { return t.scopeAs(rlsAll) }

func (t *tx) scopeAs(v string) func() {
	prev := t.tx.want
	t.tx.want = v
	return func() { t.tx.want = prev }
}

// setTenant applies want when it is not in effect.
func (t *stmtTx) setTenant(ctx context.Context) error {
	if t.want == t.applied {
		return nil
	}
	if _, err := t.Tx.ExecContext(ctx, `SELECT set_config('app.tenant_id', $1, true)`, t.want); err != nil {
		return fmt.Errorf("set tenant: %w", err)
	}
	t.applied = t.want
	return nil
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := t.setTenant(ctx); err != nil {
		return nil, err
	}
	return t.Tx.QueryContext(ctx, rebind(query), args...)
}

func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// A failure to set the tenant aborts the transaction: the query then
	// fails too, and its Scan reports it.
	_ = t.setTenant(ctx)
	return t.Tx.QueryRowContext(ctx, rebind(query), args...)
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := t.setTenant(ctx); err != nil {
		return nil, err
	}
	return t.Tx.ExecContext(ctx, rebind(query), args...)
}

// rebind turns each '?' outside a quoted string into $1, $2, ….
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var sb strings.Builder
	sb.Grow(len(query) + 16)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
