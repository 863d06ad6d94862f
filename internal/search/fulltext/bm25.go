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

	avgdl := AvgDocLen(p.Docs, p.TotalLen)
	idf := make([]float64, nq)
	for q, f := range df {
		idf[q] = IDF(p.Docs, f)
	}

	top := NewTop(limit)
	for d, dc := range docs {
		lenNorm := LenNorm(dc.docLen, avgdl)
		var score float64
		// Summing in query-token order keeps scores independent of the
		// order of p.Matches.
		for q, tf := range tfs[d*nq : (d+1)*nq] {
			if tf == 0 {
				continue
			}
			score += Term(idf[q], tf, lenNorm)
		}
		top.Offer(Hit{MemoryID: dc.id, Score: score})
	}
	return top.Hits()
}

// The parts of a BM25 score, shared with rankers outside this package (the
// in-memory postings index) so that they score bit-identically: the same
// operations in the same order.

// AvgDocLen is the average length of docs memories of total length
// totalLen (1 when the statistics are inconsistent).
func AvgDocLen(docs int, totalLen int64) float64 {
	if docs <= 0 {
		return 1
	}
	avgdl := float64(totalLen) / float64(docs)
	if avgdl <= 0 {
		return 1 // inconsistent statistics; avoid dividing by zero
	}
	return avgdl
}

// IDF is ln(1 + (N - df + 0.5)/(df + 0.5)) for N memories in scope.
func IDF(docs, df int) float64 {
	// A store that counts N in a narrower scope than its matches could
	// give df > N; clamp so idf stays positive.
	n := math.Max(float64(docs), float64(df))
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

// LenNorm is k1 · (1 - b + b · docLen/avgdl).
func LenNorm(docLen int, avgdl float64) float64 {
	return K1 * (1 - B + B*float64(max(docLen, 0))/avgdl)
}

// Term is one query token's share of a memory's score.
func Term(idf float64, tf int, lenNorm float64) float64 {
	f := float64(tf)
	return idf * f * (K1 + 1) / (f + lenNorm)
}

// Top keeps the best hits offered to it: higher score first, then the
// larger memory id (ids are time-ordered, so newer first). It costs
// O(offered · log limit), not a sort of everything offered.
type Top struct {
	limit int
	h     []Hit // min-heap: the worst kept hit at the root
}

// NewTop keeps up to limit hits.
func NewTop(limit int) *Top { return &Top{limit: limit, h: make([]Hit, 0, min(max(limit, 0), 1024))} }

// worse reports whether a ranks after b.
func worse(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score < b.Score
	}
	return a.MemoryID < b.MemoryID
}

// Admits reports whether a hit scoring score could be kept: false only
// when it would rank after every kept hit whatever its memory id, so a
// caller can skip building the hit.
func (t *Top) Admits(score float64) bool {
	return t.limit > 0 && (len(t.h) < t.limit || score >= t.h[0].Score)
}

// Offer considers h.
func (t *Top) Offer(h Hit) {
	if t.limit <= 0 {
		return
	}
	if len(t.h) < t.limit {
		t.h = append(t.h, h)
		for i := len(t.h) - 1; i > 0; {
			p := (i - 1) / 2
			if !worse(t.h[i], t.h[p]) {
				break
			}
			t.h[i], t.h[p] = t.h[p], t.h[i]
			i = p
		}
		return
	}
	if !worse(t.h[0], h) {
		return
	}
	t.h[0] = h
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(t.h) && worse(t.h[l], t.h[m]) {
			m = l
		}
		if r < len(t.h) && worse(t.h[r], t.h[m]) {
			m = r
		}
		if m == i {
			break
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}

// Hits returns the kept hits, best first (nil when none).
func (t *Top) Hits() []Hit {
	if len(t.h) == 0 {
		return nil
	}
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(x, y Hit) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		return cmp.Compare(y.MemoryID, x.MemoryID)
	})
	return out
}
