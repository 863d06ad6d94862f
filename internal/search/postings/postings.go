// Package postings holds one tenant's keyword postings in memory, so that
// a keyword search reads the postings of its tokens from memory instead of
// row by row from the store.
//
// Tokens are blind: HMACs of terms under the tenant's search key (see
// fulltext.Blinder), never the terms themselves, and the store holds the
// same bytes. Keeping them in memory therefore discloses nothing the
// database does not already hold; no plaintext term, content or metadata
// is ever put here. Scope ids (user, agent, run) are kept because scoped
// statistics need them; the store holds them in the clear too, and an
// erasure drops the tenant's whole index (engine.indexDrop).
package postings

import (
	"sync"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

// Index is one tenant's postings: token -> (memory ordinal, tf), and per
// memory its id, scope, length and tokens; per scope the number and total
// length of its memories, as the store's scope_stats keeps them. It is
// safe for concurrent use.
type Index struct {
	mu      sync.RWMutex
	ords    map[string]uint32 // memory id -> ordinal in docs
	docs    []doc
	free    []uint32
	lists   map[string][]entry // token -> postings
	scopes  map[engram.Scope]*stat
	removed map[string]struct{} // ids removed; never put back (ids are not reused)
	bytes   int64
}

type doc struct {
	id     string
	scope  engram.Scope
	rec    rbac.Record // author and visibility: who may find it
	len    int
	tokens []string // keys of lists holding this memory
	live   bool
}

// entry is 8 bytes: what a posting costs in memory.
type entry struct {
	ord uint32
	tf  int32
}

type stat struct {
	docs  int
	total int64
}

// Rough per-object costs (Go map and slice overheads included) for the
// memory budget; the budget is a bound on growth, not an exact figure.
const (
	docBytes   = 160 // doc struct, ords entry
	tokenBytes = 96  // lists entry, slice header, per-doc token reference
	entryBytes = 8
	idBytes    = 64 // tombstone entry
)

// New returns an empty index.
func New() *Index {
	return &Index{
		ords:    map[string]uint32{},
		lists:   map[string][]entry{},
		scopes:  map[engram.Scope]*stat{},
		removed: map[string]struct{}{},
	}
}

// Put sets a memory's entry, replacing any previous one. A token listed
// twice has its frequencies summed, as the store does. A memory that was
// removed is not put back: a write and a delete of the same memory may
// reach the index out of order, and the delete must win.
func (x *Index) Put(d store.DocPostings) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, gone := x.removed[d.MemoryID]; gone {
		return
	}
	x.remove(d.MemoryID)
	var ord uint32
	if n := len(x.free); n > 0 {
		ord = x.free[n-1]
		x.free = x.free[:n-1]
	} else {
		ord = uint32(len(x.docs))
		x.docs = append(x.docs, doc{})
	}
	tf := make(map[string]int, len(d.Postings))
	tokens := make([]string, 0, len(d.Postings))
	for _, p := range d.Postings {
		k := string(p.Token)
		if _, ok := tf[k]; !ok {
			tokens = append(tokens, k)
		}
		tf[k] += p.TF
	}
	for _, k := range tokens {
		l, ok := x.lists[k]
		if !ok {
			x.bytes += int64(len(k))
		}
		x.lists[k] = append(l, entry{ord: ord, tf: int32(tf[k])})
	}
	x.docs[ord] = doc{id: d.MemoryID, scope: d.Scope, rec: rbac.Record{AuthorID: d.AuthorID, Private: d.Private},
		len: d.DocLen, tokens: tokens, live: true}
	x.ords[d.MemoryID] = ord
	s := x.scopes[d.Scope]
	if s == nil {
		s = &stat{}
		x.scopes[d.Scope] = s
	}
	s.docs++
	s.total += int64(d.DocLen)
	x.bytes += docBytes + int64(len(d.MemoryID)) + int64(len(tokens))*(tokenBytes+entryBytes)
}

// Remove takes a memory out of the index, for good.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, gone := x.removed[id]; !gone {
		x.removed[id] = struct{}{}
		x.bytes += idBytes + int64(len(id))
	}
	x.remove(id)
}

func (x *Index) remove(id string) {
	ord, ok := x.ords[id]
	if !ok {
		return
	}
	d := &x.docs[ord]
	for _, k := range d.tokens {
		l := x.lists[k]
		for i := range l {
			if l[i].ord == ord {
				// Order within a list does not matter: BM25 does not
				// depend on the order of matches.
				l[i] = l[len(l)-1]
				l = l[:len(l)-1]
				break
			}
		}
		if len(l) == 0 {
			delete(x.lists, k)
			x.bytes -= int64(len(k))
		} else {
			x.lists[k] = l
		}
	}
	if s := x.scopes[d.scope]; s != nil {
		s.docs--
		s.total -= int64(d.len)
		if s.docs <= 0 {
			delete(x.scopes, d.scope)
		}
	}
	x.bytes -= docBytes + int64(len(id)) + int64(len(d.tokens))*(tokenBytes+entryBytes)
	*d = doc{}
	delete(x.ords, id)
	x.free = append(x.free, ord)
}

