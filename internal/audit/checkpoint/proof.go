package checkpoint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
)

// HashReader is what a store implements so proofs can be generated: the leaf
// hashes (LeafHash of the canonical entry) of one tenant's leaves [from, to),
// in order. It must fail (typically with ErrPruned) rather than return fewer
// hashes for a range that retention dropped; the Prover never asks for leaves
// covered by a Tombstone it was given.
type HashReader interface {
	LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error)
}

// NodeReader is optionally implemented by a store that persists the nodes a
// Tree reports to its visitor. NodeHashes returns the hashes of the given
// perfect-subtree nodes, in order. With it a proof costs O(log n) reads;
// without it the Prover recomputes nodes from leaf hashes. A store that
// deletes nodes inside a dropped segment answers ErrPruned for them, and the
// Prover then rebuilds the proof from leaves and tombstones instead.
type NodeReader interface {
	NodeHashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
}

// leafBatch bounds the leaf hashes held at once while recomputing a node.
const leafBatch = 1 << 14

// Prover generates inclusion and consistency proofs for one tenant's log.
type Prover struct {
	leaves HashReader
	nodes  NodeReader
	tombs  []Tombstone // sorted by First, non-overlapping
	// tombIDs[i] are the node ids of tombs[i].Range.
	tombIDs [][]compact.NodeID
}

// NewProver returns a Prover reading from r; if r also implements NodeReader
// its stored nodes are used. tombstones are the segments retention dropped:
// nodes over them are rebuilt from their kept compact ranges. It fails with
// ErrMalformed for overlapping or malformed tombstones.
func NewProver(r HashReader, tombstones ...Tombstone) (*Prover, error) {
	p := &Prover{leaves: r, tombs: append([]Tombstone(nil), tombstones...)}
	p.nodes, _ = r.(NodeReader)
	sort.Slice(p.tombs, func(i, j int) bool { return p.tombs[i].First < p.tombs[j].First })
	for i, t := range p.tombs {
		if err := t.checkShape(); err != nil {
			return nil, err
		}
		if i > 0 && p.tombs[i-1].Last >= t.First {
			return nil, fmt.Errorf("tombstones [%d, %d] and [%d, %d] overlap: %w",
				p.tombs[i-1].First, p.tombs[i-1].Last, t.First, t.Last, ErrMalformed)
		}
		p.tombIDs = append(p.tombIDs, compact.RangeNodes(t.First, t.Last+1, nil))
	}
	return p, nil
}

// Inclusion returns the RFC 6962 inclusion proof of leaf index in the tree of
// the given size. Cost: O(log n) node reads with a NodeReader, otherwise up
// to size leaf hashes read and O(size) hashes. It fails with ErrRange unless
// index < size, and ErrPruned if the proof needs a node inside a dropped
// segment (only when the leaf itself was dropped).
func (p *Prover) Inclusion(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("inclusion of %d in size %d: %w", index, size, ErrRange)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("inclusion of %d in size %d: %w", index, size, err)
	}
	return p.build(ctx, nodes)
}

// Consistency returns the RFC 6962 consistency proof between tree sizes m
// and n. Cost as for Inclusion. It fails with ErrRange unless m <= n, and
// ErrPruned if m falls strictly inside a dropped segment (checkpoints are on
// segment boundaries, so proofs between checkpoints never do).
func (p *Prover) Consistency(ctx context.Context, m, n uint64) ([][]byte, error) {
	if m > n {
		return nil, fmt.Errorf("consistency %d to %d: %w", m, n, ErrRange)
	}
	nodes, err := proof.Consistency(m, n)
	if err != nil {
		return nil, fmt.Errorf("consistency %d to %d: %w", m, n, err)
	}
	return p.build(ctx, nodes)
}

func (p *Prover) build(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hashes, err := p.nodeHashes(ctx, nodes.IDs)
	if err != nil {
		return nil, err
	}
	out, err := nodes.Rehash(hashes, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("rehash proof: %w", err)
	}
	return out, nil
}

