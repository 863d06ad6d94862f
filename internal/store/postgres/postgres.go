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
// Writes are serialised per tenant, on every node, by transaction-level
// advisory locks that a write transaction takes before its first statement
// for a tenant (locks.go): writes of one tenant (and of the system chain)
// wait for each other, writes of different tenants run at once, and a
// write that reaches across tenants waits for every other writer and
// excludes them. Reads run in REPEATABLE READ, READ ONLY transactions: one
// snapshot each, beside any write.
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

// defaultMaxConns bounds the pool unless the DSN's pool_max_conns says
// otherwise: the writers plus concurrent readers.
const defaultMaxConns = 16

// DB is a store in one PostgreSQL database. It is safe for concurrent use.
type DB struct {
	pool *sql.DB
	// writers bounds this process's write transactions (pool_max_writers):
	// beyond it writers wait here, not each on a connection of the pool
	// blocked on an advisory lock, so that reads keep connections.
	writers chan struct{}
	// gates queue this process's writers per tenant (locks.go).
	gates gates
	// begins bounds the attempts to begin one transaction: one per pooled
	// connection that may have died, and a fresh one (see begin).
	begins int
	leases leases // store.Leases (leases.go)
}

// Open connects to the database named by dsn (a postgres:// URL, with
// libpq's parameters: sslmode, sslrootcert, sslcert, sslkey, …) and brings
// its schema up to date. Some parameters are the pool's, not the server's
// (see poolParams): pool_max_conns (default 16, at least 2: a write and a
// read at once) bounds the connections this node opens, pool_max_writers
// its concurrent write transactions, pool_max_conn_idle_time and
// pool_max_conn_lifetime how long a connection is kept.
func Open(ctx context.Context, dsn string) (*DB, error) {
	dsn, pc, err := poolParams(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pool.SetMaxOpenConns(pc.maxConns)
	pool.SetMaxIdleConns(pc.maxConns)
	pool.SetConnMaxIdleTime(pc.idleTime)
	pool.SetConnMaxLifetime(pc.lifetime)
	if err := pool.PingContext(ctx); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		_ = pool.Close()
		return nil, err
	}
	return &DB{pool: pool, writers: make(chan struct{}, pc.maxWriters), begins: pc.maxConns + 1}, nil
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

// poolConfig is the pool's own settings, from the store URL.
type poolConfig struct {
	maxConns, maxWriters int
	idleTime, lifetime   time.Duration
}

// poolParams takes the pool's own parameters out of a postgres:// URL (pgx
// would send them to the server as settings): pool_max_conns (default 16,
// at least 2), pool_max_writers (default half of pool_max_conns, between 1
// and pool_max_conns-1, so that reads always have a connection),
// pool_max_conn_idle_time (a Go duration, default 5m: an idle connection
// is closed after it) and pool_max_conn_lifetime (default 0, no limit: a
// connection is closed once that old, e.g. to follow a failover behind a
// DNS name). A key=value string is passed on as it is, with the defaults.
func poolParams(dsn string) (string, poolConfig, error) {
	pc := poolConfig{maxConns: defaultMaxConns, idleTime: 5 * time.Minute}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// (Not echoed: it may hold a password.)
		pc.maxWriters = pc.maxConns / 2
		return dsn, pc, nil
	}
	q := u.Query()
	take := func(name string, parse func(string) error) error {
		v := q.Get(name)
		if v == "" {
			return nil
		}
		q.Del(name)
		return parse(v)
	}
	count := func(name string, min int, dst *int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < min {
				return fmt.Errorf("%s: want a whole number of at least %d", name, min)
			}
			*dst = n
			return nil
		}
	}
	duration := func(name string, dst *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("%s: want a duration such as 5m or 1h", name)
			}
			*dst = d
			return nil
		}
	}
	for _, err := range []error{
		take("pool_max_conns", count("pool_max_conns", 2, &pc.maxConns)),
		take("pool_max_writers", count("pool_max_writers", 1, &pc.maxWriters)),
		take("pool_max_conn_idle_time", duration("pool_max_conn_idle_time", &pc.idleTime)),
		take("pool_max_conn_lifetime", duration("pool_max_conn_lifetime", &pc.lifetime)),
	} {
		if err != nil {
			return "", poolConfig{}, err
		}
	}
	switch {
	case pc.maxWriters == 0:
		pc.maxWriters = pc.maxConns / 2
	case pc.maxWriters >= pc.maxConns:
		return "", poolConfig{}, errors.New("pool_max_writers: want fewer than pool_max_conns")
	}
	u.RawQuery = q.Encode()
	return u.String(), pc, nil
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
		return db.runTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, false, fn)
	})
}