// Bytes is the index's approximate size in memory.
func (x *Index) Bytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.bytes
}

// Len is the number of memories indexed.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ords)
}

func inScope(s, d engram.Scope) bool {
	return (s.UserID == "" || d.UserID == s.UserID) &&
		(s.AgentID == "" || d.AgentID == s.AgentID) &&
		(s.RunID == "" || d.RunID == s.RunID)
}

// Stats returns the number and total length of the memories in scope.
func (x *Index) Stats(scope engram.Scope) (docs int, totalLen int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.stats(scope)
}

func (x *Index) stats(scope engram.Scope) (docs int, totalLen int64) {
	for sc, s := range x.scopes {
		if inScope(scope, sc) {
			docs += s.docs
			totalLen += s.total
		}
	}
	return docs, totalLen
}

// scratch is one ranking's per-memory accumulators, reused across searches.
type scratch struct {
	score   []float64 // by ordinal
	touched []uint32  // ordinals with a score
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// DocFreqs returns the scope's statistics and, for each distinct token of
// tokens in order of first appearance, how many memories in scope hold it:
// what fulltext.QueryWeight needs.
func (x *Index) DocFreqs(scope engram.Scope, tokens [][]byte) (docs int, dfs []int) {
	return x.DocFreqsAs(scope, rbac.Filter{Reach: rbac.Any}, tokens)
}

// DocFreqsAs is DocFreqs counting only the memories f selects (the
// statistics stay the scope's), as the store's SearchVisiblePostings
// counts them.
func (x *Index) DocFreqsAs(scope engram.Scope, f rbac.Filter, tokens [][]byte) (docs int, dfs []int) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	docs, _ = x.stats(scope)
	all := scope.IsZero() && f.Reach == rbac.Any
	seen := make(map[string]bool, len(tokens))
	for _, tok := range tokens {
		if seen[string(tok)] {
			continue
		}
		seen[string(tok)] = true
		df := 0
		for _, e := range x.lists[string(tok)] {
			if e.tf > 0 && (all || x.selects(scope, f, e.ord)) {
				df++
			}
		}
		dfs = append(dfs, df)
	}
	return docs, dfs
}

// Rank scores the scope's memories for the query tokens and returns the
// scope's statistics and the best limit memories: exactly what
// fulltext.BM25(x.Postings(scope, tokens), tokens, limit) returns, scores
// bit for bit, without building the matches. Scores accumulate in dense
// per-ordinal slots instead of a map keyed by memory id, and only the best
// limit are kept.
func (x *Index) Rank(scope engram.Scope, tokens [][]byte, limit int) (docs int, totalLen int64, hits []fulltext.Hit) {
	return x.RankAs(scope, rbac.Filter{Reach: rbac.Any}, tokens, limit)
}

// selects reports whether the memory at ord is in scope and f selects it.
func (x *Index) selects(scope engram.Scope, f rbac.Filter, ord uint32) bool {
	d := &x.docs[ord]
	return inScope(scope, d.scope) && f.Match(d.rec)
}

// RankAs is Rank among the memories f selects (an actor's visibility):
// filtered before the best limit are kept, so the hits are as many as
// the actor may see; document frequencies count only those memories, as
// the store's SearchVisiblePostings does, and the statistics stay the
// scope's.
func (x *Index) RankAs(scope engram.Scope, f rbac.Filter, tokens [][]byte, limit int) (docs int, totalLen int64, hits []fulltext.Hit) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	docs, totalLen = x.stats(scope)
	if docs == 0 || limit <= 0 {
		return docs, totalLen, nil
	}
	all := scope.IsZero() && f.Reach == rbac.Any
	// The distinct query tokens, in query order, and their posting lists.
	lists := make([][]entry, 0, len(tokens))
	seen := make(map[string]bool, len(tokens))
	for _, tok := range tokens {
		if !seen[string(tok)] {
			seen[string(tok)] = true
			lists = append(lists, x.lists[string(tok)])
		}
	}
	avgdl := fulltext.AvgDocLen(docs, totalLen)
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	if len(sc.score) < len(x.docs) {
		sc.score = make([]float64, len(x.docs))
	}
	sc.touched = sc.touched[:0]
	for _, l := range lists {
		df := 0
		for _, e := range l {
			if e.tf > 0 && (all || x.selects(scope, f, e.ord)) {
				df++
			}
		}
		if df == 0 {
			continue
		}
		idf := fulltext.IDF(docs, df)
		for _, e := range l {
			if e.tf <= 0 {
				continue
			}
			d := &x.docs[e.ord]
			if !all && !x.selects(scope, f, e.ord) {
				continue
			}
			if sc.score[e.ord] == 0 {
				sc.touched = append(sc.touched, e.ord)
			}
			// Summed in query-token order, as BM25 sums a memory's terms.
			sc.score[e.ord] += fulltext.Term(idf, int(e.tf), fulltext.LenNorm(d.len, avgdl))
		}
	}
	top := fulltext.NewTop(limit)
	for _, o := range sc.touched {
		top.Offer(fulltext.Hit{MemoryID: x.docs[o].id, Score: sc.score[o]})
		sc.score[o] = 0
	}
	return docs, totalLen, top.Hits()
}
