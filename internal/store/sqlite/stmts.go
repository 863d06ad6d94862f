package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// maxCachedStmts bounds the statements a pool keeps prepared. The store's
// queries are constant strings, plus IN lists whose length varies; past the
// bound a query is prepared for each use, as without the cache.
const maxCachedStmts = 512

// maxCachedParams: a query with more placeholders than this (a long IN
// list) is not cached, so that the varying lengths of a list do not fill
// the cache.
const maxCachedParams = 32

// stmtCache keeps the store's statements prepared on one pool, so that a
// transaction binds and steps them instead of parsing and planning its SQL
// again: parsing was a fifth of the server's CPU on a read (the API key,
// the audit chain head and entries, the memory).
//
// A statement missing from the cache runs unprepared, and is prepared on
// the pool in the background: preparing it from inside the transaction
// would wait for a connection of the pool, which for the writer (one
// connection) is the one the transaction holds.
type stmtCache struct {
	pool *sql.DB

	mu      sync.RWMutex         // every query reads the map: hits share the lock
	stmts   map[string]*sql.Stmt // nil value: being prepared, or failed to
	closed  bool
	pending sync.WaitGroup
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: make(map[string]*sql.Stmt)}
}

// get returns query's prepared statement, or nil when it is not prepared
// (yet): then it starts preparing it unless it is not to be cached.
func (c *stmtCache) get(query string) *sql.Stmt {
	c.mu.RLock()
	s, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok = c.stmts[query]
	if ok || c.closed || len(c.stmts) >= maxCachedStmts || strings.Count(query, "?") > maxCachedParams {
		return s
	}
	c.stmts[query] = nil
	c.pending.Add(1)
	go func() {
		defer c.pending.Done()
		s, err := c.pool.PrepareContext(context.Background(), query)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case err != nil:
			// Left nil: the query runs unprepared, and reports its own
			// error where it runs.
		case c.closed:
			_ = s.Close()
		default:
			c.stmts[query] = s
		}
	}()
	return nil
}

// close closes the prepared statements; the pool is closed after it.
func (c *stmtCache) close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.pending.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for _, s := range c.stmts {
		if s != nil {
			if err := s.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	clear(c.stmts)
	return first
}

// stmtTx is a transaction whose statements come from the cache when they
// are prepared there.
type stmtTx struct {
	*sql.Tx
	stmts *stmtCache
}

func (t stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.stmts.get(query); s != nil {
		return t.Tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmts.get(query); s != nil {
		return t.Tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

func (t stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.stmts.get(query); s != nil {
		return t.Tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}
