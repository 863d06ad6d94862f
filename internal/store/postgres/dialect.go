package postgres

import (
	"github.com/engram-memory/engram/internal/store/sqlstore"
)

// dialect is PostgreSQL's for the shared queries: no index hints,
// timestamptz times, GREATEST for the scalar MAX.
var dialect = &sqlstore.Dialect{
	NativeTime: true,
	Greatest:   "GREATEST",
	Conflict:   func(err error) bool { return sqlState(err) == "23505" },
}

// newTx is the store.Tx of one transaction: the shared queries over its
// statements (rebound to $n), each method scoped to the tenant whose rows
// row-level security lets it see.
func newTx(st stmtTx) *tx {
	t := &tx{tx: st}
	t.Tx = sqlstore.New(&t.tx, dialect, t)
	return t
}

// Scope and ScopeAll make tx the shared queries' sqlstore.Scoper.
func (t *tx) Scope(tenantID string) func() { return t.scope(tenantID) }

func (t *tx) ScopeAll() func() { return t.scopeAll() }
