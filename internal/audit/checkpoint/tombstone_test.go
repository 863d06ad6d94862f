package checkpoint_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/testonly"
)

// tombFixture seals segments of uneven sizes (so no segment is an aligned
// subtree) and drops segments 0, 1 and 3, keeping their tombstones.
type tombFixture struct {
	log     *memLog
	ref     *testonly.Tree
	segs    []checkpoint.Segment
	signed  [][]byte
	tombs   []checkpoint.Tombstone
	dropped map[int]bool
	vkey    string
}

func newTombFixture(t *testing.T) *tombFixture {
	t.Helper()
	f := &tombFixture{log: newMemLog(), ref: testonly.New(hasherForTests()), dropped: map[int]bool{0: true, 1: true, 3: true}}
	skey, vkey := testKeys("")
	f.vkey = vkey
	signer, _ := checkpoint.NewSigner(skey)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []int{5, 11, 16, 9, 23} {
		es := entries(len(f.log.leaves), k)
		seg, err := checkpoint.Seal(f.log.tree, "acme", es, now)
		if err != nil {
			t.Fatal(err)
		}
		f.log.leaves = append(f.log.leaves, leafHashes(es)...)
		f.ref.AppendData(es...)
		s, err := checkpoint.Sign(seg.Checkpoint(checkpoint.Origin("acme")), signer)
		if err != nil {
			t.Fatal(err)
		}
		f.segs = append(f.segs, seg)
		f.signed = append(f.signed, s)
	}
	for i, seg := range f.segs {
		if f.dropped[i] {
			f.log.drop(seg.First, seg.Last)
			f.tombs = append(f.tombs, checkpoint.NewTombstone(seg, f.signed[i], []byte("mac"), now.AddDate(0, 3, 0)))
		}
	}
	return f
}

// A verifier replays the log from leaf 0: tombstones stand in for dropped
// segments, live entries are hashed, and every signed checkpoint must match.
func TestTombstoneReplay(t *testing.T) {
	f := newTombFixture(t)
	tree := checkpoint.NewTree(nil)
	ti := 0
	for i, seg := range f.segs {
		if f.dropped[i] {
			cp, err := f.tombs[ti].Verify(f.vkey)
			if err != nil {
				t.Fatalf("tombstone %d: %v", ti, err)
			}
			if err := tree.AppendTombstone(f.tombs[ti]); err != nil {
				t.Fatal(err)
			}
			if err := tree.Check(cp); err != nil {
				t.Fatalf("after tombstone %d: %v", ti, err)
			}
			ti++
			continue
		}
		for _, e := range entries(int(seg.First), int(seg.Last-seg.First+1)) {
			tree.Append(e)
		}
		cp, err := checkpoint.Open(f.signed[i], checkpoint.Origin("acme"), f.vkey)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Check(cp); err != nil {
			t.Fatalf("after live segment %d: %v", i, err)
		}
	}
}

func TestTombstoneRejects(t *testing.T) {
	f := newTombFixture(t)
	bad := f.tombs[1]
	bad.Range = cloneProof(bad.Range)
	bad.Range[0][0] ^= 1
	tree := checkpoint.NewTree(nil)
	if err := tree.AppendTombstone(f.tombs[0]); err != nil {
		t.Fatal(err)
	}
	if err := tree.AppendTombstone(bad); err != nil {
		t.Fatal(err)
	}
	cp, err := bad.Verify(f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Check(cp); !errors.Is(err, checkpoint.ErrProof) {
		t.Errorf("replay over a tampered tombstone range: %v", err)
	}
	if err := checkpoint.NewTree(nil).AppendTombstone(f.tombs[1]); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("tombstone appended out of place: %v", err)
	}
	short := f.tombs[0]
	short.Range = short.Range[:len(short.Range)-1]
	if err := checkpoint.NewTree(nil).AppendTombstone(short); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("tombstone with a short range: %v", err)
	}
	for name, mut := range map[string]func(*checkpoint.Tombstone){
		"root":                          func(ts *checkpoint.Tombstone) { ts.Root = flip(ts.Root) },
		"bounds":                        func(ts *checkpoint.Tombstone) { ts.Last-- },
		"tenant":                        func(ts *checkpoint.Tombstone) { ts.Tenant = "globex" },
		"checkpoint of another segment": func(ts *checkpoint.Tombstone) { ts.Checkpoint = f.signed[2] },
	} {
		ts := f.tombs[1]
		mut(&ts)
		if _, err := ts.Verify(f.vkey); err == nil {
			t.Errorf("tombstone with changed %s verified", name)
		}
	}
	if _, err := checkpoint.NewProver(leavesOnly{f.log}, f.tombs[0], f.tombs[0]); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("overlapping tombstones: %v", err)
	}
}