func (p *Prover) nodeHashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	if p.nodes != nil {
		hs, err := p.nodes.NodeHashes(ctx, ids)
		switch {
		case errors.Is(err, ErrPruned):
			// Fall through to recomputation, which splices tombstones.
		case err != nil:
			return nil, fmt.Errorf("read nodes: %w", err)
		case len(hs) != len(ids):
			return nil, fmt.Errorf("read nodes: %d hashes for %d ids: %w", len(hs), len(ids), ErrMalformed)
		default:
			return hs, nil
		}
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := p.nodeHash(ctx, id)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// nodeHash recomputes one perfect subtree from leaf hashes, splicing in the
// kept subtree roots of every tombstone it overlaps. It fails with ErrPruned
// when the node cuts through one of those roots, i.e. its hash went with the
// dropped leaves.
func (p *Prover) nodeHash(ctx context.Context, id compact.NodeID) ([]byte, error) {
	begin, end := id.Coverage()
	r := factory.NewEmptyRange(begin)
	for pos := begin; pos < end; {
		i := sort.Search(len(p.tombs), func(i int) bool { return p.tombs[i].Last >= pos })
		if i < len(p.tombs) && p.tombs[i].First <= pos {
			h, to, err := p.tombNode(i, pos, end)
			if err != nil {
				return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, err)
			}
			n, err := factory.NewRange(pos, to, [][]byte{h})
			if err == nil {
				err = r.AppendRange(n, nil)
			}
			if err != nil {
				return nil, fmt.Errorf("splice tombstone node: %w", err)
			}
			pos = to
			continue
		}
		next := end
		if i < len(p.tombs) {
			next = min(end, p.tombs[i].First)
		}
		for ; pos < next; pos = min(next, pos+leafBatch) {
			// A recomputation can take a second; let a gone client stop it.
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			to := min(next, pos+leafBatch)
			hs, err := p.leaves.LeafHashes(ctx, pos, to)
			if err != nil {
				return nil, fmt.Errorf("read leaves [%d, %d): %w", pos, to, err)
			}
			if uint64(len(hs)) != to-pos {
				return nil, fmt.Errorf("read leaves [%d, %d): got %d: %w", pos, to, len(hs), ErrMalformed)
			}
			for _, h := range hs {
				if len(h) != HashSize {
					return nil, fmt.Errorf("leaf hash of %d bytes: %w", len(h), ErrMalformed)
				}
				if err := r.Append(h, nil); err != nil {
					return nil, fmt.Errorf("append leaf: %w", err)
				}
			}
		}
	}
	hs := r.Hashes()
	if len(hs) != 1 {
		return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ErrMalformed)
	}
	return hs[0], nil
}

// tombNode returns the kept subtree root of tombstone i that starts at pos
// and ends by end, and where it ends.
func (p *Prover) tombNode(i int, pos, end uint64) ([]byte, uint64, error) {
	t := p.tombs[i]
	for k, nid := range p.tombIDs[i] {
		a, b := nid.Coverage()
		if a == pos && b <= end {
			return t.Range[k], b, nil
		}
	}
	return nil, 0, fmt.Errorf("inside dropped [%d, %d]: %w", t.First, t.Last, ErrPruned)
}

// VerifyInclusion checks that leafHash is leaf index of the tree of the
// given size and root. It fails with ErrProof or ErrRange.
func VerifyInclusion(leafHash []byte, index, size uint64, proofHashes [][]byte, root []byte) error {
	if index >= size {
		return fmt.Errorf("inclusion of %d in size %d: %w", index, size, ErrRange)
	}
	if err := proof.VerifyInclusion(hasher, index, size, leafHash, proofHashes, root); err != nil {
		return fmt.Errorf("inclusion of leaf %d in size %d: %w: %v", index, size, ErrProof, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size m and root1 is a prefix of
// the tree of size n and root2. It fails with ErrProof or ErrRange. From
// size 0 the proof is empty and says nothing about root2: check that root
// against a signed checkpoint instead.
func VerifyConsistency(m, n uint64, proofHashes [][]byte, root1, root2 []byte) error {
	if m > n {
		return fmt.Errorf("consistency %d to %d: %w", m, n, ErrRange)
	}
	// The library accepts any root1 for m == 0; an empty tree has exactly one
	// root, and a checkpoint claiming another is lying.
	if m == 0 && !bytes.Equal(root1, EmptyRoot()) {
		return fmt.Errorf("consistency from empty tree: %w", ErrProof)
	}
	if err := proof.VerifyConsistency(hasher, m, n, proofHashes, root1, root2); err != nil {
		return fmt.Errorf("consistency %d to %d: %w: %v", m, n, ErrProof, err)
	}
	return nil
}

// VerifyCheckpoints opens two signed checkpoints of the same log with
// verifierKeys (any version may have signed either) and checks that older is a prefix of newer: what a monitor or
// `engram audit verify` does with the checkpoint it kept and the latest one,
// to catch a rewritten or truncated log. It returns both checkpoints; errors
// are those of Open and VerifyConsistency.
func VerifyCheckpoints(older, newer []byte, proofHashes [][]byte, origin string, verifierKeys ...string) (Checkpoint, Checkpoint, error) {
	o, err := Open(older, origin, verifierKeys...)
	if err != nil {
		return Checkpoint{}, Checkpoint{}, fmt.Errorf("older checkpoint: %w", err)
	}
	n, err := Open(newer, origin, verifierKeys...)
	if err != nil {
		return Checkpoint{}, Checkpoint{}, fmt.Errorf("newer checkpoint: %w", err)
	}
	if err := VerifyConsistency(o.Size, n.Size, proofHashes, o.Hash, n.Hash); err != nil {
		return Checkpoint{}, Checkpoint{}, err
	}
	return o, n, nil
}
