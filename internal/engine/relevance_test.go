package engine

import (
	"math"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/search/fulltext"
)

// TestAbsoluteScore: a hit's score depends on its own signals and on what
// the query's terms weigh in the scope, never on the other candidates, and
// stays in [0, 1].
func TestAbsoluteScore(t *testing.T) {
	known := fulltext.Weight{Mass: 4, Known: 4}
	half := fulltext.Weight{Mass: 4, Known: 0} // no query term is in any memory
	cases := []struct {
		name     string
		bm25     float64
		cos      float64
		w        fulltext.Weight
		mode     string
		semantic bool
		want     float64
	}{
		{"everything matched", 4, 0.7, known, engram.SearchHybrid, true, 1},
		{"BM25 past the mass saturates", 9, 0.9, known, engram.SearchHybrid, true, 1},
		{"half the query's weight", 2, 0.35, known, engram.SearchHybrid, true, 0.5},
		{"semantic only", 0, 0.35, known, engram.SearchHybrid, true, 0.25},
		{"unknown terms halve", 0, 0.35, half, engram.SearchHybrid, true, 0.5 / 3},
		{"half known terms scale by 3/4", 2, 0.35, fulltext.Weight{Mass: 4, Known: 2}, engram.SearchHybrid, true, 0.375},
		{"a strong paraphrase keeps a third", 0, 0.7, half, engram.SearchHybrid, true, 1.0 / 3},
		{"negative cosine is 0", 0, -0.2, known, engram.SearchHybrid, true, 0},
		{"bm25 mode", 1, 0.7, known, engram.SearchBM25, true, 0.5},
		{"no model", 1, 0, fulltext.Weight{Mass: 4, Known: 2}, engram.SearchHybrid, false, 0.375},
		{"vector mode", 3, 0.35, half, engram.SearchVector, true, 0.5},
		{"only stop words", 0, 0.7, fulltext.Weight{}, engram.SearchHybrid, true, 0.5},
	}
	for _, tc := range cases {
		x := engram.Explain{BM25: tc.bm25, Cosine: tc.cos}
		absoluteScore(&x, tc.mode, tc.w, tc.semantic)
		if math.Abs(x.Score-tc.want) > 1e-12 {
			t.Errorf("%s: score %v, want %v (%+v)", tc.name, x.Score, tc.want, x)
		}
	}
}

func TestThresholdBounds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	if got, err := threshold(engram.SearchRequest{}); err != nil || got != engram.DefaultSearchThreshold {
		t.Fatalf("default: %v %v", got, err)
	}
	for _, ok := range []float64{0, 0.5, 1} {
		if got, err := threshold(engram.SearchRequest{Threshold: f(ok)}); err != nil || got != ok {
			t.Fatalf("%v: %v %v", ok, got, err)
		}
	}
	for _, bad := range []float64{-0.01, 1.01, math.NaN(), math.Inf(1)} {
		if _, err := threshold(engram.SearchRequest{Threshold: f(bad)}); engram.ErrorCode(err) != engram.CodeInvalid {
			t.Fatalf("%v: %v", bad, err)
		}
	}
}

// TestWithoutDates: the dates a query names are the time signal's, not
// words a memory should hold.
func TestWithoutDates(t *testing.T) {
	for q, want := range map[string][]string{
		"What did Caroline do on 20 July 2023?":        {"carolin"},
		"Where was Ann in May 2023 and on 2023-06-01?": {"ann"},
		"What happened in 2022 at the lake?":           {"happen", "lake"},
		"How many km did Ann run?":                     {"mani", "km", "ann", "run"},
		"What did Ann read most recently?":             {"ann", "read"},
	} {
		if got := fulltext.QueryTerms(withoutDates(q)); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}
