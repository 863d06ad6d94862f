package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/compact"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// storeLog is the checkpoint library's view of one chain in the store:
// leaf hashes recomputed from the entry rows (HashReader) and the node
// hashes stored at seal time (NodeReader, O(log n) proofs).
type storeLog struct {
	st     store.Store
	tenant string
}

// LeafHashes implements checkpoint.HashReader; leaf i is seq i+1.
func (l storeLog) LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error) {
	out := make([][]byte, 0, to-from)
	for after := from; after < to; {
		var recs []store.AuditRecord
		if err := l.st.Read(ctx, func(tx store.Tx) (err error) {
			recs, err = tx.AuditRange(ctx, l.tenant, after, int(min(to-after, 1000)))
			return err
		}); err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, fmt.Errorf("leaf %d: %w", after, checkpoint.ErrPruned)
		}
		for i := range recs {
			if recs[i].Entry.Seq != after+1 {
				return nil, fmt.Errorf("leaf %d: %w", after, checkpoint.ErrPruned)
			}
			out = append(out, checkpoint.LeafHash(audit.Canonical(&recs[i].Entry)))
			after++
		}
	}
	return out, nil
}

// NodeHashes implements checkpoint.NodeReader.
func (l storeLog) NodeHashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	sids := make([]store.AuditNodeID, len(ids))
	for i, id := range ids {
		sids[i] = store.AuditNodeID{Level: id.Level, Index: id.Index}
	}
	var hs [][]byte
	if err := l.st.Read(ctx, func(tx store.Tx) (err error) {
		hs, err = tx.AuditNodes(ctx, l.tenant, sids)
		return err
	}); err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h == nil {
			return nil, checkpoint.ErrPruned
		}
	}
	return hs, nil
}

// sealedSize returns the chain's sealed tree size (0: nothing sealed).
func (e *Engine) sealedSize(ctx context.Context, tenantID string) (uint64, error) {
	var tr *store.AuditTree
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		tr, err = tx.AuditTree(ctx, tenantID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return tr.Size, nil
}

// tombstones returns the chain's dropped segments. Retention drops oldest
// first, so they are the segments before the first live one.
func (e *Engine) tombstones(ctx context.Context, tenantID string) ([]checkpoint.Tombstone, error) {
	var tombs []checkpoint.Tombstone
	for after := uint64(0); ; {
		var page []store.AuditSegment
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.AuditSegments(ctx, tenantID, after, 1000)
			return err
		}); err != nil {
			return nil, err
		}
		for _, s := range page {
			if s.DroppedAt == nil {
				return tombs, nil
			}
			after = s.First
			tombs = append(tombs, checkpoint.Tombstone{Tenant: tenantID, First: s.First - 1, Last: s.Last - 1, Root: s.Root,
				Range: s.Range, Checkpoint: s.Checkpoint, ChainMAC: s.ChainMAC})
		}
		if len(page) < 1000 {
			return tombs, nil
		}
	}
}

// prove runs fn with a prover over the stored nodes. Proofs of live entries
// and between checkpoints never need a node inside a dropped segment, so
// the tombstones (which accumulate for ever) are loaded only when a node
// turned out to be pruned, and fn runs again with them.
func (e *Engine) prove(ctx context.Context, tenantID string, fn func(*checkpoint.Prover) error) error {
	pr, err := checkpoint.NewProver(storeLog{st: e.st, tenant: tenantID})
	if err != nil {
		return err
	}
	if err := fn(pr); !errors.Is(err, checkpoint.ErrPruned) {
		return err
	}
	tombs, err := e.tombstones(ctx, tenantID)
	if err != nil {
		return err
	}
	if pr, err = checkpoint.NewProver(storeLog{st: e.st, tenant: tenantID}, tombs...); err != nil {
		return err
	}
	return fn(pr)
}

// checkpointAt returns the signed checkpoint of the given tree size, "" when
// no seal ended there.
func (e *Engine) checkpointAt(ctx context.Context, tenantID string, size uint64) (string, error) {
	if size == 0 {
		return "", nil
	}
	var s *store.AuditSegment
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		s, err = tx.AuditSegmentCovering(ctx, tenantID, size)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Last != size) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(s.Checkpoint), nil
}

// proofErr maps the library's range errors to the client's.
func proofErr(err error) error {
	switch {
	case errors.Is(err, checkpoint.ErrPruned):
		return engram.Errorf(engram.CodeNotFound, "those entries were dropped by retention; their tombstone still proves the log")
	case errors.Is(err, checkpoint.ErrRange):
		return invalid("the range is outside the sealed log")
	}
	return err
}

// AuditCheckpoint returns the verifier key and the tenant's newest signed
// checkpoint.
func (e *Engine) AuditCheckpoint(ctx context.Context) (out *engram.AuditCheckpointInfo, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "checkpoint")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	vk, err := e.AuditVerifierKey(ctx)
	if err != nil {
		return nil, err
	}
	out = &engram.AuditCheckpointInfo{VerifierKey: vk}
	var s *store.AuditSegment
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		s, err = tx.LatestAuditSegment(ctx, p.TenantID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.Checkpoint, out.TreeSize = string(s.Checkpoint), s.Last
	return out, nil
}

