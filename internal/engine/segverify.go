package engine

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/store"
)

// VerifyAuditTrail is `engram audit verify`: for each chain (the named
// tenant's, "" the system chain, or every chain with all) it walks the HMAC
// chain from where retention left it, against the stored head and the
// newest signed checkpoint, then replays the log tree over every sealed
// segment and tombstone and checks each signed checkpoint's roots against
// the entries as stored now. The first damage is reported per chain.
// Extra checkpoints (e.g. one a customer kept) are checked too.
func (e *Engine) VerifyAuditTrail(ctx context.Context, tenant string, all bool, extra ...audit.Checkpoint) ([]*audit.Report, error) {
	ids, err := e.chainIDs(ctx, tenant, all)
	if err != nil {
		return nil, err
	}
	return e.verifyChains(ctx, ids, extra...)
}

// verifyChains is VerifyAuditTrail over the chains named by id.
func (e *Engine) verifyChains(ctx context.Context, ids []string, extra ...audit.Checkpoint) ([]*audit.Report, error) {
	vks, err := e.ring.CheckpointVerifierKeys(ctx)
	if err != nil {
		return nil, err
	}
	sc := SignedCheckpoints{Store: e.st, VerifierKeys: vks}
	v := &audit.Verifier{Store: e.st, Keys: e.ring, Checkpoints: append([]audit.Checkpoint{sc}, extra...), Floor: sc}
	var out []*audit.Report
	for _, id := range ids {
		r, err := v.Verify(ctx, id)
		if err != nil {
			return out, fmt.Errorf("verify chain %q: %w", id, err)
		}
		if r.Problem == nil || r.Problem.Kind == audit.KindCheckpoint {
			// A chain rebuilt under the audit key fails only against the
			// newest checkpoint's MAC; the segment replay names the first
			// entry that differs from what was sealed, which is earlier.
			p, err := e.verifySegments(ctx, id, vks)
			if err != nil {
				return out, fmt.Errorf("verify segments of %q: %w", id, err)
			}
			if r.Problem == nil || (p != nil && p.Seq > 0 && p.Seq < r.Problem.Seq) {
				r.Problem = p
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (e *Engine) chainIDs(ctx context.Context, tenant string, all bool) ([]string, error) {
	switch {
	case all:
		var ids []string
		err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			ids, err = tx.AuditChains(ctx)
			return err
		})
		return ids, err
	case tenant == "":
		return []string{""}, nil
	default:
		t, err := e.TenantByName(ctx, tenant)
		if err != nil {
			return nil, err
		}
		return []string{t.ID}, nil
	}
}

// verifySegments replays the chain's log tree from leaf 0 over every
// segment in order: a tombstone through its kept compact range, a live
// segment through its entries re-hashed from the rows. Each segment's
// checkpoint must be signed, seal exactly that segment, and match the
// replayed standalone and tree roots; its chain MAC must be the stored MAC
// of its last entry. The first bad seq is named: the first entry whose
// leaf hash differs from the one stored at seal time, or the segment's
// first entry when the stored hashes were rewritten as well.
func (e *Engine) verifySegments(ctx context.Context, tenantID string, vks []string) (*audit.Problem, error) {
	bad := func(seq uint64, format string, args ...any) (*audit.Problem, error) {
		return &audit.Problem{TenantID: tenantID, Seq: seq, Kind: audit.KindCheckpoint, Detail: fmt.Sprintf(format, args...)}, nil
	}
	tree := checkpoint.NewTree(nil)
	var after uint64
	var treeSize uint64
	for {
		var page []store.AuditSegment
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.AuditSegments(ctx, tenantID, after, 100)
			return err
		}); err != nil {
			return nil, err
		}
		for i := range page {
			s := &page[i]
			after = s.First
			if s.First != tree.Size()+1 {
				return bad(tree.Size()+1, "segment [%d, %d] does not follow the sealed entries up to %d", s.First, s.Last, tree.Size())
			}
			cp, mac, err := openSegment(s, vks)
			if err != nil {
				return bad(s.First, "signed checkpoint of segment [%d, %d]: %v", s.First, s.Last, err)
			}
			if s.DroppedAt != nil {
				ts := checkpoint.Tombstone{Tenant: tenantID, First: s.First - 1, Last: s.Last - 1, Root: s.Root, Range: s.Range,
					Checkpoint: s.Checkpoint, ChainMAC: mac}
				if _, err := ts.Verify(vks...); err != nil {
					return bad(s.First, "tombstone [%d, %d]: %v", s.First, s.Last, err)
				}
				if err := tree.AppendTombstone(ts); err != nil {
					return bad(s.First, "tombstone [%d, %d]: %v", s.First, s.Last, err)
				}
			} else if p, err := e.replaySegment(ctx, tree, s, cp, mac); p != nil || err != nil {
				return p, err
			}
			if err := tree.Check(cp); err != nil {
				return bad(s.First, "segment [%d, %d]: the log tree does not match its signed checkpoint: %v", s.First, s.Last, err)
			}
			treeSize = s.Last
		}
		if len(page) < 100 {
			break
		}
	}
	var tr *store.AuditTree
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		tr, err = tx.AuditTree(ctx, tenantID)
		return err
	})
	if err == nil && tr.Size != treeSize {
		// The tree state says more was sealed than the segments show: the
		// newest segments were deleted.
		return bad(treeSize+1, "the tree state records %d sealed entries; the segments end at %d", tr.Size, treeSize)
	}
	return nil, nil
}

