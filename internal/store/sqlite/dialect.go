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

// newTx is the store.Tx of one transaction: the shared queries over its
// statements (prepared from the cache when they are there). SQLite has no
// row-level security, so nothing is scoped.
func newTx(st stmtTx) *tx {
	t := &tx{tx: st}
	t.Tx = sqlstore.New(&t.tx, dialect, nil)
	return t
}
