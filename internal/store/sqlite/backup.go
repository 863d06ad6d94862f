package sqlite

import (
	"context"
	"fmt"
	"os"
)

// CopyTo writes a consistent copy of the database to path, a file that
// must not exist: VACUUM INTO reads one snapshot in a read transaction, so
// it runs beside writers (of this process or another, in WAL mode) and
// copies exactly the transactions committed when it began. A raw copy of
// the file and its log could tear between them. The copy holds no free
// pages, so nothing an erasure zeroed or freed comes along.
func (db *DB) CopyTo(ctx context.Context, path string) error {
	// VACUUM INTO would create the file with the umask's mode; an empty
	// 0600 file made first is one it accepts and keeps.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("copy database: %w", err)
	}
	// The writer connection, because readers are query_only, which
	// refuses VACUUM even INTO another file. It takes no write lock: the
	// statement outside a transaction only reads this database.
	if _, err := db.writer.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("copy database: %w", err)
	}
	return nil
}
