package fulltext

import "github.com/engram-memory/engram/internal/store"

// Weight is what a query's distinct tokens weigh in a scope: Mass, the sum
// of their idf, and Known, the part of Mass carried by tokens that some
// memory in the scope holds. A token no memory holds weighs IDF(docs, 0),
// the most a token can: a question about something never stored is mostly
// unknown. Both are absolute: BM25/Mass is about the share of the query a
// memory matches (a memory of average length holding each matched token
// once scores the sum of their idf), and Known/Mass the share of the
// query the scope has ever seen.
type Weight struct {
	Mass, Known float64
}

// QueryWeight is the Weight of tokens whose document frequencies in a
// scope of docs memories are dfs (one per distinct token).
func QueryWeight(docs int, dfs []int) Weight {
	var w Weight
	for _, df := range dfs {
		idf := IDF(docs, df)
		w.Mass += idf
		if df > 0 {
			w.Known += idf
		}
	}
	return w
}

// DocFreqs counts, for each distinct token of queryTokens in order of first
// appearance, the distinct memories of p.Matches that hold it (TF > 0),
// with the rules of BM25.
func DocFreqs(p *store.Postings, queryTokens [][]byte) []int {
	qIndex := make(map[string]int, len(queryTokens))
	for _, t := range queryTokens {
		if _, ok := qIndex[string(t)]; !ok {
			qIndex[string(t)] = len(qIndex)
		}
	}
	dfs := make([]int, len(qIndex))
	if p == nil {
		return dfs
	}
	type pair struct {
		id string
		q  int
	}
	seen := make(map[pair]bool, len(p.Matches))
	for _, m := range p.Matches {
		q, ok := qIndex[string(m.Token)]
		if !ok || m.TF <= 0 || seen[pair{m.MemoryID, q}] {
			continue
		}
		seen[pair{m.MemoryID, q}] = true
		dfs[q]++
	}
	return dfs
}
