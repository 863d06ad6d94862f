package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/snapshot"
	"github.com/engram-memory/engram/internal/store"
)

// The storage side of an index snapshot, whatever its kind: writing its
// sealed chunks a few per transaction and committing its header only if
// the tenant's change count did not move, and reading a current one back.
// The keyword snapshot uses it (keywordsnap.go); the vector snapshot
// (snapshots.go) has its own copy of the same steps.

// snapshotWriter writes one snapshot's chunks, snapshotTxChunks per
// transaction, then its header.
type snapshotWriter struct {
	e                       *Engine
	ctx                     context.Context
	tenantID, kind, id, mdl string
	gen                     int64
	total, seq              int
	batch                   []*store.IndexSnapshotChunk
}

// newSnapshotWriter starts a snapshot of kind, made by model, of total
// chunks, taken at change count gen.
func (e *Engine) newSnapshotWriter(ctx context.Context, tenantID, kind, model string, gen int64, total int) *snapshotWriter {
	return &snapshotWriter{e: e, ctx: ctx, tenantID: tenantID, kind: kind, id: newID(), mdl: model, gen: gen, total: total}
}

// add seals pt under k (a key of subject) as the next chunk, and wipes pt.
func (w *snapshotWriter) add(k seal.Key, subject string, pt []byte) error {
	c := snapshot.Chunk{Tenant: w.tenantID, Kind: w.kind, SnapshotID: w.id, Subject: subject, Gen: w.gen,
		Model: w.mdl, Seq: w.seq, Chunks: w.total}
	env, err := seal.SealBulk(k, c.Context(), pt)
	clear(pt)
	if err != nil {
		return err
	}
	w.batch = append(w.batch, &store.IndexSnapshotChunk{TenantID: w.tenantID, Kind: w.kind, SnapshotID: w.id,
		Seq: w.seq, Subject: subject, KeyVersion: int(k.Version), Body: env})
	w.seq++
	if len(w.batch) == snapshotTxChunks {
		return w.flush()
	}
	return nil
}

func (w *snapshotWriter) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	err := w.e.st.Write(w.ctx, func(tx store.Tx) error {
		for _, c := range w.batch {
			if err := tx.PutIndexSnapshotChunk(w.ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	w.batch = w.batch[:0]
	return err
}

// commit writes the last chunks and the header, replacing the tenant's
// previous snapshot of the kind, if the change count is still the one the
// snapshot was taken at. Otherwise (an erasure among others) it deletes
// what was written of it and returns false.
func (w *snapshotWriter) commit(entries int) (committed bool, err error) {
	if err := w.flush(); err != nil {
		return false, err
	}
	err = w.e.st.Write(w.ctx, func(tx store.Tx) error {
		now, err := tx.IndexGeneration(w.ctx, w.tenantID)
		if err != nil {
			return err
		}
		if committed = now == w.gen; !committed {
			return tx.DeleteIndexSnapshots(w.ctx, w.tenantID, w.kind)
		}
		return tx.CommitIndexSnapshot(w.ctx, &store.IndexSnapshot{TenantID: w.tenantID, Kind: w.kind, ID: w.id,
			Gen: w.gen, Model: w.mdl, Chunks: w.total, Entries: entries, Created: w.e.clock()})
	})
	return committed && err == nil, err
}

// sealedChunk is one chunk of a snapshot as read, not yet opened.
type sealedChunk struct {
	seq     int
	subject string
	version int
	body    []byte
}

// context is the seal context chunk p of snapshot h was sealed with.
func (p *sealedChunk) context(h *store.IndexSnapshot) seal.Context {
	return snapshot.Chunk{Tenant: h.TenantID, Kind: h.Kind, SnapshotID: h.ID, Subject: p.subject, Gen: h.Gen,
		Model: h.Model, Seq: p.seq, Chunks: h.Chunks}.Context()
}

// readSnapshot returns the tenant's snapshot of kind and its chunks, in
// order, if it was taken at the store's current change count by model:
// header, count and chunks are read in one transaction. It returns a nil
// header when there is none, it is not current, or a chunk is missing.
func (e *Engine) readSnapshot(ctx context.Context, tenantID, kind, model string) (*store.IndexSnapshot, []sealedChunk, error) {
	var (
		parts []sealedChunk
		hdr   *store.IndexSnapshot
	)
	err := e.st.Read(ctx, func(tx store.Tx) error {
		h, err := tx.IndexSnapshot(ctx, tenantID, kind)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		gen, err := tx.IndexGeneration(ctx, tenantID)
		if err != nil {
			return err
		}
		if gen != h.Gen || h.Model != model {
			return nil // not current: rebuilt
		}
		hdr = h
		return tx.IndexSnapshotChunks(ctx, tenantID, kind, h.ID, func(c *store.IndexSnapshotChunk) error {
			parts = append(parts, sealedChunk{seq: c.Seq, subject: c.Subject, version: c.KeyVersion, body: slices.Clone(c.Body)})
			return nil
		})
	})
	if err != nil || hdr == nil || len(parts) != hdr.Chunks {
		return nil, nil, err
	}
	for i := range parts {
		if parts[i].seq != i {
			return nil, nil, nil
		}
	}
	return hdr, parts, nil
}
