package engine

import (
	"context"
	"fmt"
	"sync"
)

// Background work that one node of those sharing a store does at a time
// (store.Leases): with several nodes on one PostgreSQL database, each loop
// runs its rounds on the node that holds its lease, and the others only
// try to take the lease on each tick, so a node that stops or dies is
// replaced within one period. The work stays safe to run twice (each step
// is a write transaction that re-reads what it changes): the lease saves
// duplicate work and duplicate audit entries, it does not keep data
// correct. On SQLite the one process always leads.
const (
	// WorkMaintenance: RunMaintenance (idempotency, replay-cache and
	// OAuth-code sweeps, vector back-fill, re-encryption after rotation,
	// the deletion sweep).
	WorkMaintenance = "maintenance"
	// WorkAuditSeal: RunAuditSealer (audit sealing, the session sweep, the
	// memory retention sweep).
	WorkAuditSeal = "audit-seal"
	// WorkAuditBackfill: RunAuditBackfill (publishing to the audit sinks
	// what they lack).
	WorkAuditBackfill = "audit-backfill"
)

// Works lists the leased background work, for metrics.
var Works = []string{WorkMaintenance, WorkAuditSeal, WorkAuditBackfill}

// leaderState remembers which work this node led at its last round.
type leaderState struct {
	mu      sync.Mutex
	leading map[string]bool
}

func (s *leaderState) set(work string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leading == nil {
		s.leading = map[string]bool{}
	}
	s.leading[work] = on
}

// lead reports whether this node does the named work this round, taking
// its lease when free. An error (the database unreachable) goes to report
// and counts as not leading: the round would fail anyway.
func (e *Engine) lead(ctx context.Context, work string, report func(error)) bool {
	ok, err := e.st.Lead(ctx, work)
	if err != nil && ctx.Err() == nil && report != nil {
		report(fmt.Errorf("lease %s: %w", work, err))
	}
	e.leads.set(work, ok && err == nil)
	return ok && err == nil
}

// resign gives the work's lease up when its loop stops, so that another
// node takes it at its next tick instead of when this one's connection
// closes.
func (e *Engine) resign(work string) {
	e.st.Resign(work)
	e.leads.set(work, false)
}

// Leading reports whether this node did the named background work (a
// Work… constant) at its last round: for metrics and tests.
func (e *Engine) Leading(work string) bool {
	e.leads.mu.Lock()
	defer e.leads.mu.Unlock()
	return e.leads.leading[work]
}
