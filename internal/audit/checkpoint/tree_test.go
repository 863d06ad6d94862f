package checkpoint_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/transparency-dev/merkle/testonly"
)

func hx(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The published RFC 6962 test vectors (the Certificate Transparency test
// leaves "", 00, 10, 2021, 3031, 40414243, 5051525354555657,
// 606162636465666768696a6b6c6d6e6f), checked for every prefix size against
// the roots the merkle module ships, and the full-tree and empty roots
// written out here so a change in that module cannot silently move them.
func TestRFC6962Vectors(t *testing.T) {
	leaves := testonly.LeafInputs()
	roots := testonly.RootHashes()
	if got := checkpoint.Root(nil); !bytes.Equal(got, hx(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")) {
		t.Fatalf("empty root %x", got)
	}
	if got := checkpoint.Root(leaves); !bytes.Equal(got, hx(t, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")) {
		t.Fatalf("8-leaf root %x", got)
	}
	if got := checkpoint.Root(leaves[:3]); !bytes.Equal(got, hx(t, "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77")) {
		t.Fatalf("3-leaf root %x", got)
	}
	if got := checkpoint.LeafHash(nil); !bytes.Equal(got, hx(t, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")) {
		t.Fatalf("empty leaf hash %x", got)
	}
	tree := checkpoint.NewTree(nil)
	for n := 0; n <= len(leaves); n++ {
		if got := checkpoint.Root(leaves[:n]); !bytes.Equal(got, roots[n]) {
			t.Errorf("Root(%d leaves) = %x, want %x", n, got, roots[n])
		}
		if got := tree.Root(); !bytes.Equal(got, roots[n]) {
			t.Errorf("Tree root at %d = %x, want %x", n, got, roots[n])
		}
		if got, want := tree.Frontier(), testonly.CompactTrees()[n]; len(got) != len(want) {
			t.Errorf("frontier at %d: %d hashes, want %d", n, len(got), len(want))
		}
		if n < len(leaves) {
			tree.Append(leaves[n])
		}
	}
}

func TestTreeMatchesReferenceAndRestores(t *testing.T) {
	ref := testonly.New(hasherForTests())
	tree := checkpoint.NewTree(nil)
	for i := range 200 {
		e := entry(i)
		if got := tree.Append(e); got != uint64(i) {
			t.Fatalf("Append index %d, want %d", got, i)
		}
		ref.AppendData(e)
		if !bytes.Equal(tree.Root(), ref.Hash()) {
			t.Fatalf("root at size %d differs from reference", i+1)
		}
		restored, err := checkpoint.RestoreTree(tree.Size(), tree.Frontier(), nil)
		if err != nil {
			t.Fatalf("restore at %d: %v", i+1, err)
		}
		if !bytes.Equal(restored.Root(), tree.Root()) {
			t.Fatalf("restored root at %d differs", i+1)
		}
	}
	if _, err := checkpoint.RestoreTree(5, [][]byte{make([]byte, 32)}, nil); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("restore with wrong frontier length: %v", err)
	}
	if _, err := checkpoint.RestoreTree(4, [][]byte{make([]byte, 31)}, nil); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("restore with short hash: %v", err)
	}
	if _, err := tree.AppendLeafHash([]byte("short")); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("AppendLeafHash short: %v", err)
	}
}

func TestSealSegments(t *testing.T) {
	tree := checkpoint.NewTree(nil)
	ref := testonly.New(hasherForTests())
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	first := uint64(0)
	for _, k := range []int{1, 7, 8, 13, 64, 3} {
		es := entries(int(first), k)
		seg, err := checkpoint.Seal(tree, "t1", es, now)
		if err != nil {
			t.Fatal(err)
		}
		ref.AppendData(es...)
		if seg.First != first || seg.Last != first+uint64(k)-1 || seg.TreeSize != seg.Last+1 {
			t.Fatalf("segment [%d, %d] size %d, want first %d, %d entries", seg.First, seg.Last, seg.TreeSize, first, k)
		}
		if !bytes.Equal(seg.Root, checkpoint.Root(es)) {
			t.Errorf("segment root differs from standalone root")
		}
		if !bytes.Equal(seg.TreeRoot, ref.Hash()) || !bytes.Equal(tree.Root(), ref.Hash()) {
			t.Errorf("tree root after segment [%d, %d] differs from reference", seg.First, seg.Last)
		}
		first += uint64(k)
	}
	if _, err := checkpoint.Seal(tree, "t1", nil, now); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("empty seal: %v", err)
	}
}

// The nodes a Tree reports must be exactly the reference tree's nodes, or a
// store serving them through NodeReader would produce wrong proofs.
func TestVisitorReportsTreeNodes(t *testing.T) {
	m := newMemLog()
	for _, k := range []int{5, 1, 10, 16} {
		if _, err := checkpoint.Seal(m.tree, "t", entries(len(m.leaves), k), time.Now()); err != nil {
			t.Fatal(err)
		}
		m.leaves = append(m.leaves, leafHashes(entries(len(m.leaves), k))...)
	}
	all := entries(0, len(m.leaves))
	for l := range m.levels {
		for i := 0; (i+1)<<l <= len(all); i++ {
			want := checkpoint.Root(all[i<<l : (i+1)<<l])
			if got := m.levels[l][i*32 : (i+1)*32]; !bytes.Equal(got, want) {
				t.Fatalf("node %d/%d = %x, want %x", l, i, got, want)
			}
		}
	}
}

func leafHashes(es [][]byte) [][]byte {
	out := make([][]byte, len(es))
	for i, e := range es {
		out[i] = checkpoint.LeafHash(e)
	}
	return out
}

func TestDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := checkpoint.Policy{MaxEntries: 1000, MaxAge: time.Minute}
	for _, tc := range []struct {
		name  string
		count uint64
		now   time.Time
		p     checkpoint.Policy
		want  bool
	}{
		{"empty never", 0, t0.Add(time.Hour), p, false},
		{"few and young", 10, t0.Add(time.Second), p, false},
		{"count reached", 1000, t0, p, true},
		{"count exceeded", 1500, t0, p, true},
		{"age reached exactly", 1, t0.Add(time.Minute), p, true},
		{"age just short", 1, t0.Add(time.Minute - 1), p, false},
		{"clock went back", 1, t0.Add(-time.Hour), p, false},
		{"count only", 999, t0.Add(time.Hour), checkpoint.Policy{MaxEntries: 1000}, false},
		{"age only", 1, t0.Add(time.Hour), checkpoint.Policy{MaxAge: time.Minute}, true},
		{"disabled", 1 << 40, t0.Add(1 << 60), checkpoint.Policy{}, false},
	} {
		if got := checkpoint.Due(tc.count, t0, tc.now, tc.p); got != tc.want {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
}
