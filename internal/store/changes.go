package store

import (
	"context"
)

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
	// DocPostingsOf returns the given memories of the tenant as the
	// keyword index sees them (DocPostings), those that exist, in no
	// particular order.
	DocPostingsOf(ctx context.Context, tenantID string, ids []string) ([]DocPostings, error)
}

// Change is another node's committed change to a tenant, as a Notifier
// tells of it: only a hint that the tenant's caches are worth checking
// now. Caches stay correct without it (the change count is checked on
// every use), so a notification lost costs speed, never correctness.
type Change struct {
	TenantID string
	// Memories: a memory was inserted, updated or deleted.
	Memories bool
	// SubjectKeys: a subject key was destroyed (an erasure).
	SubjectKeys bool
	// Keys: another key was destroyed (a rotation, a tenant erasure).
	Keys bool
}

// Notifier is a store that tells of changes as they commit, made by any
// node (this one's own included). PostgreSQL's store is one (LISTEN and
// NOTIFY); the embedded store is not: it has no other node.
type Notifier interface {
	// Listen calls fn with each change until ctx ends, reconnecting after
	// a failure (reported to fail, then retried with a growing pause).
	// Changes that commit while it is not connected are not told.
	Listen(ctx context.Context, fn func(Change), fail func(error))
}
