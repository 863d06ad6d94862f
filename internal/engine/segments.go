package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
)

// Sealing defaults (docs/AUDIT.md): a segment is sealed once it holds
// DefaultSealEntries entries or its oldest entry is DefaultSealAge old.
const (
	DefaultSealEntries = 1000
	DefaultSealAge     = time.Minute
	// MaxSegmentEntries bounds one segment (and so one seal transaction
	// and one exported bundle), whatever the policy says.
	MaxSegmentEntries = 10000
)

// chainExt is the checkpoint extension line that carries the chain MAC of
// the segment's last entry. Signing it ties the HMAC chain to the Merkle
// log: `audit verify` catches a chain rebuilt under a stolen audit key
// against the signature, and a tombstone's MAC (where the chain resumes
// after retention) is vouched for by the signature, not just the row. A
// MAC reveals nothing about its key or the entry.
const chainExt = "engram-chain "

// SealStats counts what one pass of SealAudit did.
type SealStats struct {
	Chains   int // chains looked at
	Segments int // segments sealed
	Entries  int // entries sealed
}

// AuditVerifierKey returns the deployment's current checkpoint verifier key
// (public, signed-note format), creating the signing key on first use.
func (e *Engine) AuditVerifierKey(ctx context.Context) (string, error) {
	_, vk, err := e.ring.CheckpointSigner(ctx)
	return vk, err
}

// errSignerRetired: the checkpoint key was rotated (by another process)
// after the sealer loaded it; the sealer reloads and tries again.
var errSignerRetired = errors.New("the checkpoint signing key was rotated meanwhile")

// SealAudit seals every chain whose open segment is due under p (zero
// fields take the defaults). Each segment is sealed in one write
// transaction that re-reads the tree state, so concurrent sealers (serve's
// loop and `engram audit seal`) and a crash between seals are harmless: a
// seal either committed whole or not at all, and the next pass resumes.
func (e *Engine) SealAudit(ctx context.Context, p checkpoint.Policy) (SealStats, error) {
	var st SealStats
	signer, err := e.ring.CurrentCheckpointKey(ctx)
	if err != nil {
		return st, fmt.Errorf("checkpoint key: %w", err)
	}
	if p.MaxEntries == 0 && p.MaxAge == 0 {
		p = checkpoint.Policy{MaxEntries: DefaultSealEntries, MaxAge: DefaultSealAge}
	}
	var chains []string
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		chains, err = tx.AuditChains(ctx)
		return err
	}); err != nil {
		return st, err
	}
	// A damaged chain must not stop the others from being sealed.
	var errs []error
	for _, id := range chains {
		st.Chains++
		for {
			n, err := e.sealOne(ctx, id, signer, p)
			if errors.Is(err, errSignerRetired) {
				if signer, err = e.ring.CurrentCheckpointKey(ctx); err == nil {
					continue
				}
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("seal chain %q: %w", id, err))
				break
			}
			if n == 0 {
				break
			}
			st.Segments++
			st.Entries += n
		}
	}
	return st, errors.Join(errs...)
}

