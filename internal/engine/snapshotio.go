package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/snapshot"
	"github.com/engram-memory/engram/internal/store"
)

// The storage side of an index snapshot, whatever its kind: writing its
// sealed chunks a few per transaction and committing its header only if
// the tenant's change count did not move, and reading a current one back.
// The vector snapshot (snapshots.go, with its graph as a one-chunk
// companion) and the keyword snapshot (keywordsnap.go) both use it.

// snapshotWriter writes one snapshot's chunks, snapshotTxChunks per
// transaction, then its header.
type snapshotWriter struct {
	e                       *Engine
	ctx                     context.Context
	tenantID, kind, id, mdl string
	gen                     int64
	total, seq              int
	batch                   []*store.IndexSnapshotChunk
	companions              map[string]bool // kinds of the one-chunk companions added
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

// addCompanion seals pt under k as the only chunk of a companion snapshot
// of another kind, written and committed with this one (the same id and
// change count), and wipes pt.
func (w *snapshotWriter) addCompanion(kind string, k seal.Key, subject string, pt []byte) error {
	c := snapshot.Chunk{Tenant: w.tenantID, Kind: kind, SnapshotID: w.id, Subject: subject, Gen: w.gen,
		Model: w.mdl, Seq: 0, Chunks: 1}
	env, err := seal.SealBulk(k, c.Context(), pt)
	clear(pt)
	if err != nil {
		return err
	}
	w.batch = append(w.batch, &store.IndexSnapshotChunk{TenantID: w.tenantID, Kind: kind, SnapshotID: w.id,
		Seq: 0, Subject: subject, KeyVersion: int(k.Version), Body: env})
	if w.companions == nil {
		w.companions = map[string]bool{}
	}
	w.companions[kind] = true
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
// what was written of it and returns false. Each kind of companions is
// committed with it when one was added, and deleted otherwise (a previous
// snapshot's companion would not fit this one).
func (w *snapshotWriter) commit(entries int, companions ...string) (committed bool, err error) {
	if err := w.flush(); err != nil {
		return false, err
	}
	err = w.e.st.Write(w.ctx, func(tx store.Tx) error {
		now, err := tx.IndexGeneration(w.ctx, w.tenantID)
		if err != nil {
			return err
		}
		if committed = now == w.gen; !committed {
			for _, kind := range companions {
				if err := tx.DeleteIndexSnapshots(w.ctx, w.tenantID, kind); err != nil {
					return err
				}
			}
			return tx.DeleteIndexSnapshots(w.ctx, w.tenantID, w.kind)
		}
		if err := tx.CommitIndexSnapshot(w.ctx, &store.IndexSnapshot{TenantID: w.tenantID, Kind: w.kind, ID: w.id,
			Gen: w.gen, Model: w.mdl, Chunks: w.total, Entries: entries, Created: w.e.clock()}); err != nil {
			return err
		}
		for _, kind := range companions {
			if !w.companions[kind] {
				err = tx.DeleteIndexSnapshots(w.ctx, w.tenantID, kind)
			} else {
				err = tx.CommitIndexSnapshot(w.ctx, &store.IndexSnapshot{TenantID: w.tenantID, Kind: kind, ID: w.id,
					Gen: w.gen, Model: w.mdl, Chunks: 1, Entries: entries, Created: w.e.clock()})
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return committed && err == nil, err
}

// sealedChunk is one chunk of a snapshot as read, not yet opened.
type sealedChunk struct {
	kind        string
	seq, chunks int
	subject     string
	version     int
	body        []byte
}

// context is the seal context chunk p of snapshot h (or of its companion)
// was sealed with.
func (p *sealedChunk) context(h *store.IndexSnapshot) seal.Context {
	return snapshot.Chunk{Tenant: h.TenantID, Kind: p.kind, SnapshotID: h.ID, Subject: p.subject, Gen: h.Gen,
		Model: h.Model, Seq: p.seq, Chunks: p.chunks}.Context()
}

// readSnapshot reads the tenant's snapshot of kind if it was taken by
// model at the store's current change count, or at an earlier one the
// change log can replay from (catchup.go: the log reaches back to it, no
// subject key destroyed since — that deletes the snapshots anyway —, no
// more than catchUpMax changes): header, count, log and chunks in one
// transaction. The loaded index then reflects hdr.Gen, and its first
// catch-up replays the changes after it. Each chunk is passed to each, with the header, as soon as
// it is read, on the reading goroutine (which holds the transaction: each
// should hand the opening off): first the chunk of its companion of kind
// companion ("" for none), if one was written with it, then its own, in
// order. It returns a nil header when there is none or it is not current,
// and complete false when one of its chunks is missing or out of place.
func (e *Engine) readSnapshot(ctx context.Context, tenantID, kind, model, companion string, each func(*store.IndexSnapshot, *sealedChunk)) (hdr *store.IndexSnapshot, complete bool, err error) {
	n := 0
	complete = true
	err = e.st.Read(ctx, func(tx store.Tx) error {
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
		if gen < h.Gen || h.Model != model {
			return nil // not current: rebuilt
		}
		if gen > h.Gen {
			c, err := tx.IndexChanges(ctx, tenantID, h.Gen)
			if err != nil {
				return err
			}
			if !c.Complete || c.Shredded || len(c.IDs) > catchUpMax {
				return nil // too old to replay: rebuilt
			}
		}
		hdr = h
		if companion != "" {
			ch, err := tx.IndexSnapshot(ctx, tenantID, companion)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil && ch.ID == h.ID && ch.Gen == h.Gen && ch.Chunks == 1 {
				if err := tx.IndexSnapshotChunks(ctx, tenantID, companion, h.ID, func(c *store.IndexSnapshotChunk) error {
					if c.Seq == 0 {
						each(h, &sealedChunk{kind: companion, seq: 0, chunks: 1, subject: c.Subject, version: c.KeyVersion,
							body: slices.Clone(c.Body)})
					}
					return nil
				}); err != nil {
					return err
				}
			}
		}
		return tx.IndexSnapshotChunks(ctx, tenantID, kind, h.ID, func(c *store.IndexSnapshotChunk) error {
			if c.Seq != n {
				complete = false
			}
			n++
			each(h, &sealedChunk{kind: kind, seq: c.Seq, chunks: h.Chunks, subject: c.Subject, version: c.KeyVersion,
				body: slices.Clone(c.Body)})
			return nil
		})
	})
	return hdr, hdr != nil && complete && n == hdr.Chunks, err
}

// saveInBackground writes one tenant's snapshot on its own goroutine
// (counted by wg), clearing *saving under mu when done; what names the
// index in the warning a failure logs.
func (e *Engine) saveInBackground(wg *sync.WaitGroup, mu sync.Locker, saving *bool, tenantID, what string, save func(context.Context, string) error) {
	*saving = true
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Not the request's context: the snapshot outlives the request.
		err := save(context.Background(), tenantID)
		mu.Lock()
		*saving = false
		mu.Unlock()
		if err != nil {
			e.logger().Warn(what+" not written", "component", "engine", "tenant_id", tenantID, "error", err)
		}
	}()
}

// saveDue writes the snapshots of the tenants due (at shutdown), in order,
// calling release(id) under mu after each to clear its saving mark; it
// returns every failure, each named by its tenant.
func saveDue(ctx context.Context, mu sync.Locker, due []string, save func(context.Context, string) error, release func(id string)) error {
	slices.Sort(due)
	var errs []error
	for _, id := range due {
		if err := save(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
		}
		mu.Lock()
		release(id)
		mu.Unlock()
	}
	return errors.Join(errs...)
}
