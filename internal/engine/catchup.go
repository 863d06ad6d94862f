package engine

import (
	"context"
	"fmt"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/search/postings"
	"github.com/engram-memory/engram/internal/search/vector"
	"github.com/engram-memory/engram/internal/store"
)

// Caches across nodes (docs/ARCHITECTURE.md, "Caches across nodes"). A
// tenant's vector index is loaded once and then kept current by this
// engine's writes; another process writing the same store (another node
// on PostgreSQL, an offline CLI command beside serve) changes the tenant
// without telling it. Before the index answers, catchUp compares the
// store's change count (Tx.IndexGeneration, moved by the store itself in
// every writing transaction) with the count the index reflects
// (tenantVectors.gen): equal, the index is current, for one small read;
// moved, the store's change log (Tx.IndexChanges) names the memories
// changed since, and each is read again and put in the index or taken out
// of it. When the log cannot say (pruned, or the index is older than it)
// or a subject key was destroyed since (an erasure: no vector may outlive
// its key), the index is dropped and reloaded. The count is the
// correctness check; a notification from another node (notify.go) only
// makes the next check come early.

// catchUpMax is the most changed memories a catch-up reads one by one;
// more, and the index is reloaded (from a current snapshot if one is).
const catchUpMax = 2000

// errReload: the index was dropped or replaced meanwhile; load it again.
var errReload = fmt.Errorf("vector index changed while catching up: %w", vector.ErrDropped)

// catchUp brings a loaded index up to the store's change count; errReload
// (a vector.ErrDropped) when it dropped the index or found it replaced.
func (e *Engine) catchUp(ctx context.Context, tenantID string, idx *vector.Index, tv *tenantVectors) error {
	// The index is being loaded (-1): the load is as current as a
	// catch-up.
	if behind, err := e.behind(ctx, tenantID, tv.gen.Load()); !behind || err != nil {
		return err
	}
	tv.catchUp.Lock()
	defer tv.catchUp.Unlock()
	seen := tv.gen.Load() // another search may have caught up meanwhile
	var changed []store.Memory
	c, ok, err := e.changesSince(ctx, tenantID, seen, func(tx store.Tx, ids []string) (err error) {
		changed, err = tx.Memories(ctx, tenantID, ids)
		return err
	})
	if err != nil || c.Gen == seen {
		return err
	}
	if !ok {
		e.dropIndexAt(tenantID, idx)
		return errReload
	}
	// Open the vectors before taking the locks (a key may need a read).
	o := e.opener(ctx, tenantID)
	type put struct {
		v    []float32
		meta docMeta
	}
	puts := make(map[string]put, len(changed))
	for i := range changed {
		m := &changed[i]
		if m.VectorModel != e.vec.emb.Model() {
			continue // no vector of this model: out of the index
		}
		v, err := o.vector(m)
		if isUnreadable(err) {
			e.skip(tenantID, "memory", m.ID, err)
			continue
		}
		if err != nil {
			return keyFailure(err)
		}
		puts[m.ID] = put{v, metaOf(m)}
	}
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	tv.mu.Lock()
	defer tv.mu.Unlock()
	if cur, ok := e.vec.mgr.Peek(tenantID); !ok || cur != idx || e.vec.tenants[tenantID] != tv || tv.loading != nil {
		return errReload
	}
	for _, id := range c.IDs {
		if p, ok := puts[id]; ok {
			tv.meta[id] = p.meta
			if err := idx.Add(id, p.v); err != nil {
				return err
			}
		} else {
			idx.Remove(id)
			delete(tv.meta, id)
			e.vec.own.remove(tenantID, id)
		}
		e.vec.changed(tenantID)
	}
	if c.Gen > tv.gen.Load() {
		tv.gen.Store(c.Gen)
	}
	return nil
}

// dropIndexAt drops the tenant's index if it is still idx.
func (e *Engine) dropIndexAt(tenantID string, idx *vector.Index) {
	e.vec.own.drop(tenantID)
	e.vec.mu.Lock()
	defer e.vec.mu.Unlock()
	if cur, ok := e.vec.mgr.Peek(tenantID); ok && cur == idx {
		delete(e.vec.tenants, tenantID)
		e.vec.mgr.Drop(tenantID)
	}
}

