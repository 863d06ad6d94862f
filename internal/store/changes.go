package store

import "context"

// IndexChangeLog is how many of a tenant's latest changes the store keeps
// in its change log (ChangeTx): a cache that fell further behind than that
// cannot catch up change by change and reloads.
const IndexChangeLog = 8192

// IndexChanges is what changed in a tenant's memories since a change count
// (Tx.IndexGeneration): the count now, and which memories changed.
type IndexChanges struct {
	// Gen is the tenant's change count now.
	Gen int64
	// IDs are the memories inserted, updated or deleted after the count
	// asked about, each once, in no particular order.
	IDs []string
	// Complete is false when the log no longer holds every change since
	// the count (pruned, or the count is not one the tenant had): IDs are
	// then not the whole story and a cache must reload.
	Complete bool
	// Shredded is true when a subject key of the tenant was destroyed
	// (an erasure) since the count: a cache of decrypted data must drop
	// all of it, not only the memories in IDs.
	Shredded bool
}

// ChangeTx reads the change log behind each tenant's change count, which
// lets a node's in-memory indexes catch up with other nodes' writes
// (docs/ARCHITECTURE.md, "Caches across nodes"). The store appends to the
// log in the same transaction that moves the count (every insert, update
// and delete of a memory, every destruction of a subject key) and keeps
// the last IndexChangeLog entries of each tenant. The log holds memory ids
// and counts, nothing sealed.
type ChangeTx interface {
	// IndexChanges returns the tenant's changes after the count after.
	IndexChanges(ctx context.Context, tenantID string, after int64) (*IndexChanges, error)
}

// ChangeLogQuery reads a tenant's change log after a count (up to the
// current count, the second argument): each entry's count and memory id,
// in order of count. Both stores run it as is (with their placeholders).
const ChangeLogQuery = `SELECT gen, memory_id FROM index_changes WHERE tenant_id = ? AND gen > ? AND gen <= ? ORDER BY gen`

// CollectIndexChanges builds IndexChanges for a store: gen is the tenant's
// count now, after the count asked about, and next yields the log's
// entries after it (ChangeLogQuery) until it returns false or an error.
func CollectIndexChanges(gen, after int64, next func(gen *int64, id *string) (bool, error)) (*IndexChanges, error) {
	c := &IndexChanges{Gen: gen, Complete: gen == after}
	if gen <= after {
		return c, nil // nothing since, or a count the tenant never had
	}
	seen := map[string]struct{}{}
	var n int64
	for {
		var g int64
		var id string
		ok, err := next(&g, &id)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		n++
		if id == "" {
			c.Shredded = true
			continue
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			c.IDs = append(c.IDs, id)
		}
	}
	// Each move of the count logs exactly one entry: all of them are
	// there unless the oldest were pruned.
	c.Complete = n == gen-after
	return c, nil
}