// Write runs fn in a write transaction, committed when fn returns nil.
// Writes of one tenant wait for each other, in this process and on every
// node (locks.go); fn must not call Write itself (it could wait for itself
// forever). When two transactions wait for each other's locks, PostgreSQL
// breaks the cycle by failing one: its Write returns ErrLockCycle, and
// nothing of it was written.
func (db *DB) Write(ctx context.Context, fn func(store.Tx) error) error {
	return run(ctx, func() error {
		select {
		case db.writers <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("wait for the writer: %w", ctx.Err())
		}
		defer func() { <-db.writers }()
		return db.runTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, true, fn)
	})
}

func run(ctx context.Context, do func() error) error {
	err := cycle(full(do()))
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

// begin begins a transaction. A connection the pool kept may have died
// since its last use (the database restarted; stdlib pings only those idle
// for over a second): its BEGIN fails, pgx closes it and the pool drops
// it. Nothing ran, so beginning again on another connection is safe, and
// a node's first requests after a restart do not fail for it. Bounded by
// the pool's size plus one fresh connection; a failure to connect (the
// database is down) or the end of ctx ends it at once.
func (db *DB) begin(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	var err error
	for range db.begins {
		var sqlTx *sql.Tx
		if sqlTx, err = db.pool.BeginTx(ctx, opts); err == nil {
			return sqlTx, nil
		}
		var ce *pgconn.ConnectError
		if ctx.Err() != nil || errors.As(err, &ce) {
			break
		}
	}
	return nil, fmt.Errorf("begin: %w", err)
}

func (db *DB) runTx(ctx context.Context, opts *sql.TxOptions, write bool, fn func(store.Tx) error) error {
	sqlTx, err := db.begin(ctx, opts)
	if err != nil {
		return err
	}
	done := false
	t := withQueries(&tx{tx: stmtTx{Tx: sqlTx, locks: locks{write: write, gates: &db.gates}}})
	// Deferred rather than on the error path alone: a panic, or a test's
	// t.FailNow, must not keep the transaction open. The tenant's gate
	// opens once the transaction (and its advisory locks) has ended.
	defer func() {
		if !done {
			_ = sqlTx.Rollback()
		}
		t.tx.locks.done()
	}()
	if err := fn(t); err != nil {
		done = true
		_ = sqlTx.Rollback()
		// A lock that could not be taken aborted the transaction: the
		// statement that follows fails for that, not for itself.
		if lerr := t.tx.locks.err; lerr != nil && !errors.Is(err, lerr) {
			return fmt.Errorf("%w (%w)", err, lerr)
		}
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
// its connection itself), and which, before the first statement that
// needs a different one, sets the tenant that row-level security lets its
// statements see (migrations/00003_rls.sql) and, in a write, takes the
// advisory locks for it (locks.go).
type stmtTx struct {
	*sql.Tx
	// want is the app.tenant_id the next statement runs under, applied
	// the one in effect ("" until the first is set: nothing visible).
	want, applied string
	locks         locks
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

// setTenant takes the locks the next statement (query) needs under want,
// in a write, and applies want when it is not in effect.
func (t *stmtTx) setTenant(ctx context.Context, query string) error {
	if err := t.locks.take(ctx, t.Tx, t.want, query); err != nil {
		return err
	}
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
	if err := t.setTenant(ctx, query); err != nil {
		return nil, err
	}
	return t.Tx.QueryContext(ctx, rebind(query), args...)
}

func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	// A failure to set the tenant or take a lock aborts the transaction:
	// the query then fails too, and its Scan reports it (runTx adds the
	// lock's own error).
	_ = t.setTenant(ctx, query)
	return t.Tx.QueryRowContext(ctx, rebind(query), args...)
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := t.setTenant(ctx, query); err != nil {
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