// After retention, every proof a live leaf or a checkpoint can need is still
// produced, identical to the full tree's; only proofs that reach inside a
// dropped segment fail, with ErrPruned.
func TestProofsAcrossTombstones(t *testing.T) {
	f := newTombFixture(t)
	for name, r := range map[string]checkpoint.HashReader{"leaves": leavesOnly{f.log}, "pruned nodes": prunedNodes{leavesOnly{f.log}}} {
		t.Run(name, func(t *testing.T) {
			p, err := checkpoint.NewProver(r, f.tombs...)
			if err != nil {
				t.Fatal(err)
			}
			proofsAcrossTombstones(t, f, p)
		})
	}
}

// prunedNodes is a store that deleted the nodes of dropped segments and
// says so for every node it is asked for.
type prunedNodes struct{ leavesOnly }

func (prunedNodes) NodeHashes(context.Context, []compact.NodeID) ([][]byte, error) {
	return nil, checkpoint.ErrPruned
}

func proofsAcrossTombstones(t *testing.T, f *tombFixture, p *checkpoint.Prover) {
	var sizes []uint64
	for _, s := range f.segs {
		sizes = append(sizes, s.TreeSize)
	}
	live := func(i uint64) bool {
		for _, ts := range f.tombs {
			if ts.Overlaps(i, i) {
				return false
			}
		}
		return true
	}
	pruned := 0
	for _, n := range sizes {
		for i := range n {
			pr, err := p.Inclusion(t.Context(), i, n)
			want, _ := f.ref.InclusionProof(i, n)
			if !live(i) {
				// The entry is gone; its proof may or may not still be
				// computable from the kept subtree roots, but never wrong.
				if err == nil && !equalHashes(pr, want) || err != nil && !errors.Is(err, checkpoint.ErrPruned) {
					t.Fatalf("Inclusion of dropped leaf %d in %d: %v", i, n, err)
				}
				pruned++
				continue
			}
			if err != nil || !equalHashes(pr, want) {
				t.Fatalf("Inclusion(%d, %d) after retention: %v", i, n, err)
			}
		}
		for _, m := range sizes {
			if m > n {
				continue
			}
			pr, err := p.Consistency(t.Context(), m, n)
			want, _ := f.ref.ConsistencyProof(m, n)
			if err != nil || !equalHashes(pr, want) {
				t.Fatalf("Consistency(%d, %d) after retention: %v", m, n, err)
			}
			if err := checkpoint.VerifyConsistency(m, n, pr, f.ref.HashAt(m), f.ref.HashAt(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pruned == 0 {
		t.Fatal("no dropped leaf was asked for")
	}
	if _, err := p.Consistency(t.Context(), 3, 64); !errors.Is(err, checkpoint.ErrPruned) {
		t.Errorf("Consistency from inside a dropped segment: %v", err)
	}
	// The live segment after the drop still exports and verifies offline.
	seg := f.segs[4]
	b, err := checkpoint.NewBundle(t.Context(), p, "acme", seg.First, entries(int(seg.First), int(seg.Last-seg.First+1)), f.signed[4])
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddConsistency(t.Context(), p, f.signed[1]); err != nil {
		t.Fatal(err)
	}
	if rep, err := checkpoint.VerifyBundle(b, f.vkey); err != nil || !rep.Complete {
		t.Fatalf("bundle after retention: %+v %v", rep, err)
	}
}

func TestDroppableAndOverlaps(t *testing.T) {
	sealed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		now       time.Time
		retention time.Duration
		hold      bool
		want      bool
	}{
		{sealed.Add(89 * day), 90 * day, false, false},
		{sealed.Add(90 * day), 90 * day, false, true},
		{sealed.Add(90 * day), 90 * day, true, false},
		{sealed.Add(10 * 365 * day), 0, false, false},
		{sealed.Add(10 * 365 * day), 7 * 365 * day, false, true},
	} {
		if got := checkpoint.Droppable(sealed, tc.now, tc.retention, tc.hold); got != tc.want {
			t.Errorf("Droppable(%v, %v, hold=%v) = %v", tc.now.Sub(sealed), tc.retention, tc.hold, got)
		}
	}
	ts := checkpoint.Tombstone{First: 10, Last: 19}
	for _, tc := range []struct {
		first, last uint64
		want        bool
	}{{0, 9, false}, {0, 10, true}, {19, 30, true}, {20, 30, false}, {12, 13, true}, {0, 100, true}} {
		if got := ts.Overlaps(tc.first, tc.last); got != tc.want {
			t.Errorf("Overlaps(%d, %d) = %v", tc.first, tc.last, got)
		}
	}
}
