package sqlite

import (
	"errors"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/engram-memory/engram/internal/store/sqlstore"
)

// dialect is SQLite's for the shared queries: INDEXED BY hints where the
// queries give them, times as INTEGER Unix microseconds (they sort and
// compare as numbers), the scalar MAX.
var dialect = &sqlstore.Dialect{
	IndexHints: true,
	Greatest:   "MAX",
	Conflict:   isConflict,
}

// isConflict reports a unique or primary-key violation, by its extended
// result code.
func isConflict(err error) bool {
	var se *modernc.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// withQueries gives t the shared queries (the store.Tx methods), run on its
// statements (prepared from the cache when they are there); every tx is
// made with it. SQLite has no row-level security, so nothing is scoped.
func withQueries(t *tx) *tx {
	t.Tx = sqlstore.New(&t.tx, dialect, nil)
	return t
}
