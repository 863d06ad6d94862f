package checkpoint

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// HashSize is the size of every hash in the log tree (SHA-256).
const HashSize = 32

// Errors to branch on. Functions wrap them with detail; use errors.Is.
var (
	// ErrMalformed: a checkpoint, bundle, tombstone or proof is not well formed.
	ErrMalformed = errors.New("malformed")
	// ErrOrigin: a checkpoint names another log than the one expected.
	ErrOrigin = errors.New("wrong checkpoint origin")
	// ErrSignature: a checkpoint carries no valid signature by the expected key.
	ErrSignature = errors.New("checkpoint signature not verified")
	// ErrProof: a proof or a root does not match what it is checked against.
	ErrProof = errors.New("proof does not verify")
	// ErrPruned: a proof would need hashes inside a range dropped by retention.
	ErrPruned = errors.New("range dropped by retention")
	// ErrRange: an index or tree size is out of range.
	ErrRange = errors.New("index out of range")
)

var (
	hasher  = rfc6962.DefaultHasher
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// LeafHash returns the RFC 6962 leaf hash of an entry's canonical bytes:
// SHA-256(0x00 || entry). The 0x00/0x01 domain separation is what stops an
// interior node being passed off as a leaf.
func LeafHash(entry []byte) []byte { return hasher.HashLeaf(entry) }

// EmptyRoot returns the root of the empty tree, SHA-256 of nothing.
func EmptyRoot() []byte { return hasher.EmptyRoot() }

// Root returns the RFC 6962 root of a standalone tree over entries. It costs
// O(len(entries)) hashes and O(log n) memory.
func Root(entries [][]byte) []byte {
	r := factory.NewEmptyRange(0)
	for _, e := range entries {
		// Append only fails on a nil hash, which HashLeaf never returns.
		_ = r.Append(LeafHash(e), nil)
	}
	return rangeRoot(r)
}

func rangeRoot(r *compact.Range) []byte {
	root, err := r.GetRootHash(nil)
	if err != nil || root == nil {
		return EmptyRoot()
	}
	return root
}

// Tree is the incremental state of a tenant's log tree: its size and compact
// range. It holds O(log n) hashes whatever the size, which is what a store
// persists between seals (Frontier) and restores with RestoreTree.
//
// A Tree is not safe for concurrent use; the store serialises appends per
// tenant anyway, because the audit chain does.
type Tree struct {
	r     *compact.Range
	visit compact.VisitFn
}

// NewTree returns an empty log tree. visit, if not nil, is called with every
// perfect-subtree node the tree computes (leaves included); a store that
// persists them can serve them back through NodeReader, making proofs
// O(log n).
func NewTree(visit compact.VisitFn) *Tree {
	return &Tree{r: factory.NewEmptyRange(0), visit: visit}
}

// RestoreTree rebuilds a Tree of the given size from its Frontier. It fails
// with ErrMalformed if the number or size of the hashes does not fit size.
func RestoreTree(size uint64, frontier [][]byte, visit compact.VisitFn) (*Tree, error) {
	if err := checkRange(0, size, frontier); err != nil {
		return nil, err
	}
	r, err := factory.NewRange(0, size, cloneHashes(frontier))
	if err != nil {
		return nil, fmt.Errorf("restore tree: %w: %v", ErrMalformed, err)
	}
	return &Tree{r: r, visit: visit}, nil
}

// Size returns the number of leaves in the tree.
func (t *Tree) Size() uint64 { return t.r.End() }

// Root returns the current root (EmptyRoot for an empty tree), O(log n).
func (t *Tree) Root() []byte { return rangeRoot(t.r) }

// Frontier returns a copy of the compact range hashes, left to right: the
// roots of the perfect subtrees covering [0, Size()).
func (t *Tree) Frontier() [][]byte { return cloneHashes(t.r.Hashes()) }

// Append adds an entry's leaf and returns its leaf index.
func (t *Tree) Append(entry []byte) uint64 {
	i, _ := t.AppendLeafHash(LeafHash(entry))
	return i
}

// AppendLeafHash adds a precomputed leaf hash and returns its leaf index. It
// fails with ErrMalformed if the hash is not HashSize bytes.
func (t *Tree) AppendLeafHash(h []byte) (uint64, error) {
	if len(h) != HashSize {
		return 0, fmt.Errorf("append leaf: %w: hash of %d bytes", ErrMalformed, len(h))
	}
	i := t.r.End()
	if err := t.r.Append(bytes.Clone(h), t.visit); err != nil {
		return 0, fmt.Errorf("append leaf: %w", err)
	}
	return i, nil
}

// AppendTombstone extends the tree over a dropped segment using the compact
// range its tombstone kept, so a replay of the log from leaf 0 continues
// across retention. It fails with ErrRange unless the tombstone starts at
// Size(), and ErrMalformed if its range hashes do not fit [First, Last].
func (t *Tree) AppendTombstone(ts Tombstone) error {
	if ts.First != t.Size() {
		return fmt.Errorf("append tombstone [%d, %d] to tree of size %d: %w", ts.First, ts.Last, t.Size(), ErrRange)
	}
	r, err := ts.compactRange()
	if err != nil {
		return err
	}
	if err := t.r.AppendRange(r, t.visit); err != nil {
		return fmt.Errorf("append tombstone: %w", err)
	}
	return nil
}

// Check reports whether the tree, as replayed so far, is what cp commits to.
// It fails with ErrRange if the sizes differ and ErrProof if the roots do.
func (t *Tree) Check(cp Checkpoint) error {
	if cp.Size != t.Size() {
		return fmt.Errorf("checkpoint size %d, tree size %d: %w", cp.Size, t.Size(), ErrRange)
	}
	if !bytes.Equal(cp.Hash, t.Root()) {
		return fmt.Errorf("checkpoint root at size %d: %w", cp.Size, ErrProof)
	}
	return nil
}

// checkRange validates that hashes can be the compact range of [begin, end).
func checkRange(begin, end uint64, hashes [][]byte) error {
	if begin > end {
		return fmt.Errorf("range [%d, %d): %w", begin, end, ErrMalformed)
	}
	if want := compact.RangeSize(begin, end); len(hashes) != want {
		return fmt.Errorf("range [%d, %d) needs %d hashes, got %d: %w", begin, end, want, len(hashes), ErrMalformed)
	}
	for _, h := range hashes {
		if len(h) != HashSize {
			return fmt.Errorf("range hash of %d bytes: %w", len(h), ErrMalformed)
		}
	}
	return nil
}

func cloneHashes(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = bytes.Clone(h)
	}
	return out
}
