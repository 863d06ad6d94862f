package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/engram-memory/engram/internal/store"
)

var _ store.Notifier = (*DB)(nil)

// notifyChannel is the channel migrations/00004_index_changes.sql
// notifies on, at commit of each transaction that changed a tenant's
// memories or destroyed one of its keys: the payload is "m:", "s:" or
// "k:" (memories, a subject key, another key) and the tenant id.
// PostgreSQL sends one notification per distinct payload per transaction.
const notifyChannel = "engram_changes"

// Listen implements store.Notifier on a connection of its own: one of the
// pool's, held for as long as it listens — the pool grows by one while it
// does, so requests keep pool_max_conns — and discarded, never returned to
// the pool, when it fails or ctx ends. It then takes another, after a pause that
// grows from 100 ms to 10 s while connecting fails. LISTEN needs a
// session: behind PgBouncer in transaction pooling it does not work (see
// docs/OPERATIONS.md); the caches are then as correct, only later.
func (db *DB) Listen(ctx context.Context, fn func(store.Change), fail func(error)) {
	if n := db.pool.Stats().MaxOpenConnections; n > 0 {
		db.pool.SetMaxOpenConns(n + 1)
		defer db.pool.SetMaxOpenConns(n)
	}
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		listened, err := db.listen(ctx, fn)
		if ctx.Err() != nil {
			return
		}
		if listened {
			pause = 100 * time.Millisecond
		}
		if fail != nil && err != nil {
			fail(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Second)
	}
}

// listen runs one connection's LISTEN until it fails; listened reports
// whether LISTEN took effect.
func (db *DB) listen(ctx context.Context, fn func(store.Change)) (listened bool, err error) {
	conn, err := db.pool.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("listen: not a pgx connection")
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
			return errors.Join(err, driver.ErrBadConn)
		}
		listened = true
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				// Never back in the pool, still listening: discarded.
				return errors.Join(err, driver.ErrBadConn)
			}
			if c, ok := parseChange(n.Payload); ok {
				fn(c)
			}
		}
	})
	return listened, err
}

// parseChange reads a notification's payload.
func parseChange(payload string) (store.Change, bool) {
	kind, tenant, ok := strings.Cut(payload, ":")
	if !ok {
		return store.Change{}, false
	}
	c := store.Change{TenantID: tenant}
	switch kind {
	case "m":
		c.Memories = true
	case "s":
		c.SubjectKeys = true
	case "k":
		c.Keys = true
	default:
		return store.Change{}, false
	}
	return c, true
}
