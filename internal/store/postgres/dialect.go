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

// withQueries gives t the shared queries (the store.Tx methods), run on its
// statements (rebound to $n), each method scoped (Scope, ScopeAll) to the
// tenant whose rows row-level security lets it see; every tx is made with
// it.
func withQueries(t *tx) *tx {
	t.Tx = sqlstore.New(&t.tx, dialect, t)
	return t
}

// Scope and ScopeAll make tx the shared queries' sqlstore.Scoper.
func (t *tx) Scope(tenantID string) func() { return t.scope(tenantID) }

func (t *tx) ScopeAll() func() { return t.scopeAll() }
