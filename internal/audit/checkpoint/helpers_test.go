package checkpoint_test

import (
	"context"
	"fmt"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// memLog is an in-memory store: leaf hashes, plus every node the Tree
// reports, kept level by level in flat arrays (64 MB for a million leaves,
// where a map would take several times that).
type memLog struct {
	tree   *checkpoint.Tree
	leaves [][]byte
	levels [][]byte // levels[l][i*32:(i+1)*32] = hash of node (l, i)
}

func newMemLog() *memLog {
	m := &memLog{}
	m.tree = checkpoint.NewTree(m.visit)
	return m
}

func (m *memLog) visit(id compact.NodeID, h []byte) {
	for uint(len(m.levels)) <= id.Level {
		m.levels = append(m.levels, nil)
	}
	off := id.Index * checkpoint.HashSize
	lv := m.levels[id.Level]
	// Seal reports a segment's inner nodes before the merge reports the
	// ones straddling its left edge, so a level can be filled out of order.
	if need := off + checkpoint.HashSize; uint64(len(lv)) < need {
		lv = append(lv, make([]byte, need-uint64(len(lv)))...)
		m.levels[id.Level] = lv
	}
	copy(lv[off:], h)
}

func (m *memLog) add(entries ...[]byte) {
	for _, e := range entries {
		m.tree.Append(e)
		m.leaves = append(m.leaves, checkpoint.LeafHash(e))
	}
}

// drop forgets the leaf hashes of [first, last], as retention would.
func (m *memLog) drop(first, last uint64) {
	for i := first; i <= last; i++ {
		m.leaves[i] = nil
	}
}

func (m *memLog) LeafHashes(_ context.Context, from, to uint64) ([][]byte, error) {
	if from > to || to > uint64(len(m.leaves)) {
		return nil, fmt.Errorf("leaves [%d, %d): %w", from, to, checkpoint.ErrRange)
	}
	for _, h := range m.leaves[from:to] {
		if h == nil {
			return nil, fmt.Errorf("leaves [%d, %d): %w", from, to, checkpoint.ErrPruned)
		}
	}
	return m.leaves[from:to], nil
}

func (m *memLog) NodeHashes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		off := id.Index * checkpoint.HashSize
		if id.Level >= uint(len(m.levels)) || off+checkpoint.HashSize > uint64(len(m.levels[id.Level])) {
			return nil, fmt.Errorf("node %d/%d: %w", id.Level, id.Index, checkpoint.ErrRange)
		}
		out[i] = m.levels[id.Level][off : off+checkpoint.HashSize]
	}
	return out, nil
}

// leavesOnly hides NodeReader so the Prover recomputes nodes from leaves.
type leavesOnly struct{ m *memLog }

func (l leavesOnly) LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error) {
	return l.m.LeafHashes(ctx, from, to)
}

func entry(i int) []byte { return fmt.Appendf(nil, `{"seq":%d,"action":"memory.create"}`, i+1) }

func entries(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = entry(from + i)
	}
	return out
}

// fixedRand is a deterministic randomness source for reproducible keys.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f) + byte(i)
	}
	return len(p), nil
}

func testKeys(name string) (signer, verifier string) {
	s, v, err := checkpoint.GenerateKey(fixedRand(7), name)
	if err != nil {
		panic(err)
	}
	return s, v
}

func hasherForTests() *rfc6962.Hasher { return rfc6962.DefaultHasher }
