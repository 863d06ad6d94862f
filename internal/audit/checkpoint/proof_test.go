package checkpoint_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/testonly"
)

const maxProofLeaves = 64

// provers returns one Prover reading stored nodes and one recomputing them
// from leaf hashes, over the same 64-leaf log, and the reference tree.
func provers(t *testing.T) (map[string]*checkpoint.Prover, *testonly.Tree) {
	t.Helper()
	m := newMemLog()
	ref := testonly.New(hasherForTests())
	es := entries(0, maxProofLeaves)
	m.add(es...)
	ref.AppendData(es...)
	nodes, err := checkpoint.NewProver(m)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := checkpoint.NewProver(leavesOnly{m})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*checkpoint.Prover{"nodes": nodes, "leaves": leaves}, ref
}

// Every (i, n) up to 64 leaves: the proof equals the reference tree's, passes
// the merkle module's own verifier and ours, and fails once any hash in it,
// the leaf, the index or the root is changed.
func TestInclusionAll(t *testing.T) {
	ps, ref := provers(t)
	for name, p := range ps {
		for n := uint64(1); n <= maxProofLeaves; n++ {
			root := ref.HashAt(n)
			for i := range n {
				pr, err := p.Inclusion(t.Context(), i, n)
				if err != nil {
					t.Fatalf("%s: Inclusion(%d, %d): %v", name, i, n, err)
				}
				want, _ := ref.InclusionProof(i, n)
				if !equalHashes(pr, want) {
					t.Fatalf("%s: Inclusion(%d, %d) differs from reference", name, i, n)
				}
				leaf := ref.LeafHash(i)
				if err := proof.VerifyInclusion(hasherForTests(), i, n, leaf, pr, root); err != nil {
					t.Fatalf("%s: merkle verifier rejects (%d, %d): %v", name, i, n, err)
				}
				if err := checkpoint.VerifyInclusion(leaf, i, n, pr, root); err != nil {
					t.Fatalf("%s: VerifyInclusion(%d, %d): %v", name, i, n, err)
				}
				if name == "nodes" { // the tamper checks do not depend on the prover
					tamperInclusion(t, leaf, i, n, pr, root)
				}
			}
		}
	}
}

func tamperInclusion(t *testing.T, leaf []byte, i, n uint64, pr [][]byte, root []byte) {
	t.Helper()
	reject := func(what string, leaf []byte, i, n uint64, pr [][]byte, root []byte) {
		t.Helper()
		if err := checkpoint.VerifyInclusion(leaf, i, n, pr, root); !errors.Is(err, checkpoint.ErrProof) && !errors.Is(err, checkpoint.ErrRange) {
			t.Fatalf("(%d, %d) %s: accepted or wrong error: %v", i, n, what, err)
		}
	}
	for k := range pr {
		bad := cloneProof(pr)
		bad[k][k%32] ^= 1
		reject("flipped proof hash", leaf, i, n, bad, root)
	}
	if len(pr) > 0 {
		reject("truncated proof", leaf, i, n, pr[:len(pr)-1], root)
	}
	reject("extra proof hash", leaf, i, n, append(cloneProof(pr), make([]byte, 32)), root)
	reject("other leaf", flip(leaf), i, n, pr, root)
	reject("other root", leaf, i, n, pr, flip(root))
	if n > 1 {
		reject("other index", leaf, (i+1)%n, n, pr, root)
	}
	reject("index beyond size", leaf, n, n, pr, root)
}

func TestConsistencyAll(t *testing.T) {
	ps, ref := provers(t)
	for name, p := range ps {
		for n := uint64(0); n <= maxProofLeaves; n++ {
			for m := range n + 1 {
				pr, err := p.Consistency(t.Context(), m, n)
				if err != nil {
					t.Fatalf("%s: Consistency(%d, %d): %v", name, m, n, err)
				}
				want, _ := ref.ConsistencyProof(m, n)
				if !equalHashes(pr, want) {
					t.Fatalf("%s: Consistency(%d, %d) differs from reference", name, m, n)
				}
				r1, r2 := ref.HashAt(m), ref.HashAt(n)
				if err := proof.VerifyConsistency(hasherForTests(), m, n, pr, r1, r2); err != nil {
					t.Fatalf("%s: merkle verifier rejects (%d, %d): %v", name, m, n, err)
				}
				if err := checkpoint.VerifyConsistency(m, n, pr, r1, r2); err != nil {
					t.Fatalf("%s: VerifyConsistency(%d, %d): %v", name, m, n, err)
				}
				if name != "nodes" {
					continue
				}
				for k := range pr {
					bad := cloneProof(pr)
					bad[k][0] ^= 0x80
					if checkpoint.VerifyConsistency(m, n, bad, r1, r2) == nil {
						t.Fatalf("(%d, %d): flipped hash %d accepted", m, n, k)
					}
				}
				if m < n && checkpoint.VerifyConsistency(m, n, pr, flip(r1), r2) == nil {
					t.Fatalf("(%d, %d): other old root accepted", m, n)
				}
				// From size 0 a proof is empty and says nothing about the new root.
				if m > 0 && checkpoint.VerifyConsistency(m, n, pr, r1, flip(r2)) == nil {
					t.Fatalf("(%d, %d): other new root accepted", m, n)
				}
				if m > 0 && m < n && checkpoint.VerifyConsistency(m-1, n, pr, r1, r2) == nil {
					t.Fatalf("(%d, %d): proof accepted for size %d", m, n, m-1)
				}
			}
		}
	}
	if _, err := ps["nodes"].Consistency(t.Context(), 5, 4); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("Consistency(5, 4): %v", err)
	}
	if _, err := ps["nodes"].Inclusion(t.Context(), 4, 4); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("Inclusion(4, 4): %v", err)
	}
	if err := checkpoint.VerifyConsistency(3, 2, nil, nil, nil); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("VerifyConsistency(3, 2): %v", err)
	}
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func cloneProof(p [][]byte) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = bytes.Clone(h)
	}
	return out
}

func flip(h []byte) []byte {
	out := bytes.Clone(h)
	out[len(out)-1] ^= 1
	return out
}