// pending reports whether the chain has entries beyond its sealed tree,
// with a read transaction: most ticks find nothing to seal and should not
// take the writer lock.
func (e *Engine) pending(ctx context.Context, tenantID string) (bool, error) {
	var more bool
	err := e.st.Read(ctx, func(tx store.Tx) error {
		head, err := tx.AuditHead(ctx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tr, err := tx.AuditTree(ctx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			more = head.Seq > 0
			return nil
		}
		more = err == nil && head.Seq > tr.Size
		return err
	})
	return more, err
}

// sealOne seals the chain's next segment if it is due; it returns the
// number of entries sealed (0: nothing due).
func (e *Engine) sealOne(ctx context.Context, tenantID string, signer *keys.CheckpointKey, p checkpoint.Policy) (int, error) {
	limit := uint64(MaxSegmentEntries)
	if p.MaxEntries > 0 && p.MaxEntries < limit {
		limit = p.MaxEntries
	}
	if more, err := e.pending(ctx, tenantID); err != nil || !more {
		return 0, err
	}
	var sealed int
	err := e.st.Write(ctx, func(tx store.Tx) error {
		sealed = 0
		// Checked in the seal's own transaction, which a rotation's
		// transaction cannot interleave with: no checkpoint committed after
		// a rotation is signed by the retired key, so the rotation's
		// hand-over is the last word of that key on every chain.
		cur, err := tx.LatestKey(ctx, "", keys.PurposeAuditCheckpoint, "")
		if err != nil {
			return fmt.Errorf("checkpoint key: %w", err)
		}
		if cur.Version != signer.Version {
			return errSignerRetired
		}
		head, err := tx.AuditHead(ctx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tr, err := tx.AuditTree(ctx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			tr, err = &store.AuditTree{TenantID: tenantID}, nil
		}
		if err != nil {
			return err
		}
		if head.Seq <= tr.Size {
			return nil
		}
		pending := head.Seq - tr.Size
		recs, err := tx.AuditRange(ctx, tenantID, tr.Size, int(min(pending, limit)))
		if err != nil {
			return err
		}
		if len(recs) == 0 || !checkpoint.Due(pending, recs[0].Entry.Time, e.clock(), p) {
			return nil
		}
		entries := make([][]byte, len(recs))
		for i := range recs {
			// A gap means the chain is damaged: sealing it would sign the
			// damage. Verification names it; sealing waits.
			if recs[i].Entry.Seq != tr.Size+1+uint64(i) {
				return fmt.Errorf("entry %d is missing; not sealing a damaged chain", tr.Size+1+uint64(i))
			}
			entries[i] = audit.Canonical(&recs[i].Entry)
		}
		var nodes []store.AuditNode
		tree, err := checkpoint.RestoreTree(tr.Size, tr.Frontier, func(id compact.NodeID, h []byte) {
			nodes = append(nodes, store.AuditNode{ID: store.AuditNodeID{Level: id.Level, Index: id.Index}, Hash: h})
		})
		if err != nil {
			return err
		}
		seg, err := checkpoint.Seal(tree, tenantID, entries, e.clock())
		if err != nil {
			return err
		}
		lastMAC := recs[len(recs)-1].MAC
		cp := seg.Checkpoint(checkpoint.Origin(tenantID))
		cp.Extra = []string{chainExt + base64.StdEncoding.EncodeToString(lastMAC)}
		signed, err := checkpoint.Sign(cp, signer.Signer)
		if err != nil {
			return err
		}
		s := &store.AuditSegment{TenantID: tenantID, First: seg.First + 1, Last: seg.Last + 1, Root: seg.Root, Range: seg.Range,
			TreeSize: seg.TreeSize, TreeRoot: seg.TreeRoot, Checkpoint: signed, ChainMAC: lastMAC, SealedAt: seg.SealedAt}
		if err := tx.SealAuditSegment(ctx, s, nodes, &store.AuditTree{TenantID: tenantID, Size: tree.Size(), Frontier: tree.Frontier()}); err != nil {
			return err
		}
		sealed = len(entries)
		return nil
	})
	return sealed, err
}

// chainMACOf returns the chain MAC a checkpoint signs.
func chainMACOf(cp checkpoint.Checkpoint) ([]byte, bool) {
	for _, l := range cp.Extra {
		if v, ok := strings.CutPrefix(l, chainExt); ok {
			b, err := base64.StdEncoding.DecodeString(v)
			return b, err == nil && len(b) > 0
		}
	}
	return nil, false
}

// openSegment opens a stored segment's checkpoint, signed by any of the
// verifier keys, and checks it seals exactly that segment; it returns the
// checkpoint and its chain MAC.
func openSegment(s *store.AuditSegment, verifierKeys []string) (checkpoint.Checkpoint, []byte, error) {
	cp, err := checkpoint.Open(s.Checkpoint, checkpoint.Origin(s.TenantID), verifierKeys...)
	if err != nil {
		return cp, nil, err
	}
	mac, ok := chainMACOf(cp)
	ref := cp.Segment
	if !ok || ref == nil || ref.First+1 != s.First || ref.Last+1 != s.Last || cp.Size != s.Last {
		return cp, nil, fmt.Errorf("the checkpoint does not seal segment [%d, %d]", s.First, s.Last)
	}
	return cp, mac, nil
}

// SignedCheckpoints is the audit.Checkpoint of the newest stored signed
// checkpoint: the chain must reach its size with the MAC it signs. An
// attacker with write access to the database but not the signing key can
// neither lower it (delete the tail) nor re-sign a rewritten chain.
// VerifierKeys are every version of the checkpoint key (see
// keys.Ring.CheckpointVerifierKeys).
type SignedCheckpoints struct {
	Store        store.Store
	VerifierKeys []string
}

// Name implements audit.Checkpoint.
func (SignedCheckpoints) Name() string { return "signed" }

// Latest implements audit.Checkpoint.
func (c SignedCheckpoints) Latest(ctx context.Context, tenantID string) (*audit.Head, error) {
	var s *store.AuditSegment
	err := c.Store.Read(ctx, func(tx store.Tx) (err error) {
		s, err = tx.LatestAuditSegment(ctx, tenantID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, mac, err := openSegment(s, c.VerifierKeys)
	if err != nil {
		return nil, fmt.Errorf("%w: segment [%d, %d]: %v", audit.ErrBadCheckpoint, s.First, s.Last, err)
	}
	return &audit.Head{TenantID: tenantID, Seq: s.Last, MAC: mac}, nil
}

// Floor implements audit.Floor: the chain resumes after the last segment
// retention dropped, from the chain MAC its signed checkpoint carries.
func (c SignedCheckpoints) Floor(ctx context.Context, tenantID string) (uint64, []byte, error) {
	var floor uint64
	var mac []byte
	var after uint64
	for {
		var page []store.AuditSegment
		if err := c.Store.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.AuditSegments(ctx, tenantID, after, 1000)
			return err
		}); err != nil {
			return 0, nil, err
		}
		for i := range page {
			s := &page[i]
			after = s.First
			if s.DroppedAt == nil {
				return floor, mac, nil
			}
			// Retention drops oldest first: tombstones form a prefix.
			if s.First != floor+1 {
				return 0, nil, fmt.Errorf("%w: tombstone [%d, %d] does not follow %d", audit.ErrBadCheckpoint, s.First, s.Last, floor)
			}
			_, m, err := openSegment(s, c.VerifierKeys)
			if err != nil {
				return 0, nil, fmt.Errorf("%w: tombstone [%d, %d]: %v", audit.ErrBadCheckpoint, s.First, s.Last, err)
			}
			floor, mac = s.Last, m
		}
		if len(page) < 1000 {
			return floor, mac, nil
		}
	}
}

// RunAuditSealer seals due segments, then runs the retention sweep and
// the sweep of expired sessions (SweepSessions), every
// `every` until ctx ends, on the node that holds the WorkAuditSeal lease
// (leases.go); report receives failures, which are retried
// on the next tick. It returns when ctx is done, so the caller can wait for
// it before closing the store.
func (e *Engine) RunAuditSealer(ctx context.Context, every time.Duration, p checkpoint.Policy, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	defer e.resign(WorkAuditSeal)
	for {
		if e.lead(ctx, WorkAuditSeal, report) {
			e.auditRound(ctx, p, report)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// auditRound is one round of RunAuditSealer on the leading node.
func (e *Engine) auditRound(ctx context.Context, p checkpoint.Policy, report func(error)) {
	if err := e.auditMaintenance(ctx, p); err != nil && ctx.Err() == nil && report != nil {
		report(err)
	}
	// Expired tokens and dead sessions go on the same beat: they
	// refuse themselves, so this only keeps the tables small.
	if _, err := e.SweepSessions(ctx); err != nil && ctx.Err() == nil && report != nil {
		report(err)
	}
	// Memory retention too, at most once per RetentionEvery.
	if err := e.maybeSweepRetention(ctx); err != nil && ctx.Err() == nil && report != nil {
		report(err)
	}
}
