package checkpoint

import (
	"fmt"
	"time"
)

// Policy says when the open segment of a tenant is sealed: when it holds
// MaxEntries entries, or when its oldest entry is MaxAge old, whichever comes
// first. A zero field disables that trigger.
type Policy struct {
	MaxEntries uint64
	MaxAge     time.Duration
}

// Due reports whether an open segment holding count entries, the oldest
// written at oldest, must be sealed at now. An empty segment is never due:
// sealing nothing would produce a checkpoint that commits to nothing new.
func Due(count uint64, oldest, now time.Time, p Policy) bool {
	if count == 0 {
		return false
	}
	if p.MaxEntries > 0 && count >= p.MaxEntries {
		return true
	}
	return p.MaxAge > 0 && !now.Before(oldest.Add(p.MaxAge))
}

// Segment is a sealed, contiguous run of a tenant's leaves [First, Last].
type Segment struct {
	Tenant string
	First  uint64
	Last   uint64
	// Root is the RFC 6962 root of a standalone tree over the segment's
	// entries alone, so the segment can be checked without the rest of the log.
	Root []byte
	// Range is the compact range of [First, Last+1) in the tenant's log tree:
	// what a Tombstone keeps when the segment's entries are dropped.
	Range [][]byte
	// TreeSize (= Last+1) and TreeRoot are the log tree after the seal: what
	// the segment's checkpoint signs.
	TreeSize uint64
	TreeRoot []byte
	SealedAt time.Time
}

// Seal appends entries to the tenant's log tree and seals them as one
// segment. It costs O(k + log n) hashes for k entries in a tree of n leaves
// and O(log n) memory: neither earlier entries nor earlier subtrees are
// rehashed. It fails with ErrRange for an empty segment. On error the tree is
// unchanged.
func Seal(tree *Tree, tenant string, entries [][]byte, now time.Time) (Segment, error) {
	if len(entries) == 0 {
		return Segment{}, fmt.Errorf("seal: empty segment: %w", ErrRange)
	}
	first := tree.Size()
	own := factory.NewEmptyRange(0)
	inLog := factory.NewEmptyRange(first)
	for _, e := range entries {
		h := LeafHash(e)
		if err := own.Append(h, nil); err != nil {
			return Segment{}, fmt.Errorf("seal: %w", err)
		}
		// inLog uses log-tree coordinates, so the nodes it reports are the
		// tree's own nodes and a store's visitor sees every one of them.
		if err := inLog.Append(h, tree.visit); err != nil {
			return Segment{}, fmt.Errorf("seal: %w", err)
		}
	}
	// Merge the segment's range into the log tree in one step so the tree is
	// only touched once everything hashed; the merge reports the new nodes
	// that straddle the segment boundary.
	if err := tree.r.AppendRange(inLog, tree.visit); err != nil {
		return Segment{}, fmt.Errorf("seal: %w", err)
	}
	return Segment{
		Tenant:   tenant,
		First:    first,
		Last:     first + uint64(len(entries)) - 1,
		Root:     rangeRoot(own),
		Range:    cloneHashes(inLog.Hashes()),
		TreeSize: tree.Size(),
		TreeRoot: tree.Root(),
		SealedAt: now.UTC(),
	}, nil
}

// Checkpoint returns the unsigned checkpoint that seals s in the log named
// origin (see Origin).
func (s Segment) Checkpoint(origin string) Checkpoint {
	return Checkpoint{
		Origin:  origin,
		Size:    s.TreeSize,
		Hash:    s.TreeRoot,
		Segment: &SegmentRef{First: s.First, Last: s.Last, Root: s.Root},
		Time:    s.SealedAt.Truncate(time.Second), // the text format has second precision
	}
}
