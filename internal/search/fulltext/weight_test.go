package fulltext_test

import (
	"math"
	"slices"
	"testing"

	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

// TestQueryWeight: a token no memory holds weighs the most and is not
// known; repeated tokens and repeated matches count once.
func TestQueryWeight(t *testing.T) {
	a, b, c := []byte("a"), []byte("b"), []byte("c")
	p := &store.Postings{Docs: 10, TotalLen: 50, Matches: []store.Match{
		{MemoryID: "1", Token: a, TF: 1, DocLen: 5},
		{MemoryID: "1", Token: a, TF: 2, DocLen: 5}, // repeated (memory, token)
		{MemoryID: "2", Token: a, TF: 1, DocLen: 5},
		{MemoryID: "2", Token: b, TF: 0, DocLen: 5}, // TF 0 does not count
		{MemoryID: "3", Token: []byte("z"), TF: 1, DocLen: 5},
	}}
	dfs := fulltext.DocFreqs(p, [][]byte{a, b, a, c})
	if !slices.Equal(dfs, []int{2, 0, 0}) {
		t.Fatalf("dfs %v", dfs)
	}
	w := fulltext.QueryWeight(p.Docs, dfs)
	mass := fulltext.IDF(10, 2) + 2*fulltext.IDF(10, 0)
	if math.Abs(w.Mass-mass) > 1e-12 || math.Abs(w.Known-fulltext.IDF(10, 2)) > 1e-12 {
		t.Fatalf("%+v, want mass %v known %v", w, mass, fulltext.IDF(10, 2))
	}
	if fulltext.IDF(10, 0) <= fulltext.IDF(10, 1) {
		t.Fatal("an unknown token must weigh the most")
	}
}