// replaySegment appends a live segment's entries to tree and checks them
// against its checkpoint's segment root and chain MAC.
func (e *Engine) replaySegment(ctx context.Context, tree *checkpoint.Tree, s *store.AuditSegment, cp checkpoint.Checkpoint, mac []byte) (*audit.Problem, error) {
	bad := func(seq uint64, kind, format string, args ...any) (*audit.Problem, error) {
		return &audit.Problem{TenantID: s.TenantID, Seq: seq, Kind: kind, Detail: fmt.Sprintf(format, args...)}, nil
	}
	var leaves [][]byte
	var lastMAC []byte
	after := s.First - 1
	for after < s.Last {
		var recs []store.AuditRecord
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			recs, err = tx.AuditRange(ctx, s.TenantID, after, int(min(s.Last-after, 1000)))
			return err
		}); err != nil {
			return nil, err
		}
		for i := range recs {
			if recs[i].Entry.Seq != after+1 || recs[i].Entry.Seq > s.Last {
				return bad(after+1, audit.KindTruncated, "entry %d of signed segment [%d, %d] is missing", after+1, s.First, s.Last)
			}
			leaves = append(leaves, checkpoint.LeafHash(audit.Canonical(&recs[i].Entry)))
			lastMAC = recs[i].MAC
			after++
		}
		if len(recs) == 0 {
			return bad(after+1, audit.KindTruncated, "entry %d of signed segment [%d, %d] is missing", after+1, s.First, s.Last)
		}
	}
	own := checkpoint.NewTree(nil)
	for _, h := range leaves {
		if _, err := own.AppendLeafHash(h); err != nil {
			return nil, err
		}
		if _, err := tree.AppendLeafHash(h); err != nil {
			return nil, err
		}
	}
	if !bytes.Equal(own.Root(), cp.Segment.Root) {
		return bad(e.firstChangedLeaf(ctx, s, leaves), audit.KindCheckpoint,
			"segment [%d, %d] no longer hashes to the root its signed checkpoint sealed: an entry was rewritten", s.First, s.Last)
	}
	if !bytes.Equal(lastMAC, mac) {
		return bad(s.Last, audit.KindCheckpoint, "the chain MAC of entry %d differs from the one its signed checkpoint carries", s.Last)
	}
	return nil, nil
}

// firstChangedLeaf names the first entry of s whose leaf hash differs from
// the one stored when it was sealed, or s.First when none does (the stored
// hashes were rewritten too).
func (e *Engine) firstChangedLeaf(ctx context.Context, s *store.AuditSegment, leaves [][]byte) uint64 {
	ids := make([]store.AuditNodeID, len(leaves))
	for i := range leaves {
		ids[i] = store.AuditNodeID{Level: 0, Index: s.First - 1 + uint64(i)}
	}
	var stored [][]byte
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		stored, err = tx.AuditNodes(ctx, s.TenantID, ids)
		return err
	}); err != nil {
		return s.First
	}
	for i := range leaves {
		if stored[i] != nil && !bytes.Equal(stored[i], leaves[i]) {
			return s.First + uint64(i)
		}
	}
	return s.First
}

// keptCheckpoint is a signed checkpoint kept outside the database (by a
// customer, a witness, a monitor): the one thing that catches a rollback
// of the whole database, its own checkpoints included.
type keptCheckpoint struct {
	tenantID string
	head     audit.Head
}

func (keptCheckpoint) Name() string { return "kept" }

func (k keptCheckpoint) Latest(_ context.Context, tenantID string) (*audit.Head, error) {
	if tenantID != k.tenantID {
		return nil, nil
	}
	h := k.head
	return &h, nil
}

// KeptCheckpoint opens a signed checkpoint kept outside the database (the
// checkpoint field of GET /v1/audit/checkpoint) for VerifyAuditTrail: the
// chain it names must still reach its size with the MAC it signed. It
// returns the tenant id the checkpoint is for.
func (e *Engine) KeptCheckpoint(ctx context.Context, signed []byte) (audit.Checkpoint, string, error) {
	vks, err := e.ring.CheckpointVerifierKeys(ctx)
	if err != nil {
		return nil, "", err
	}
	origin, _, _ := strings.Cut(string(signed), "\n")
	tenantID, ok := strings.CutPrefix(origin, checkpoint.OriginPrefix)
	if !ok {
		return nil, "", engram.Errorf(engram.CodeInvalid, "not an Engram audit checkpoint")
	}
	cp, err := checkpoint.Open(signed, origin, vks...)
	if err != nil {
		return nil, "", engram.Errorf(engram.CodeInvalid, "the checkpoint does not verify under any of this deployment's keys: %v", err)
	}
	mac, ok := chainMACOf(cp)
	if !ok {
		return nil, "", engram.Errorf(engram.CodeInvalid, "the checkpoint carries no chain MAC")
	}
	return keptCheckpoint{tenantID: tenantID, head: audit.Head{TenantID: tenantID, Seq: cp.Size, MAC: mac}}, tenantID, nil
}
