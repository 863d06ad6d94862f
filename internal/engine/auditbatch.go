package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/store"
)

// auditBatch group-commits entries that are appended on their own (reads,
// failures, denials): every read must have its entry durably committed
// before its answer leaves, and each commit costs an fsync. Concurrent
// callers therefore share commits: the first caller with nobody writing
// becomes the leader and writes every entry queued so far in one
// transaction; callers arriving meanwhile queue up, and when the leader is
// done it hands the lead to the oldest of them, which writes the whole
// queue at once. Nobody waits for more than the commit in progress plus
// its own, and a lone caller writes at once: no timer, no goroutine.
type auditBatch struct {
	mu      sync.Mutex
	writing bool
	queue   []*pendingEntry
}

// pendingEntry is one entry waiting for a commit. done receives exactly one
// value: the commit's error, or errLead when the caller must write the
// queue itself.
type pendingEntry struct {
	entry *engram.AuditEntry
	mac   []byte
	rec   *store.AuditRecord
	done  chan error
}

// errBatchAborted is what waiters get when the leader's write panicked.
var errBatchAborted = errors.New("audit batch: the commit was aborted")

// errLead is the hand-off signal, never returned to callers.
var errLead = &engram.Error{Code: engram.CodeInternal, Message: "audit batch: take the lead"}

// append commits entry (chained under mac) and returns its record once the
// commit is durable.
func (b *auditBatch) append(ctx context.Context, st store.Store, entry *engram.AuditEntry, mac []byte) (*store.AuditRecord, error) {
	p := &pendingEntry{entry: entry, mac: mac, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.writing {
		b.mu.Unlock()
		// Wait even if ctx ends: the entry may already be in a commit, and
		// the caller must learn whether its action was recorded.
		if err := <-p.done; err != errLead {
			return p.rec, err
		}
		b.mu.Lock()
	}
	b.writing = true
	batch := b.queue
	b.queue = nil
	b.mu.Unlock()

	// Whatever happens below (a panic included), the lead passes on or
	// ends: a stuck writing flag would block every later read.
	notified := false
	defer func() {
		if !notified { // a panic below: the batch's waiters must not hang
			for _, q := range batch {
				if q != p {
					q.done <- errBatchAborted
				}
			}
		}
		b.mu.Lock()
		if len(b.queue) > 0 {
			b.queue[0].done <- errLead // writing stays true: the lead passes on
		} else {
			b.writing = false
		}
		b.mu.Unlock()
	}()

	// The batch's write must not fail because the leader's client went
	// away: the other entries in it belong to other requests.
	wctx := context.WithoutCancel(ctx)
	ordered := lockOrder(batch)
	err := st.Write(wctx, func(tx store.Tx) error {
		for _, q := range ordered {
			r, err := audit.Append(wctx, tx, q.mac, q.entry)
			if err != nil {
				return err
			}
			q.rec = r
		}
		return nil
	})
	for _, q := range batch {
		if err != nil {
			q.rec = nil
		}
		if q != p {
			q.done <- err
		}
	}
	notified = true
	return p.rec, err
}

// lockOrder returns the batch in the order its chains are appended: by
// tenant id, the system chain ("") last, each chain's entries in the order
// they came. A store that locks per tenant (PostgreSQL) takes a tenant's
// lock at its first entry: batches on several nodes that all take them in
// one order, and the system chain last as every other write does (an
// erasure: its tenant, then the system chain), cannot wait for each other
// in a cycle.
func lockOrder(batch []*pendingEntry) []*pendingEntry {
	ordered := slices.Clone(batch)
	slices.SortStableFunc(ordered, func(a, b *pendingEntry) int {
		x, y := a.entry.TenantID, b.entry.TenantID
		switch {
		case x == y:
			return 0
		case x == "":
			return 1
		case y == "":
			return -1
		}
		return strings.Compare(x, y)
	})
	return ordered
}
