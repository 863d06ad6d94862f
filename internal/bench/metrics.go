package bench

import "math"

// Scores are one question's retrieval metrics, with binary relevance: a
// result is relevant when its dia_id is among the gold evidence.
type Scores struct {
	RecallAt5  float64 // |gold ∩ top 5| / |gold|
	RecallAt10 float64 // |gold ∩ top 10| / |gold|
	HitAt10    float64 // 1 when any gold id is in the top 10, else 0
	MRR        float64 // 1 / rank of the first gold id in the whole list; 0 when none is
	NDCGAt10   float64 // DCG@10 / ideal DCG@10, the ideal ranking placing min(|gold|, 10) gold ids first
}

// Score computes the metrics of a ranked list of dia_ids (best first)
// against the gold ids. Repeats in either list count once (a repeated
// result keeps its first rank). No gold scores zero.
func Score(gold, ranked []string) Scores {
	g := make(map[string]bool, len(gold))
	for _, id := range gold {
		g[id] = true
	}
	if len(g) == 0 {
		return Scores{}
	}
	var s Scores
	seen := make(map[string]bool, len(ranked))
	rank, hits5, hits10 := 0, 0, 0
	var dcg float64
	for _, id := range ranked {
		if seen[id] {
			continue
		}
		seen[id] = true
		rank++
		if !g[id] {
			continue
		}
		if s.MRR == 0 {
			s.MRR = 1 / float64(rank)
		}
		if rank <= 5 {
			hits5++
		}
		if rank <= 10 {
			hits10++
			dcg += 1 / math.Log2(float64(rank)+1)
		}
	}
	var idcg float64
	for i := 1; i <= min(len(g), 10); i++ {
		idcg += 1 / math.Log2(float64(i)+1)
	}
	s.RecallAt5 = float64(hits5) / float64(len(g))
	s.RecallAt10 = float64(hits10) / float64(len(g))
	if hits10 > 0 {
		s.HitAt10 = 1
	}
	s.NDCGAt10 = dcg / idcg
	return s
}
