package checkpoint

import (
	"bytes"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
)

// Tombstone is what remains of a sealed segment after retention dropped its
// entries: enough for the log tree and the chain to keep verifying.
//
// The store must keep a tombstone for as long as the tenant's log exists, and
// must never drop a segment under legal hold (see Droppable and Overlaps).
type Tombstone struct {
	Tenant string `json:"tenant"`
	First  uint64 `json:"first"`
	Last   uint64 `json:"last"`
	// Root is the segment's standalone root, as its checkpoint recorded it.
	Root []byte `json:"root"`
	// Range is the compact range of [First, Last+1) in the log tree: the
	// perfect subtree roots that stand in for the dropped leaves in every
	// later root, proof and replay.
	Range [][]byte `json:"range"`
	// Checkpoint is the signed checkpoint that sealed the segment (size
	// Last+1); it proves Root and, through the log root, Range.
	Checkpoint []byte `json:"checkpoint"`
	// ChainMAC is the audit chain's MAC of entry Last, opaque here: the chain
	// verifier resumes from it at entry Last+1.
	ChainMAC  []byte    `json:"chain_mac,omitempty"`
	DroppedAt time.Time `json:"dropped_at"`
}

// NewTombstone returns the tombstone for dropping seg, whose signed checkpoint
// is signedCheckpoint. chainMAC is the chain's MAC of the segment's last entry.
func NewTombstone(seg Segment, signedCheckpoint, chainMAC []byte, now time.Time) Tombstone {
	return Tombstone{
		Tenant:     seg.Tenant,
		First:      seg.First,
		Last:       seg.Last,
		Root:       bytes.Clone(seg.Root),
		Range:      cloneHashes(seg.Range),
		Checkpoint: bytes.Clone(signedCheckpoint),
		ChainMAC:   bytes.Clone(chainMAC),
		DroppedAt:  now.UTC(),
	}
}

// Droppable reports whether a segment sealed at sealedAt has outlived
// retention at now and may be dropped. A segment under legal hold never is;
// the hold decision (scope, who set it, its audit entry) belongs to the
// store and engine, which pass its outcome here so the rule lives in one place.
func Droppable(sealedAt, now time.Time, retention time.Duration, onHold bool) bool {
	if onHold || retention <= 0 {
		return false
	}
	return !now.Before(sealedAt.Add(retention))
}

// Overlaps reports whether the tombstone covers any leaf in [first, last],
// for example the range of a legal hold or of an inclusion request.
func (t Tombstone) Overlaps(first, last uint64) bool {
	return t.First <= last && first <= t.Last
}

// Verify checks the tombstone against its own signed checkpoint: the
// signature by one of verifierKeys, the origin of tenant, that the checkpoint sealed
// exactly [First, Last] with Root, and the shape of Range. Range itself is
// proved when a replay (Tree.AppendTombstone then Tree.Check) reaches the
// checkpoint's root. It returns the opened checkpoint.
func (t Tombstone) Verify(verifierKeys ...string) (Checkpoint, error) {
	if err := t.checkShape(); err != nil {
		return Checkpoint{}, err
	}
	cp, err := Open(t.Checkpoint, Origin(t.Tenant), verifierKeys...)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("tombstone [%d, %d]: %w", t.First, t.Last, err)
	}
	s := cp.Segment
	if s == nil || s.First != t.First || s.Last != t.Last || !bytes.Equal(s.Root, t.Root) || cp.Size != t.Last+1 {
		return Checkpoint{}, fmt.Errorf("tombstone [%d, %d] does not match its checkpoint: %w", t.First, t.Last, ErrProof)
	}
	return cp, nil
}

func (t Tombstone) checkShape() error {
	if t.First > t.Last || t.Last == ^uint64(0) || len(t.Root) != HashSize {
		return fmt.Errorf("tombstone [%d, %d]: %w", t.First, t.Last, ErrMalformed)
	}
	return checkRange(t.First, t.Last+1, t.Range)
}

func (t Tombstone) compactRange() (*compact.Range, error) {
	if err := t.checkShape(); err != nil {
		return nil, err
	}
	r, err := factory.NewRange(t.First, t.Last+1, cloneHashes(t.Range))
	if err != nil {
		return nil, fmt.Errorf("tombstone range: %w: %v", ErrMalformed, err)
	}
	return r, nil
}
