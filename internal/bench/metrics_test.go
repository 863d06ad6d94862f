package bench_test

import (
	"math"
	"testing"

	"github.com/engram-memory/engram/internal/bench"
)

func TestScore(t *testing.T) {
	l2 := func(rank float64) float64 { return 1 / math.Log2(rank+1) }
	ranked12 := []string{"g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "g10", "g11", "g12"}
	cases := []struct {
		name   string
		gold   []string
		ranked []string
		want   bench.Scores
	}{
		{"first place, one gold", []string{"a"}, []string{"a", "x", "y"},
			bench.Scores{RecallAt5: 1, RecallAt10: 1, HitAt10: 1, MRR: 1, NDCGAt10: 1}},
		{"ranks 2 and 6 of two gold", []string{"a", "b"}, []string{"x", "a", "y", "z", "w", "b", "v"},
			bench.Scores{RecallAt5: 0.5, RecallAt10: 1, HitAt10: 1, MRR: 0.5,
				NDCGAt10: (l2(2) + l2(6)) / (l2(1) + l2(2))}},
		{"rank 3 of three gold", []string{"a", "b", "c"}, []string{"x", "y", "b"},
			bench.Scores{RecallAt5: 1.0 / 3, RecallAt10: 1.0 / 3, HitAt10: 1, MRR: 1.0 / 3,
				NDCGAt10: l2(3) / (l2(1) + l2(2) + l2(3))}},
		{"only beyond 10", []string{"a"}, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "a"},
			bench.Scores{MRR: 1.0 / 12}},
		{"rank 7: in R@10 not R@5", []string{"a", "b"}, []string{"1", "2", "3", "4", "5", "6", "a"},
			bench.Scores{RecallAt10: 0.5, HitAt10: 1, MRR: 1.0 / 7, NDCGAt10: l2(7) / (l2(1) + l2(2))}},
		{"none found", []string{"a"}, []string{"x", "y"}, bench.Scores{}},
		{"empty list", []string{"a"}, nil, bench.Scores{}},
		{"no gold", nil, []string{"a"}, bench.Scores{}},
		{"more gold than 10: ideal over 10", ranked12, ranked12[:10],
			bench.Scores{RecallAt5: 5.0 / 12, RecallAt10: 10.0 / 12, HitAt10: 1, MRR: 1, NDCGAt10: 1}},
		{"repeated result keeps first rank", []string{"b"}, []string{"a", "a", "a", "b"},
			bench.Scores{RecallAt5: 1, RecallAt10: 1, HitAt10: 1, MRR: 0.5, NDCGAt10: l2(2)}},
		{"repeated gold counts once", []string{"a", "a"}, []string{"a"},
			bench.Scores{RecallAt5: 1, RecallAt10: 1, HitAt10: 1, MRR: 1, NDCGAt10: 1}},
	}
	for _, tc := range cases {
		got := bench.Score(tc.gold, tc.ranked)
		for _, m := range []struct {
			name      string
			got, want float64
		}{
			{"R@5", got.RecallAt5, tc.want.RecallAt5},
			{"R@10", got.RecallAt10, tc.want.RecallAt10},
			{"Hit@10", got.HitAt10, tc.want.HitAt10},
			{"MRR", got.MRR, tc.want.MRR},
			{"NDCG@10", got.NDCGAt10, tc.want.NDCGAt10},
		} {
			if math.Abs(m.got-m.want) > 1e-12 {
				t.Errorf("%s: %s = %v, want %v", tc.name, m.name, m.got, m.want)
			}
		}
	}
	// One hand-computed number, in case l2 and Score share a mistake:
	// gold at ranks 2 and 6 of two → (1/log2 3 + 1/log2 7)/(1 + 1/log2 3).
	if got := bench.Score([]string{"a", "b"}, []string{"x", "a", "y", "z", "w", "b"}).NDCGAt10; math.Abs(got-0.605260) > 1e-6 {
		t.Fatalf("NDCG@10 = %v, want 0.605260", got)
	}
}