// metaOf is what the index keeps of a memory besides its vector.
func metaOf(m *store.Memory) docMeta {
	return docMeta{subject: m.Subject, scope: engram.Scope{UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID}, created: m.CreatedAt, rec: store.RecordOf(m)}
}

// behind reports whether the store's change count moved past seen, the
// count an index reflects (never when seen is -1: the index is loading).
func (e *Engine) behind(ctx context.Context, tenantID string, seen int64) (bool, error) {
	if seen < 0 {
		return false, nil
	}
	gen, err := e.storeGen(ctx, tenantID)
	return err == nil && gen != seen, err
}

// changesSince reads the tenant's changes after seen and, when an index
// can apply them one by one (the log reaches back to seen, no subject key
// was destroyed, no more than catchUpMax), calls read with the changed
// ids in the same read transaction, so that it reads them as of the same
// count; ok reports that. A destroyed key is also forgotten here at once:
// none stays unwrapped in this process.
func (e *Engine) changesSince(ctx context.Context, tenantID string, seen int64, read func(tx store.Tx, ids []string) error) (c *store.IndexChanges, ok bool, err error) {
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		if c, err = tx.IndexChanges(ctx, tenantID, seen); err != nil {
			return err
		}
		if ok = c.Complete && !c.Shredded && len(c.IDs) <= catchUpMax; ok && c.Gen != seen {
			return read(tx, c.IDs)
		}
		return nil
	})
	if err == nil && c.Shredded {
		e.ring.Forget(tenantID, "*")
	}
	return c, ok, err
}

// storeGen reads the tenant's change count.
func (e *Engine) storeGen(ctx context.Context, tenantID string) (int64, error) {
	var gen int64
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		gen, err = tx.IndexGeneration(ctx, tenantID)
		return err
	})
	return gen, err
}

// kwCatchUp is catchUp for the tenant's keyword index: the memories
// changed since the count it reflects are read again (their postings) and
// put in it or taken out. It returns the index to rank with: nil when it
// was dropped (a key destroyed, the log pruned, too many changes, or the
// index replaced meanwhile), and the search then reads the store.
func (e *Engine) kwCatchUp(ctx context.Context, tenantID string, idx *postings.Index) (*postings.Index, error) {
	k := e.kw
	k.mu.Lock()
	t := k.tenants[tenantID]
	if t == nil || t.idx != idx {
		k.mu.Unlock()
		return nil, nil
	}
	seen := t.sgen
	k.mu.Unlock()
	if behind, err := e.behind(ctx, tenantID, seen); !behind || err != nil {
		return idx, err
	}
	t.catchUp.Lock()
	defer t.catchUp.Unlock()
	k.mu.Lock()
	seen = t.sgen
	k.mu.Unlock()
	var docs []store.DocPostings
	c, ok, err := e.changesSince(ctx, tenantID, seen, func(tx store.Tx, ids []string) (err error) {
		docs, err = tx.DocPostingsOf(ctx, tenantID, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tenants[tenantID] != t || t.idx != idx || t.sgen != seen {
		return nil, nil // replaced or dropped meanwhile
	}
	if c.Gen == seen {
		return idx, nil
	}
	if !ok {
		// Reloaded by the next search; this one reads the store.
		t.idx, t.bytes, t.sgen = nil, 0, -1
		return nil, nil
	}
	put := make(map[string]*store.DocPostings, len(docs))
	for i := range docs {
		put[docs[i].MemoryID] = &docs[i]
	}
	for _, id := range c.IDs {
		if d := put[id]; d != nil {
			idx.Put(*d)
		} else {
			idx.Remove(id)
		}
	}
	t.sgen = c.Gen
	k.account(tenantID, t)
	if t.idx != idx {
		return nil, nil // no longer fits the budget
	}
	e.kwChanged(tenantID, t, len(c.IDs))
	return idx, nil
}
