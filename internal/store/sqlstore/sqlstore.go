// Package sqlstore is the SQL of the stores, written once: the store.Tx
// methods over a Querier (one database/sql transaction, as each store wraps
// it) and a Dialect that says what differs between SQLite and PostgreSQL.
//
// The queries are written with '?' markers, in the SQL both databases
// accept (ON CONFLICT DO NOTHING, FALSE, CAST, aliased subqueries). What
// they do not share is the Dialect's: SQLite's INDEXED BY hints (its planner
// needs them where they are given; PostgreSQL has none), the scalar MAX that
// PostgreSQL calls GREATEST, how a time is stored (SQLite: INTEGER Unix
// microseconds; PostgreSQL: timestamptz) and which error is a unique
// violation. The stores keep what is theirs: opening, connections and
// transactions, migrations, the rebinding of '?' to $n (PostgreSQL), the
// prepared-statement cache (SQLite), and the tenant scope that row-level
// security enforces (PostgreSQL), which each method here declares through
// a Scoper.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

// Querier is the part of a database/sql transaction the queries use. Each
// store passes its own wrapper of *sql.Tx (prepared statements, rebinding,
// the tenant setting).
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Scoper sets the tenant whose rows a method's statements may see
// (PostgreSQL's row-level security). Each returns the function, to defer,
// that gives the caller's scope back. A nil Scoper scopes nothing.
type Scoper interface {
	// Scope shows tenantID's rows; "" means the system rows.
	Scope(tenantID string) func()
	// ScopeAll shows every tenant's rows, for a cross-tenant method.
	ScopeAll() func()
}

// Dialect is what differs between the stores' SQL.
type Dialect struct {
	// IndexHints: the database takes SQLite's INDEXED BY, and the queries
	// that name an index want it (its planner picks a worse one alone).
	IndexHints bool
	// NativeTime: times are bound and scanned as time.Time (timestamptz),
	// not as INTEGER Unix microseconds.
	NativeTime bool
	// Greatest is the scalar function returning the larger of its
	// arguments: MAX in SQLite, GREATEST in PostgreSQL.
	Greatest string
	// Conflict reports whether err is a unique or primary-key violation.
	Conflict func(error) bool
}

// Tx implements store.Tx on one transaction. The stores embed it, by
// value, in their own transaction type (one allocation per transaction).
type Tx struct {
	tx Querier
	d  *Dialect
	s  Scoper
}

// New returns the store.Tx methods over q in dialect d, scoped by s (nil:
// no scoping).
func New(q Querier, d *Dialect, s Scoper) Tx {
	return Tx{tx: q, d: d, s: s}
}

func noScope() {}

// scope limits the method's statements to tenantID's rows ("": the system
// rows) until the returned function is called.
func (t *Tx) scope(tenantID string) func() {
	if t.s == nil {
		return noScope
	}
	return t.s.Scope(tenantID)
}

// scopeAll lets a cross-tenant method see every tenant's rows.
func (t *Tx) scopeAll() func() {
	if t.s == nil {
		return noScope
	}
	return t.s.ScopeAll()
}

// scopeOrAll is the scope of a method whose tenant "" means every tenant.
func (t *Tx) scopeOrAll(tenantID string) func() {
	if tenantID == "" {
		return t.scopeAll()
	}
	return t.scope(tenantID)
}

// Index hints, for hint.
const (
	byDeletionsDue   = ` INDEXED BY deletions_due`
	byMemoriesMAC    = ` INDEXED BY memories_mac`
	byMemoriesStats  = ` INDEXED BY memories_stats`
	byPostingsMemory = ` INDEXED BY postings_memory`
)

// hint returns an INDEXED BY clause where the dialect takes one.
func (t *Tx) hint(clause string) string {
	if t.d.IndexHints {
		return clause
	}
	return ""
}

// wrapErr is the dialect's WrapErr.
func (t *Tx) wrapErr(op string, err error) error { return t.d.WrapErr(op, err) }

// WrapErr adds what failed (op) to err, and maps what callers branch on to
// the store sentinels: a unique violation to store.ErrConflict, a missing
// row (sql.ErrNoRows) to store.ErrNotFound. nil stays nil. It is for a
// store's own queries, beside the shared ones.
func (d *Dialect) WrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if d.Conflict != nil && d.Conflict(err) {
		return fmt.Errorf("%s: %w: %w", op, store.ErrConflict, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// mustAffect turns an UPDATE or DELETE that matched nothing into
// ErrNotFound.
func (t *Tx) mustAffect(op string, res sql.Result, err error) error {
	if err != nil {
		return t.wrapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.wrapErr(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// at is tm as the dialect binds a time: Unix microseconds, or a UTC
// timestamp truncated to the microsecond (the contract's precision).
func (t *Tx) at(tm time.Time) any {
	if t.d.NativeTime {
		return tm.UTC().Truncate(time.Microsecond)
	}
	return tm.UnixMicro()
}

// atOrNil is at, or NULL for nil.
func (t *Tx) atOrNil(tm *time.Time) any {
	if tm == nil {
		return nil
	}
	return t.at(*tm)
}

// stamp scans a time column of either dialect: INTEGER Unix microseconds
// or a timestamp. NULL is an error (nullStamp takes it).
type stamp struct{ t time.Time }

func (s *stamp) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		s.t = time.UnixMicro(v).UTC()
	case time.Time:
		s.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// nullStamp is a stamp that may be NULL.
type nullStamp struct {
	stamp
	valid bool
}

func (n *nullStamp) Scan(src any) error {
	if src == nil {
		n.valid = false
		return nil
	}
	n.valid = true
	return n.stamp.Scan(src)
}

// ptr is the time, or nil when NULL.
func (n nullStamp) ptr() *time.Time {
	if !n.valid {
		return nil
	}
	t := n.t
	return &t
}

// maxParams bounds the bound parameters of one IN list, well below either
// database's limit, so that a long list is split rather than refused.
const maxParams = 500

// placeholders returns n comma-separated parameter markers.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?,", n-1) + "?"
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// appendRows runs q and appends each row, as scan reads it, to out. On an
// error it returns nil and the error, wrapped with op.
func appendRows[T any](ctx context.Context, t *Tx, out []T, op string, scan func(scanner) (*T, error), q string, args ...any) ([]T, error) {
	rows, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, t.wrapErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.wrapErr(op, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrapErr(op, err)
	}
	return out, nil
}

// queryRows is appendRows to an empty (not nil) slice.
func queryRows[T any](ctx context.Context, t *Tx, op string, scan func(scanner) (*T, error), q string, args ...any) ([]T, error) {
	return appendRows(ctx, t, []T{}, op, scan, q, args...)
}

// scanString scans a row of one text column.
func scanString(s scanner) (*string, error) {
	var v string
	return &v, s.Scan(&v)
}

// scanRow reads row, a query's one row, with scan; no row is
// store.ErrNotFound.
func scanRow[T any](t *Tx, op string, scan func(scanner) (*T, error), row *sql.Row) (*T, error) {
	v, err := scan(row)
	if err != nil {
		return nil, t.wrapErr(op, err)
	}
	return v, nil
}
