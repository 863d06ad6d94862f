package engine_test

import (
	"math"
	"testing"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/search/vector"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestFuse(t *testing.T) {
	bm := []engine.Scored{{ID: "a", Score: 8}, {ID: "b", Score: 4}}
	vec := []engine.Scored{{ID: "b", Score: 0.9}, {ID: "c", Score: 0.7}, {ID: "d", Score: 0.5}}
	got := engine.Fuse(bm, vec)
	// Keyword part: 0.55·s/8; semantic part: 0.45·(cos−0.5)/(0.9−0.5).
	want := map[string]float64{"a": 0.55, "b": 0.55*0.5 + 0.45, "c": 0.45 * 0.5, "d": 0}
	if len(got) != len(want) {
		t.Fatalf("fused %v, want %v", got, want)
	}
	for id, w := range want {
		if !near(got[id], w) {
			t.Errorf("%s: fused %.4f, want %.4f", id, got[id], w)
		}
	}
	// One signal alone keeps its own order; a list of equal cosines (one
	// hit, say) gives each its full weight.
	if got := engine.Fuse(nil, []engine.Scored{{ID: "x", Score: 0.3}}); !near(got["x"], 0.45) {
		t.Errorf("single semantic hit fused %.4f, want 0.45", got["x"])
	}
	if got := engine.Fuse(bm, nil); !(got["a"] > got["b"]) || !near(got["a"], 0.55) {
		t.Errorf("keyword only: %v", got)
	}
	if got := engine.Fuse(nil, nil); len(got) != 0 {
		t.Errorf("no hits fused into %v", got)
	}
}

func TestFeedback(t *testing.T) {
	idx := vector.NewIndex(2, vector.Options{})
	t.Cleanup(idx.Close)
	for id, v := range map[string][]float32{"x": {0, 1}, "y": {0, 1}, "z": {-1, 0}} {
		if err := idx.Add(id, v); err != nil {
			t.Fatal(err)
		}
	}
	q := []float32{1, 0}
	// The query moves halfway (weight 1 over 2 memories: mean {0,1}) and
	// is re-normalised; "gone" has no vector and is skipped, "z" is past n.
	got := engine.Feedback(idx, q, []string{"gone", "x", "y", "z"}, 2, 1)
	w := float32(1 / math.Sqrt(2))
	if len(got) != 2 || math.Abs(float64(got[0]-w)) > 1e-6 || math.Abs(float64(got[1]-w)) > 1e-6 {
		t.Fatalf("feedback query %v, want [%v %v]", got, w, w)
	}
	if q[0] != 1 || q[1] != 0 {
		t.Fatalf("feedback changed the original query: %v", q)
	}
	if got := engine.Feedback(idx, q, []string{"gone"}, 2, 1); got != nil {
		t.Fatalf("no vector to learn from, got %v", got)
	}
}
