package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// leaseStore is the real SQLite store whose leases are held elsewhere
// until the test hands them over, as another node on a shared database
// would hold them; it counts the write transactions and lease calls.
type leaseStore struct {
	store.Store
	mu       sync.Mutex
	ours     bool
	leads    map[string]int
	resigned map[string]int
	writes   int
}

func (s *leaseStore) Lead(_ context.Context, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leads[name]++
	return s.ours, nil
}

func (s *leaseStore) Resign(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resigned[name]++
}

func (s *leaseStore) Write(ctx context.Context, fn func(store.Tx) error) error {
	s.mu.Lock()
	s.writes++
	s.mu.Unlock()
	return s.Store.Write(ctx, fn)
}

// TestBackgroundWorkUnderLease: the maintenance and audit-sealing loops do
// no work (no write transaction) while another node holds their leases,
// only try them each tick; once theirs, they work; stopped, they resign.
func TestBackgroundWorkUnderLease(t *testing.T) {
	st := &leaseStore{leads: map[string]int{}, resigned: map[string]int{}}
	e := testserver.OpenEngineOver(t, t.TempDir(), nil, func(s store.Store) store.Store { st.Store = s; return st })
	st.mu.Lock()
	st.writes = 0
	st.mu.Unlock()
	locked := func(f func() bool) func() bool {
		return func() bool { st.mu.Lock(); defer st.mu.Unlock(); return f() }
	}

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	report := func(err error) { t.Errorf("background work: %v", err) }
	wg.Go(func() { e.RunMaintenance(ctx, 5*time.Millisecond, report) })
	wg.Go(func() {
		e.RunAuditSealer(ctx, 5*time.Millisecond, checkpoint.Policy{MaxEntries: 1, MaxAge: time.Millisecond}, report)
	})
	testserver.Eventually(t, "three tries of each lease", locked(func() bool {
		return st.leads[engine.WorkMaintenance] >= 3 && st.leads[engine.WorkAuditSeal] >= 3
	}))
	if locked(func() bool { return st.writes != 0 })() {
		t.Fatal("a node without the leases wrote")
	}
	if e.Leading(engine.WorkMaintenance) || e.Leading(engine.WorkAuditSeal) {
		t.Fatal("Leading without the leases")
	}

	st.mu.Lock()
	st.ours = true
	st.mu.Unlock()
	// Maintenance sweeps idempotency records in a write transaction on
	// every round it leads.
	testserver.Eventually(t, "maintenance to work", locked(func() bool { return st.writes > 0 }))
	testserver.Eventually(t, "Leading", func() bool { return e.Leading(engine.WorkMaintenance) && e.Leading(engine.WorkAuditSeal) })

	cancel()
	wg.Wait()
	if locked(func() bool { return st.resigned[engine.WorkMaintenance] != 1 || st.resigned[engine.WorkAuditSeal] != 1 })() {
		t.Fatalf("resigned %v, want each lease once", st.resigned)
	}
	if e.Leading(engine.WorkMaintenance) || e.Leading(engine.WorkAuditSeal) {
		t.Fatal("still Leading after the loops stopped")
	}
}
