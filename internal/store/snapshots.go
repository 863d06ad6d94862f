package store

import (
	"context"
	"time"
)

// IndexSnapshot is the header of a tenant's sealed index snapshot
// (docs/ARCHITECTURE.md, "Index snapshots"): which chunks make it, and the
// tenant's change count (Tx.IndexGeneration) it was taken at.
type IndexSnapshot struct {
	TenantID string
	Kind     string // what index: "vectors"
	ID       string // names its chunks
	Gen      int64
	Model    string // what made the content (the embedding model)
	Chunks   int
	Entries  int
	Created  time.Time
}

// IndexSnapshotChunk is one sealed part of a snapshot, holding entries of
// one key subject, sealed under that subject's key.
type IndexSnapshotChunk struct {
	TenantID   string
	Kind       string
	SnapshotID string
	Seq        int
	Subject    string
	KeyVersion int
	Body       []byte
}

// SnapshotTx keeps index snapshots. The store maintains each tenant's
// change count itself, in every transaction that inserts, updates or
// deletes one of its memories or destroys one of its subject keys, so no
// writer (another process included) can change a tenant without moving it;
// destroying a subject key also deletes the tenant's snapshots.
type SnapshotTx interface {
	// IndexGeneration returns the tenant's change count (0 before any).
	IndexGeneration(ctx context.Context, tenantID string) (int64, error)
	// IndexSnapshot returns the tenant's snapshot of kind; ErrNotFound
	// when there is none.
	IndexSnapshot(ctx context.Context, tenantID, kind string) (*IndexSnapshot, error)
	// IndexSnapshotChunks calls fn with each chunk of the snapshot, in
	// order of Seq. The chunk's Body is valid only during the call.
	IndexSnapshotChunks(ctx context.Context, tenantID, kind, snapshotID string, fn func(*IndexSnapshotChunk) error) error
	// PutIndexSnapshotChunk stores a chunk of a snapshot not yet committed.
	PutIndexSnapshotChunk(ctx context.Context, c *IndexSnapshotChunk) error
	// CommitIndexSnapshot makes s the tenant's snapshot of its kind and
	// deletes every chunk of the kind not of s (the previous snapshot's,
	// and those of an interrupted write).
	CommitIndexSnapshot(ctx context.Context, s *IndexSnapshot) error
	// DeleteIndexSnapshots deletes the tenant's snapshots of kind (all
	// kinds when kind is "") and their chunks.
	DeleteIndexSnapshots(ctx context.Context, tenantID, kind string) error
}
