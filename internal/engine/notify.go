package engine

import (
	"context"

	"github.com/engram-memory/engram/internal/store"
)

// WatchChanges applies the store's change notifications (store.Notifier:
// PostgreSQL's LISTEN/NOTIFY; the embedded store has none and it returns
// at once) until ctx ends: another node's write makes this node's loaded
// indexes of the tenant catch up in the background, so the next search
// does not wait for it; a key destroyed elsewhere is forgotten here at
// once, and a subject key's destruction (an erasure) drops the tenant's
// indexes and own embeddings at once, rather than at the next search.
// Correctness never depends on it (catchup.go): a notification lost, or a
// node that does not watch, only learns at its next use. serve runs it.
func (e *Engine) WatchChanges(ctx context.Context) {
	n, ok := e.st.(store.Notifier)
	if !ok {
		return
	}
	n.Listen(ctx, func(c store.Change) { e.noteChange(ctx, c) }, func(err error) {
		e.logger().Warn("change notifications interrupted; reconnecting", "component", "engine", "error", err)
	})
}

// noteChange acts on one notification (this node's own writes included:
// their catch-up finds the index current, for one read).
func (e *Engine) noteChange(ctx context.Context, c store.Change) {
	if c.Keys || c.SubjectKeys {
		e.ring.Forget(c.TenantID, "*")
	}
	if c.SubjectKeys {
		e.indexDrop(c.TenantID)
		e.kwDrop(c.TenantID)
		return
	}
	if c.Memories {
		e.catchUpLater(ctx, c.TenantID)
	}
}

// catchUpLater starts a background catch-up of the tenant's loaded
// indexes, unless one is running; a failure is left to the next search.
func (e *Engine) catchUpLater(ctx context.Context, tenantID string) {
	if v := e.vec; v != nil {
		v.mu.Lock()
		tv := v.tenants[tenantID]
		idx, loaded := v.mgr.Peek(tenantID)
		if tv != nil && loaded && !v.catching[tenantID] {
			v.catching[tenantID] = true
			v.saves.Add(1)
			go func() {
				defer v.saves.Done()
				_ = e.catchUp(ctx, tenantID, idx, tv)
				v.mu.Lock()
				delete(v.catching, tenantID)
				v.mu.Unlock()
			}()
		}
		v.mu.Unlock()
	}
	if k := e.kw; k != nil {
		k.mu.Lock()
		t := k.tenants[tenantID]
		if t != nil && t.idx != nil && !k.catching[tenantID] {
			k.catching[tenantID] = true
			idx := t.idx
			k.loads.Add(1)
			go func() {
				defer k.loads.Done()
				_, _ = e.kwCatchUp(ctx, tenantID, idx)
				k.mu.Lock()
				delete(k.catching, tenantID)
				k.mu.Unlock()
			}()
		}
		k.mu.Unlock()
	}
}
