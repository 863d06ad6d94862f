package postgres

import (
	"context"
	"fmt"
	"strings"
)

// erasureTables are the tables an erasure deletes sealed records or
// wrapped keys from (erase.go, the deletion sweep, entity and key
// shredding, the snapshot-shredding trigger): the tables Checkpoint
// vacuums.
var erasureTables = []string{
	"wrapped_keys", "tenant_keks",
	"memories", "history", "postings", "episodes",
	"entities", "entity_keys", "entity_mentions", "facts", "memory_topics",
	"index_snapshots", "index_snapshot_chunks",
	"tenant_settings", "idempotency", "api_keys", "accounts",
}

// Checkpoint is PostgreSQL's counterpart of the embedded store's
// post-erasure WAL checkpoint (the engine calls it after every erasure
// commits): a plain VACUUM of the tables erasures delete from, so that the
// erased rows' dead tuples — sealed records and, above all, wrapped
// subject keys, which with the KEK would undo the crypto-shredding — are
// pruned from their pages now rather than whenever autovacuum comes by.
//
// It is best effort, as the SQLite checkpoint is: a tuple that a
// transaction open in this database at that moment may still see (a
// long read, another node's snapshot, a replication slot or a standby's
// hot_standby_feedback) is kept and left to autovacuum. It does not touch
// the WAL, its archive or a standby, which hold the erased rows until
// they are recycled or expire (docs/SECURITY.md). VACUUM runs outside any
// transaction, needs to own the tables (Engram's role does) and waits for
// another VACUUM of the same table, never for readers or writers.
func (db *DB) Checkpoint(ctx context.Context) error {
	if _, err := db.pool.ExecContext(ctx, `VACUUM `+strings.Join(erasureTables, ", ")); err != nil {
		return fmt.Errorf("vacuum after erasure: %w", err)
	}
	return nil
}