// AuditInclusion proves entry seq is in the tree of the given size (0: the
// newest checkpoint's). Both must be within the sealed log.
func (e *Engine) AuditInclusion(ctx context.Context, seq, size uint64) (out *engram.AuditInclusionProof, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "inclusion")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	sealed, err := e.sealedSize(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		size = sealed
	}
	if seq == 0 || seq > size || size > sealed {
		return nil, invalid("seq must be in 1..size and size at most the sealed log (%d entries)", sealed)
	}
	var recs []store.AuditRecord
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.AuditRange(ctx, p.TenantID, seq-1, 1)
		return err
	}); err != nil {
		return nil, err
	}
	if len(recs) == 0 || recs[0].Entry.Seq != seq {
		return nil, proofErr(checkpoint.ErrPruned)
	}
	var proof [][]byte
	if err := e.prove(ctx, p.TenantID, func(pr *checkpoint.Prover) (err error) {
		proof, err = pr.Inclusion(ctx, seq-1, size)
		return err
	}); err != nil {
		return nil, proofErr(err)
	}
	cp, err := e.checkpointAt(ctx, p.TenantID, size)
	if err != nil {
		return nil, err
	}
	return &engram.AuditInclusionProof{Seq: seq, LeafIndex: seq - 1, TreeSize: size, Entry: audit.Canonical(&recs[0].Entry),
		Proof: proof, Checkpoint: cp}, nil
}

// AuditConsistency proves the tree of size from is a prefix of the tree of
// size to (0: the newest checkpoint's).
func (e *Engine) AuditConsistency(ctx context.Context, from, to uint64) (out *engram.AuditConsistencyProof, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "consistency")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	sealed, err := e.sealedSize(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	if to == 0 {
		to = sealed
	}
	if from == 0 || from > to || to > sealed {
		return nil, invalid("need 1 <= from <= to <= the sealed log (%d entries)", sealed)
	}
	var proof [][]byte
	if err := e.prove(ctx, p.TenantID, func(pr *checkpoint.Prover) (err error) {
		proof, err = pr.Consistency(ctx, from, to)
		return err
	}); err != nil {
		return nil, proofErr(err)
	}
	out = &engram.AuditConsistencyProof{From: from, To: to, Proof: proof}
	if out.FromCheckpoint, err = e.checkpointAt(ctx, p.TenantID, from); err != nil {
		return nil, err
	}
	if out.ToCheckpoint, err = e.checkpointAt(ctx, p.TenantID, to); err != nil {
		return nil, err
	}
	return out, nil
}

// AuditSegments lists the tenant's segments, oldest first.
func (e *Engine) AuditSegments(ctx context.Context, cursor string, limit int) (out *engram.AuditSegmentPage, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "segments")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	if limit, err = pageLimit(limit, engram.MaxAuditSegmentsPage, engram.MaxAuditSegmentsPage); err != nil {
		return nil, err
	}
	var after uint64
	if cursor != "" {
		if after, err = seqCursor(cursor); err != nil {
			return nil, err
		}
	}
	var rows []store.AuditSegment
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.AuditSegments(ctx, p.TenantID, after, limit+1)
		return err
	}); err != nil {
		return nil, err
	}
	out = &engram.AuditSegmentPage{Segments: make([]engram.AuditSegment, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(rows[limit-1].First, 10)))
	}
	for _, s := range rows {
		out.Segments = append(out.Segments, engram.AuditSegment{First: s.First, Last: s.Last, Root: s.Root, TreeSize: s.TreeSize,
			TreeRoot: s.TreeRoot, Checkpoint: string(s.Checkpoint), SealedAt: s.SealedAt, DroppedAt: s.DroppedAt})
	}
	return out, nil
}

// AuditSegmentBundle exports the sealed segment starting at seq first as an
// offline proof bundle against the newest checkpoint, with a consistency
// proof from the segment's own checkpoint when a newer one exists.
func (e *Engine) AuditSegmentBundle(ctx context.Context, first uint64) (out *engram.AuditBundle, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "bundle")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	b, err := e.AuditBundle(ctx, p.TenantID, first)
	if err != nil {
		return nil, err
	}
	out = &engram.AuditBundle{Format: b.Format, Tenant: b.Tenant, First: b.First, Last: b.Last, Entries: b.Entries,
		Checkpoint: b.Checkpoint, Inclusion: b.Inclusion}
	if b.Consistency != nil {
		out.Consistency = &engram.AuditBundleConsistency{Checkpoint: b.Consistency.Checkpoint, Proof: b.Consistency.Proof}
	}
	return out, nil
}

// AuditBundle builds the bundle of a tenant's sealed segment (operator
// export, `engram audit prove`; no principal, not an audited request).
func (e *Engine) AuditBundle(ctx context.Context, tenantID string, first uint64) (*checkpoint.Bundle, error) {
	var seg, latest *store.AuditSegment
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if seg, err = tx.AuditSegment(ctx, tenantID, first); err != nil {
			return err
		}
		latest, err = tx.LatestAuditSegment(ctx, tenantID)
		return err
	})
	if err != nil {
		return nil, notFound(err, "segment")
	}
	if seg.DroppedAt != nil {
		return nil, proofErr(checkpoint.ErrPruned)
	}
	var entries [][]byte
	for after := seg.First - 1; after < seg.Last; {
		var recs []store.AuditRecord
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			recs, err = tx.AuditRange(ctx, tenantID, after, int(min(seg.Last-after, 1000)))
			return err
		}); err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			if recs[i].Entry.Seq > seg.Last {
				break
			}
			entries = append(entries, audit.Canonical(&recs[i].Entry))
			after = recs[i].Entry.Seq
		}
	}
	var b *checkpoint.Bundle
	if err := e.prove(ctx, tenantID, func(pr *checkpoint.Prover) (err error) {
		if b, err = checkpoint.NewBundle(ctx, pr, tenantID, seg.First-1, entries, latest.Checkpoint); err != nil {
			return err
		}
		if latest.First != seg.First {
			return b.AddConsistency(ctx, pr, seg.Checkpoint)
		}
		return nil
	}); err != nil {
		return nil, proofErr(err)
	}
	return b, nil
}
