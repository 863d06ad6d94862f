package postings

import (
	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// Postings answers what store.Tx.SearchPostings answers, from memory: the
// scope's statistics and every posting of the tokens in memories in scope.
// Only tests use it: it is the oracle Rank is checked against (fed to
// fulltext.BM25 it must rank exactly as Rank does, and as the store).
func (x *Index) Postings(scope engram.Scope, tokens [][]byte) *store.Postings {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := &store.Postings{Matches: []store.Match{}}
	out.Docs, out.TotalLen = x.stats(scope)
	if out.Docs == 0 {
		return out
	}
	for _, tok := range distinct(tokens) {
		for _, e := range x.list(tok) {
			if !inScope(scope, x.classes[x.cls[e.ord]].scope) {
				continue
			}
			out.Matches = append(out.Matches, store.Match{MemoryID: x.docs[e.ord].id, Token: tok, TF: int(e.tf), DocLen: int(x.lens[e.ord])})
		}
	}
	return out
}
