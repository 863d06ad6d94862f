package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/engram-memory/engram"
)

// Write transactions are serialised per tenant by transaction-level
// advisory locks (released at commit or rollback, so they need no session
// of their own and work under PgBouncer's transaction pooling):
//
//   - globalLock, shared, by every transaction that writes one tenant's
//     rows (or the system chain's), and a tenant lock, exclusive: the
//     tenant's id hashed into tenantLockClass ("" for the system rows —
//     the system audit chain, the pepper). Taken before the first
//     statement that runs under that tenant's scope, whether it reads or
//     writes: an audit append reads the chain head and writes the next
//     entry, and the read must not race another writer of the chain.
//   - globalLock, exclusive, by a transaction whose first statement reaches
//     across tenants (scopeAll: tenants, credentials looked up by digest,
//     sweeps) or runs without a tenant: it waits for every writer and
//     excludes them, the coarse lock every write took before.
//
// The tenant lock comes before the global one, so a writer queued behind a
// busy tenant holds nothing that others wait for. A transaction holding
// tenant locks may take another tenant's (or the system's) when it needs
// it: that is the order an erasure follows (the tenant, then the system
// chain). A cross-tenant read in it (the tenant's own record, a login by
// e-mail) takes nothing more — the global lock in shared mode already
// keeps out every cross-tenant writer — and a cross-tenant write upgrades
// the global lock to exclusive. Two transactions that each hold what the
// other waits for (two upgrades, or two tenants taken in opposite orders)
// are a cycle PostgreSQL detects within deadlock_timeout (1 s by default)
// and breaks by failing one with SQLSTATE 40P01: that Write returns
// ErrLockCycle and wrote nothing. The store does not run fn again itself —
// fn may have effects outside the transaction — its caller may.
//
// hashtext collisions make two tenants share a lock: slower, never wrong.
const (
	// globalLock is the single-key advisory lock ("engram" in ASCII): the
	// key every writer took, exclusively, before locks were per tenant.
	globalLock = 0x656e6772616d
	// tenantLockClass is the first key of the two-key tenant locks
	// ("engr"); the second is hashtext(tenant id). One-key and two-key
	// advisory locks never collide.
	tenantLockClass = 0x656e6772
)

// ErrLockCycle is what a write fails with when PostgreSQL broke a cycle of
// transactions waiting for each other's locks by cancelling it: nothing was
// written, and running it again is safe.
var ErrLockCycle error = &engram.Error{Code: engram.CodeUnavailable,
	Message: "the request collided with another one and was not carried out; try again"}

// lockMode is what a write transaction holds of globalLock.
type lockMode int

const (
	lockNone lockMode = iota
	lockShared
	lockExclusive
)

// gates queue this process's writers of one tenant in the process, so
// that they wait in line here rather than each on a connection blocked in
// PostgreSQL's lock queue (which costs a hot tenant's writes about half
// their throughput). Only a transaction that holds no lock yet waits at a
// gate: one that holds locks goes straight to PostgreSQL, whose deadlock
// detector sees every wait there, so no cycle can hide in the process.
type gates struct {
	mu sync.Mutex
	m  map[string]*gate
}

type gate struct {
	ch   chan struct{} // a semaphore of one
	refs int           // holders and waiters: the gate is dropped at 0
}

// pass waits for tenant's gate and returns the function that opens it
// again.
func (g *gates) pass(ctx context.Context, tenant string) (func(), error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[string]*gate{}
	}
	gt := g.m[tenant]
	if gt == nil {
		gt = &gate{ch: make(chan struct{}, 1)}
		g.m[tenant] = gt
	}
	gt.refs++
	g.mu.Unlock()
	drop := func() {
		g.mu.Lock()
		if gt.refs--; gt.refs == 0 {
			delete(g.m, tenant)
		}
		g.mu.Unlock()
	}
	select {
	case gt.ch <- struct{}{}:
		return func() { <-gt.ch; drop() }, nil
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}

// locks is a transaction's advisory locks.
type locks struct {
	gates   *gates // the process's per-tenant gates
	release func() // opens the gate passed, if any
	write   bool   // a read-only transaction takes none
	mode    lockMode
	tenants map[string]bool // tenant locks held ("" the system rows)
	// err is the failure to take a lock, which aborted the transaction:
	// kept so that the statements failing after it do not hide it.
	err error
}

// done opens the gate the transaction passed: call it once the
// transaction has ended (its advisory locks with it).
func (l *locks) done() {
	if l.release != nil {
		l.release()
		l.release = nil
	}
}

// take takes the locks a statement (query) needs under scope (the value of
// app.tenant_id it runs under) that the transaction does not hold yet.
func (l *locks) take(ctx context.Context, tx *sql.Tx, scope, query string) error {
	if !l.write || l.mode == lockExclusive || l.err != nil {
		return nil
	}
	var err error
	switch scope {
	case rlsAll, rlsNone:
		if l.mode == lockShared && readOnly(query) {
			return nil
		}
		_, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(globalLock))
		if err == nil {
			l.mode = lockExclusive
		}
	default:
		tenant := scope
		if scope == rlsSystem {
			tenant = ""
		}
		if l.tenants[tenant] {
			return nil
		}
		if l.mode == lockNone {
			if l.release, err = l.gates.pass(ctx, tenant); err != nil {
				break
			}
			_, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2)), pg_advisory_xact_lock_shared($3)`,
				int32(tenantLockClass), tenant, int64(globalLock))
		} else {
			_, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(tenantLockClass), tenant)
		}
		if err == nil {
			l.mode = lockShared
			if l.tenants == nil {
				l.tenants = map[string]bool{}
			}
			l.tenants[tenant] = true
		}
	}
	if err != nil {
		l.err = fmt.Errorf("take the write lock: %w", err)
		return l.err
	}
	return nil
}

// readOnly reports whether query only reads: a plain SELECT, not one that
// locks rows for a later write.
func readOnly(query string) bool {
	q := " " + strings.Join(strings.Fields(strings.ToUpper(query)), " ") + " "
	return strings.HasPrefix(q, " SELECT ") && !strings.Contains(q, " FOR UPDATE ") && !strings.Contains(q, " FOR SHARE ") &&
		!strings.Contains(q, " FOR NO KEY UPDATE ") && !strings.Contains(q, " FOR KEY SHARE ")
}

// cycle marks a transaction PostgreSQL cancelled to break a deadlock
// (SQLSTATE 40P01), or a serialization failure (40001), as ErrLockCycle.
func cycle(err error) error {
	if err == nil || errors.Is(err, ErrLockCycle) {
		return err
	}
	if s := sqlState(err); s == "40P01" || s == "40001" {
		return fmt.Errorf("%w: %w", ErrLockCycle, err)
	}
	return err
}
