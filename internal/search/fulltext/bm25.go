package fulltext

import (
	"cmp"
	"math"
	"slices"

	"github.com/engram-memory/engram/internal/store"
)

// Okapi BM25 parameters: the usual defaults, and those of the reference
// scores in docs/bench.md.
const (
	K1 = 1.2
	B  = 0.75
)

// Hit is one ranked memory; a higher Score is a better match.
type Hit struct {
	MemoryID string
	Score    float64
}

// BM25 ranks the memories in p for the query tokens with Okapi BM25
// (k1 = K1, b = B) and idf = ln(1 + (N - df + 0.5)/(df + 0.5)), where N is
// p.Docs, df is the number of distinct memories in p.Matches holding the
// token, and the average document length is p.TotalLen / p.Docs.
//
// It returns at most limit hits, best first; equal scores put the larger
// memory id first (ids are time-ordered, so newer first). A query token
// given twice counts once; matches of tokens not in the query, repeated
// matches of a (memory, token) pair and matches with TF <= 0 are ignored.
// Scores do not depend on the order of p.Matches. It returns nil when p is
// nil or empty, no token matches, or limit <= 0.
func BM25(p *store.Postings, queryTokens [][]byte, limit int) []Hit {
	if p == nil || p.Docs <= 0 || limit <= 0 || len(p.Matches) == 0 {
		return nil
	}
	// Query token -> its index among the distinct query tokens.
	qIndex := make(map[string]int, len(queryTokens))
	for _, t := range queryTokens {
		if _, ok := qIndex[string(t)]; !ok {
			qIndex[string(t)] = len(qIndex)
		}
	}
	nq := len(qIndex)

	// One row per memory: its length, and the TF of each query token
	// (0 = absent). First pass collects, second pass scores.
	type doc struct {
		id     string
		docLen int
	}
	var (
		docs   []doc
		docIdx = make(map[string]int)
		tfs    []int // len(docs) * nq, row-major
		df     = make([]int, nq)
	)
	for _, m := range p.Matches {
		q, ok := qIndex[string(m.Token)]
		if !ok || m.TF <= 0 {
			continue
		}
		d, ok := docIdx[m.MemoryID]
		if !ok {
			d = len(docs)
			docIdx[m.MemoryID] = d
			docs = append(docs, doc{id: m.MemoryID, docLen: max(m.DocLen, 0)})
			tfs = append(tfs, make([]int, nq)...)
		}
		if tfs[d*nq+q] != 0 {
			continue // repeated (memory, token)
		}
		tfs[d*nq+q] = m.TF
		df[q]++
	}
	if len(docs) == 0 {
		return nil
	}

	n := float64(p.Docs)
	avgdl := float64(p.TotalLen) / n
	if avgdl <= 0 {
		avgdl = 1 // inconsistent statistics; avoid dividing by zero
	}
	idf := make([]float64, nq)
	for q, f := range df {
		// A store that counts N in a narrower scope than its matches
		// could give df > N; clamp so idf stays positive.
		nDocs := math.Max(n, float64(f))
		idf[q] = math.Log(1 + (nDocs-float64(f)+0.5)/(float64(f)+0.5))
	}

	hits := make([]Hit, len(docs))
	for d, dc := range docs {
		lenNorm := K1 * (1 - B + B*float64(dc.docLen)/avgdl)
		var score float64
		// Summing in query-token order keeps scores independent of the
		// order of p.Matches.
		for q, tf := range tfs[d*nq : (d+1)*nq] {
			if tf == 0 {
				continue
			}
			f := float64(tf)
			score += idf[q] * f * (K1 + 1) / (f + lenNorm)
		}
		hits[d] = Hit{MemoryID: dc.id, Score: score}
	}
	slices.SortFunc(hits, func(x, y Hit) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		return cmp.Compare(y.MemoryID, x.MemoryID)
	})
	if len(hits) > limit {
		hits = hits[:limit:limit]
	}
	return hits
}
