package checkpoint_test

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

const benchLeaves = 1_000_000

var (
	bigOnce sync.Once
	bigLog  *memLog
)

// bigTree builds a million-leaf log once per test binary, storing its nodes.
func bigTree() *memLog {
	bigOnce.Do(func() {
		bigLog = newMemLog()
		bigLog.leaves = make([][]byte, 0, benchLeaves)
		e := make([]byte, 64)
		for i := range benchLeaves {
			binary.BigEndian.PutUint64(e, uint64(i))
			h := checkpoint.LeafHash(e)
			if _, err := bigLog.tree.AppendLeafHash(h); err != nil {
				panic(err)
			}
			bigLog.leaves = append(bigLog.leaves, h)
		}
	})
	return bigLog
}

// BenchmarkSeal1000: seal 1,000 entries of ~200 bytes onto a tree that
// already holds a million leaves, restored from its frontier as a store
// would; the cost must not depend on the history.
func BenchmarkSeal1000(b *testing.B) {
	base := checkpoint.NewTree(nil)
	e := make([]byte, 8)
	for i := range benchLeaves {
		binary.BigEndian.PutUint64(e, uint64(i))
		base.Append(e)
	}
	es := make([][]byte, 1000)
	for i := range es {
		es[i] = make([]byte, 200)
		binary.BigEndian.PutUint64(es[i], uint64(i))
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tree, err := checkpoint.RestoreTree(base.Size(), base.Frontier(), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := checkpoint.Seal(tree, "t", es, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProof1M: an inclusion proof for a leaf in the middle of a
// million-leaf tree, and a consistency proof between two large sizes, with
// stored nodes (NodeReader) and recomputed from leaf hashes (HashReader only).
func BenchmarkProof1M(b *testing.B) {
	m := bigTree()
	withNodes, _ := checkpoint.NewProver(m)
	leavesOnlyP, _ := checkpoint.NewProver(leavesOnly{m})
	for _, bc := range []struct {
		name string
		p    *checkpoint.Prover
	}{{"nodes", withNodes}, {"leaves", leavesOnlyP}} {
		b.Run("inclusion/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.p.Inclusion(b.Context(), 499_999, benchLeaves); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("consistency/"+bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.p.Consistency(b.Context(), 777_777, benchLeaves); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
