package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// leaseClass is the first key of every lease's two-key session advisory
// lock ("engr" in ASCII); the second is a hash of the lease's name. Two-key
// locks are a space of their own, apart from the one-key writeLock and
// goose's migration lock.
const leaseClass = 0x656e6772

// leaseKeepalive makes the server notice a node that vanished without
// closing its connection (a network partition, a powered-off host) within
// about a minute, and so free its leases: idle 30 s, then 3 probes 10 s
// apart. (On a Unix socket the settings are accepted and unused: a dead
// process's socket closes at once.)
const leaseKeepalive = `SELECT set_config('tcp_keepalives_idle', '30', false),
	set_config('tcp_keepalives_interval', '10', false),
	set_config('tcp_keepalives_count', '3', false)`

// leases are the session advisory locks this handle holds (store.Leases),
// all on one connection taken from the pool while at least one is held.
// When that session ends — Close, a dead connection, a terminated backend
// — PostgreSQL releases its locks, and another node's next Lead takes them.
// The connection is never given back to the pool while it holds a lock.
type leases struct {
	mu   sync.Mutex
	conn *sql.Conn
	held map[string]bool
}

func leaseKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// Lead takes the named lease with pg_try_advisory_lock on the lease
// connection, or, when this handle holds it already, pings that connection
// to check the session (and so the lock) is still there.
func (db *DB) Lead(ctx context.Context, name string) (bool, error) {
	l := &db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if err := l.conn.PingContext(ctx); err != nil {
			// The session may be gone, and its locks with it; or only ctx
			// ended. Either way the connection is closed, not pooled, so
			// no lock outlives this handle's knowledge of it.
			l.discard()
			return false, fmt.Errorf("lead %s: %w", name, err)
		}
	}
	if l.held[name] {
		return true, nil
	}
	if l.conn == nil {
		c, err := db.pool.Conn(ctx)
		if err != nil {
			return false, fmt.Errorf("lead %s: %w", name, err)
		}
		if _, err := c.ExecContext(ctx, leaseKeepalive); err != nil {
			_ = c.Close()
			return false, fmt.Errorf("lead %s: %w", name, err)
		}
		l.conn = c
	}
	var ok bool
	if err := l.conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, leaseClass, leaseKey(name)).Scan(&ok); err != nil {
		l.discard()
		return false, fmt.Errorf("lead %s: %w", name, err)
	}
	if ok {
		if l.held == nil {
			l.held = map[string]bool{}
		}
		l.held[name] = true
	} else if len(l.held) == 0 {
		// Nothing held: the connection goes back to the pool.
		_ = l.conn.Close()
		l.conn = nil
	}
	return ok, nil
}

// Resign unlocks the named lease. When it was the last one, the connection
// goes back to the pool; when the unlock fails, the connection is closed,
// which releases every lock of its session.
func (db *DB) Resign(name string) {
	l := &db.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.held[name] {
		return
	}
	delete(l.held, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if len(l.held) == 0 {
		if _, err := l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
			l.discard()
			return
		}
		_ = l.conn.Close()
		l.conn = nil
		return
	}
	var ok bool
	if err := l.conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1, $2)`, leaseClass, leaseKey(name)).Scan(&ok); err != nil {
		l.discard()
	}
}

// close ends the lease session, if any, releasing every lease (Close).
func (l *leases) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		l.discard()
	}
}

// discard closes the lease connection for good — database/sql drops a
// connection whose Raw callback answers ErrBadConn instead of pooling it —
// and forgets every lease: the server releases them with the session.
func (l *leases) discard() {
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = l.conn.Close()
	l.conn = nil
	clear(l.held)
}
