package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/store"
)

// TestStmtCache: a query runs unprepared the first time and is prepared in
// the background, also on the one-connection writer pool whose connection
// the transaction holds; later transactions use the prepared statement and
// get the same answers. A long IN list is never cached.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	const q = `SELECT ? + 1`
	long := `SELECT 1 WHERE 1 IN (?` + strings.Repeat(`,?`, maxCachedParams) + `)`
	longArgs := make([]any, maxCachedParams+1)
	for i := range longArgs {
		longArgs[i] = i
	}
	for _, c := range []struct {
		name  string
		run   func(context.Context, func(store.Tx) error) error
		cache *stmtCache
	}{{"writer", db.Write, db.writerStmts}, {"reader", db.Read, db.readerStmts}} {
		for i := 0; i < 3; i++ {
			var n, one int
			err := c.run(ctx, func(st store.Tx) error {
				tx := st.(*tx)
				if err := tx.tx.QueryRowContext(ctx, q, i).Scan(&n); err != nil {
					return err
				}
				return tx.tx.QueryRowContext(ctx, long, longArgs...).Scan(&one)
			})
			if err != nil {
				t.Fatalf("%s, run %d: %v", c.name, i, err)
			}
			if n != i+1 || one != 1 {
				t.Fatalf("%s, run %d: got %d, %d", c.name, i, n, one)
			}
			c.cache.pending.Wait()
			c.cache.mu.Lock()
			s, cached := c.cache.stmts[q]
			_, longCached := c.cache.stmts[long]
			c.cache.mu.Unlock()
			if s == nil || !cached {
				t.Fatalf("%s, run %d: %q is not prepared", c.name, i, q)
			}
			if longCached {
				t.Fatalf("%s: a query with %d placeholders was cached", c.name, maxCachedParams+1)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
