package sqlite

import (
	"context"
	"fmt"
)

// SetMaxPageCount caps the database file's size on the writer connection
// (PRAGMA max_page_count), so that a test gets SQLite's real SQLITE_FULL
// without filling a disk. n = 0 lifts the cap to SQLite's maximum. It
// returns the current page count.
func SetMaxPageCount(ctx context.Context, db *DB, n int) (int, error) {
	if n == 0 {
		n = 0xfffffffe
	}
	var pages, max int
	if err := db.writer.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		return 0, err
	}
	if err := db.writer.QueryRowContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, n)).Scan(&max); err != nil {
		return 0, err
	}
	return pages, nil
}
