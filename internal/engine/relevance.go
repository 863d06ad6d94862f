package engine

import (
	"math"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/search/fulltext"
)

// Absolute scores. The fused score that orders hits (hybrid.go) scales each
// signal within the query's own candidates, so the best hit of any query
// scores near 1, even when nothing stored is about the question. A hit's
// Score is built from absolute signals only, so that one threshold means
// the same for every query, scope and tenant:
//
//   - the keyword part, min(1, BM25 / the query's idf mass): about the
//     share of the query's information the memory holds (a memory of
//     average length holding each matched term once scores the sum of
//     their idf);
//   - the semantic part, min(1, cosine/relCosFull) for the cosine of the
//     query's and the memory's embeddings (the query as asked, not the
//     feedback query, which leans towards whatever ranked first);
//   - the known factor, (1 + known/mass)/2: the share of the query's idf
//     mass carried by terms that some memory in scope holds at all. A
//     question about names or things never stored ("what did Caroline
//     paint?" where no memory mentions Caroline) halves every score.
//
// Score = max((relWeightBM25 · keyword + (1 − relWeightBM25) · semantic) ·
// known, semantic/relSemanticFloor) in hybrid mode: the floor keeps a
// strong paraphrase that shares no word with the memory (cosine 0.53 and
// up clears the default threshold alone) from being halved by the known
// factor; on LoCoMo it costs nothing in recall or empty answers. bm25 mode and a server without a model score
// sqrt(keyword) · known: lexical evidence alone is weaker, and the square
// root keeps a paraphrased question's partial match ("what tea does Alice
// like?" against "Alice prefers green tea") above the same default
// threshold at about the recall the threshold costs hybrid search. Vector
// mode scores the semantic part alone. The
// constants and DefaultSearchThreshold were chosen on LoCoMo's tuning half
// (`go run ./internal/bench/sweep -calibrate`, docs/BENCHMARKS.md) and
// checked on the report half.
const (
	relCosFull       = 0.7
	relWeightBM25    = 0.5
	relSemanticFloor = 3
)

// keywordPart maps a BM25 score into [0, 1] against the query's mass.
func keywordPart(bm25 float64, w fulltext.Weight) float64 {
	if bm25 <= 0 || w.Mass <= 0 {
		return 0
	}
	return math.Min(1, bm25/w.Mass)
}

// semanticPart maps a cosine similarity into [0, 1].
func semanticPart(cos float64) float64 {
	return math.Min(1, math.Max(0, cos/relCosFull))
}

// knownFactor is (1 + known/mass)/2 in [0.5, 1]; 1 when the query has no
// keyword (all stop words), which says nothing either way.
func knownFactor(w fulltext.Weight) float64 {
	if w.Mass <= 0 {
		return 1
	}
	return (1 + math.Min(1, w.Known/w.Mass)) / 2
}

// absoluteScore fills x's absolute parts and Score for a search in mode
// whose tokens weigh w; semantic tells whether the query was embedded (a
// server without a model ranks by keywords alone).
func absoluteScore(x *engram.Explain, mode string, w fulltext.Weight, semantic bool) {
	x.KeywordPart = keywordPart(x.BM25, w)
	x.SemanticPart = semanticPart(x.Cosine)
	x.Known = knownFactor(w)
	switch {
	case mode == engram.SearchVector:
		x.Known = 0
		x.Score = x.SemanticPart
	case mode == engram.SearchBM25 || !semantic:
		x.Score = math.Sqrt(x.KeywordPart) * x.Known
	default:
		x.Score = math.Max((relWeightBM25*x.KeywordPart+(1-relWeightBM25)*x.SemanticPart)*x.Known, x.SemanticPart/relSemanticFloor)
	}
}

// threshold returns the request's threshold, or the default.
func threshold(req engram.SearchRequest) (float64, error) {
	if req.Threshold == nil {
		return engram.DefaultSearchThreshold, nil
	}
	t := *req.Threshold
	if math.IsNaN(t) || t < 0 || t > 1 {
		return 0, invalid("threshold must be between 0 and 1")
	}
	return t, nil
}
