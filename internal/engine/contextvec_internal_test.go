package engine

import (
	"math"
	"slices"
	"testing"
)

// TestWithTurns: v′ = unit(v + 0.75·(turn before) + 0.5·(the one before
// it)), the inputs untouched, a vector of another dimension ignored.
func TestWithTurns(t *testing.T) {
	v := []float32{1, 0, 0}
	p1 := []float32{0, 1, 0}
	p2 := []float32{0, 0, 1}
	got := withTurns(v, [][]float32{p2, p1})
	n := float32(math.Sqrt(1 + 0.75*0.75 + 0.5*0.5))
	want := []float32{1 / n, 0.75 / n, 0.5 / n}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("withTurns = %v, want %v", got, want)
		}
	}
	if !slices.Equal(v, []float32{1, 0, 0}) || !slices.Equal(p1, []float32{0, 1, 0}) {
		t.Fatal("withTurns changed its inputs")
	}
	// Only the two turns before count; older history is ignored.
	if got3 := withTurns(v, [][]float32{{5, 5, 5}, p2, p1}); !slices.Equal(got3, got) {
		t.Fatalf("a third turn back changed the vector: %v, want %v", got3, got)
	}
	// No history: the own embedding, normalised.
	if got := withTurns([]float32{3, 4, 0}, nil); !slices.Equal(got, []float32{0.6, 0.8, 0}) {
		t.Fatalf("no context: %v", got)
	}
	// A turn embedded by another model (dimension) is skipped.
	if got := withTurns(v, [][]float32{{1, 1}}); !slices.Equal(got, v) {
		t.Fatalf("mismatched dimension: %v", got)
	}
}

// TestOwnVectors: entries are per tenant and per text, bounded in bytes
// (first in, first out), removed with their memory or tenant, and a put
// that began before a removal adds nothing.
func TestOwnVectors(t *testing.T) {
	c := newOwnVectors(3 * 2 * 4) // three vectors of two dimensions
	v := func(x float32) []float32 { return []float32{x, x} }
	g := c.generation("t1")
	c.put("t1", g, "m1", "hello", v(1))
	if got := c.get("t1", "m1", "hello"); !slices.Equal(got, v(1)) {
		t.Fatalf("get = %v", got)
	}
	if c.get("t2", "m1", "hello") != nil {
		t.Fatal("another tenant read t1's entry")
	}
	if c.get("t1", "m1", "hello, edited") != nil {
		t.Fatal("an entry answered for another text of its memory")
	}
	c.put("t1", g, "m2", "b", v(2))
	c.put("t2", c.generation("t2"), "m1", "c", v(3))
	c.put("t1", g, "m4", "d", v(4)) // the fourth: m1 of t1 goes
	if c.len() != 3 || c.get("t1", "m1", "hello") != nil || c.get("t1", "m4", "d") == nil {
		t.Fatalf("bound: %d entries, oldest kept %v", c.len(), c.get("t1", "m1", "hello"))
	}
	c.remove("t1", "m2")
	if c.get("t1", "m2", "b") != nil {
		t.Fatal("a removed memory's entry is still there")
	}
	c.put("t1", g, "m5", "e", v(5)) // began before the removal
	if c.get("t1", "m5", "e") != nil {
		t.Fatal("a put that began before a removal was kept")
	}
	c.drop("t1")
	if c.get("t1", "m4", "d") != nil || c.get("t2", "m1", "c") == nil {
		t.Fatal("drop must take every entry of its tenant and only those")
	}
	// First in, first out: t2's entry is the oldest, the second new one
	// takes its place.
	g = c.generation("t1")
	c.put("t1", g, "a", "a", v(6))
	if c.len() != 2 || c.get("t2", "m1", "c") == nil {
		t.Fatalf("%d entries after one put into a free slot", c.len())
	}
	c.put("t1", g, "b", "b", v(7))
	if c.len() != 2 || c.get("t2", "m1", "c") != nil || c.get("t1", "a", "a") == nil || c.get("t1", "b", "b") == nil {
		t.Fatalf("%d entries; the oldest should have gone", c.len())
	}
}
