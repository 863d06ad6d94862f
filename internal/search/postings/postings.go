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
//
// Layout, for speed and size (docs/ARCHITECTURE.md, "Retrieval"): each
// distinct token has a term number and one list of 8-byte postings
// (memory ordinal, frequency); each memory an ordinal, with its length
// and its class (scope and visibility, shared by all memories of that
// scope and author) in dense arrays the ranking loop reads, and the term
// numbers it holds (4 bytes a posting) so a removal finds its postings.
package postings

import (
	"slices"
	"strings"
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
	ords    map[string]uint32 // memory id -> ordinal
	docs    []doc             // by ordinal
	lens    []int32           // by ordinal: document length
	cls     []uint32          // by ordinal: class
	free    []uint32
	terms   map[string]uint32 // token -> term number
	lists   []list            // by term number
	freeT   []uint32
	classes []class
	classOf map[class]uint32
	scopes  map[engram.Scope]*stat
	removed map[string]struct{} // ids removed; never put back (ids are not reused)
	bytes   int64
}

type doc struct {
	id    string   // "" when the ordinal is free
	terms []uint32 // term numbers of the lists holding this memory
}

// list is one token's postings, in no particular order (BM25 does not
// depend on it).
type list struct {
	token string
	e     []entry
}

// entry is 8 bytes: what a posting costs in a list.
type entry struct {
	ord uint32
	tf  int32 // > 0
}

// class is what decides whether a search sees a memory: its scope and its
// visibility. Memories share classes, so a search decides once per class.
type class struct {
	scope engram.Scope
	rec   rbac.Record
}

type stat struct {
	docs  int
	total int64
}

// Rough per-object costs (Go map and slice overheads included) for the
// memory budget; the budget is a bound on growth, not an exact figure.
const (
	docBytes   = 112 // doc, ords entry, length, class
	termBytes  = 96  // terms entry, list header, token
	entryBytes = 16  // list entry and term number, with append's slack
	idBytes    = 64  // tombstone entry
)

// New returns an empty index.
func New() *Index {
	return &Index{
		ords:    map[string]uint32{},
		terms:   map[string]uint32{},
		classOf: map[class]uint32{},
		scopes:  map[engram.Scope]*stat{},
		removed: map[string]struct{}{},
	}
}

// Put sets a memory's entry, replacing any previous one. A token listed
// twice has its frequencies summed, as the store does; postings with a
// frequency of 0 or less are left out (no ranking counts them). A memory
// that was removed is not put back: a write and a delete of the same
// memory may reach the index out of order, and the delete must win.
func (x *Index) Put(d store.DocPostings) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, gone := x.removed[d.MemoryID]; gone {
		return
	}
	x.remove(d.MemoryID)
	ord, ok := reuse(&x.free)
	if !ok {
		ord = uint32(len(x.docs))
		x.docs = append(x.docs, doc{})
		x.lens = append(x.lens, 0)
		x.cls = append(x.cls, 0)
	}
	// (term, tf) pairs, sorted by term so repeats merge.
	type ttf struct {
		t  uint32
		tf int
	}
	pairs := make([]ttf, 0, len(d.Postings))
	for _, p := range d.Postings {
		if p.TF > 0 {
			pairs = append(pairs, ttf{x.term(p.Token), p.TF})
		}
	}
	slices.SortFunc(pairs, func(a, b ttf) int { return int(a.t) - int(b.t) })
	terms := make([]uint32, 0, len(pairs))
	for i := 0; i < len(pairs); {
		t, tf := pairs[i].t, 0
		for ; i < len(pairs) && pairs[i].t == t; i++ {
			tf += pairs[i].tf
		}
		terms = append(terms, t)
		x.lists[t].e = append(x.lists[t].e, entry{ord: ord, tf: int32(tf)})
	}
	c := class{scope: d.Scope, rec: rbac.Record{AuthorID: d.AuthorID, Private: d.Private}}
	ci, ok := x.classOf[c]
	if !ok {
		ci = uint32(len(x.classes))
		x.classes = append(x.classes, c)
		x.classOf[c] = ci
	}
	x.docs[ord] = doc{id: d.MemoryID, terms: terms}
	x.lens[ord] = int32(max(d.DocLen, 0))
	x.cls[ord] = ci
	x.ords[d.MemoryID] = ord
	s := x.scopes[d.Scope]
	if s == nil {
		s = &stat{}
		x.scopes[d.Scope] = s
	}
	s.docs++
	s.total += int64(d.DocLen)
	x.bytes += docBytes + int64(len(d.MemoryID)) + int64(len(terms))*entryBytes
}

// reuse takes a number off a free list (false when it is empty).
func reuse(free *[]uint32) (uint32, bool) {
	n := len(*free)
	if n == 0 {
		return 0, false
	}
	v := (*free)[n-1]
	*free = (*free)[:n-1]
	return v, true
}

// term returns tok's term number, making one if it has none.
func (x *Index) term(tok []byte) uint32 {
	if t, ok := x.terms[string(tok)]; ok {
		return t
	}
	t, ok := reuse(&x.freeT)
	if !ok {
		t = uint32(len(x.lists))
		x.lists = append(x.lists, list{})
	}
	k := string(tok)
	x.lists[t] = list{token: k}
	x.terms[k] = t
	x.bytes += termBytes + int64(len(k))
	return t
}

// dropTerm forgets an empty list's term.
func (x *Index) dropTerm(t uint32) {
	l := &x.lists[t]
	if _, ok := x.terms[l.token]; !ok {
		return // already dropped
	}
	delete(x.terms, l.token)
	x.bytes -= termBytes + int64(len(l.token))
	*l = list{}
	x.freeT = append(x.freeT, t)
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
	for _, t := range d.terms {
		l := x.lists[t].e
		for i := range l {
			if l[i].ord == ord {
				l[i] = l[len(l)-1]
				l = l[:len(l)-1]
				break
			}
		}
		x.lists[t].e = l
		if len(l) == 0 {
			x.dropTerm(t)
		}
	}
	sc := x.classes[x.cls[ord]].scope
	if s := x.scopes[sc]; s != nil {
		s.docs--
		s.total -= int64(x.lens[ord])
		if s.docs <= 0 {
			delete(x.scopes, sc)
		}
	}
	x.bytes -= docBytes + int64(len(id)) + int64(len(d.terms))*entryBytes
	*d = doc{}
	x.lens[ord] = 0
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

// selection answers whether a search in a scope by a filter sees a
// memory, deciding each class once, when first met (a tenant can have as
// many classes as memories: one run id each).
type selection struct {
	x     *Index
	scope engram.Scope
	f     rbac.Filter
	memo  []int8 // by class: 0 undecided, 1 seen, 2 not
}

// sel returns the selection of scope and f; nil when it sees everything.
func (x *Index) sel(scope engram.Scope, f rbac.Filter) *selection {
	if scope.IsZero() && f.Reach == rbac.Any {
		return nil
	}
	return &selection{x: x, scope: scope, f: f, memo: make([]int8, len(x.classes))}
}

// sees reports whether the selection sees the memory at ord.
func (s *selection) sees(ord uint32) bool {
	c := s.x.cls[ord]
	if m := s.memo[c]; m != 0 {
		return m == 1
	}
	cl := &s.x.classes[c]
	ok := inScope(s.scope, cl.scope) && s.f.Match(cl.rec)
	s.memo[c] = 2
	if ok {
		s.memo[c] = 1
	}
	return ok
}

// df is how many memories of l the selection sees.
func (x *Index) df(l []entry, sel *selection) int {
	if sel == nil {
		return len(l)
	}
	n := 0
	for _, e := range l {
		if sel.sees(e.ord) {
			n++
		}
	}
	return n
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
	sel := x.sel(scope, f)
	for _, tok := range distinct(tokens) {
		dfs = append(dfs, x.df(x.list(tok), sel))
	}
	return docs, dfs
}

// distinct returns tokens without repeats, in order of first appearance.
func distinct(tokens [][]byte) [][]byte {
	out := make([][]byte, 0, len(tokens))
	for _, t := range tokens {
		if !slices.ContainsFunc(out, func(o []byte) bool { return string(o) == string(t) }) {
			out = append(out, t)
		}
	}
	return out
}

// list returns tok's postings (nil when no memory holds it).
func (x *Index) list(tok []byte) []entry {
	if t, ok := x.terms[string(tok)]; ok {
		return x.lists[t].e
	}
	return nil
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
	sel := x.sel(scope, f)
	avgdl := fulltext.AvgDocLen(docs, totalLen)
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	if len(sc.score) < len(x.docs) {
		sc.score = make([]float64, len(x.docs))
	}
	sc.touched = sc.touched[:0]
	score, lens := sc.score[:len(x.docs)], x.lens
	for _, tok := range distinct(tokens) {
		l := x.list(tok)
		df := x.df(l, sel)
		if df == 0 {
			continue
		}
		idf := fulltext.IDF(docs, df)
		for _, e := range l {
			if sel != nil && !sel.sees(e.ord) {
				continue
			}
			if score[e.ord] == 0 {
				sc.touched = append(sc.touched, e.ord)
			}
			// Summed in query-token order, as BM25 sums a memory's terms.
			score[e.ord] += fulltext.Term(idf, int(e.tf), fulltext.LenNorm(int(lens[e.ord]), avgdl))
		}
	}
	top := fulltext.NewTop(limit)
	for _, o := range sc.touched {
		if s := score[o]; top.Admits(s) {
			top.Offer(fulltext.Hit{MemoryID: x.docs[o].id, Score: s})
		}
		score[o] = 0
	}
	return docs, totalLen, top.Hits()
}

// Docs returns every memory of the index as Put was given it (frequencies
// summed per token, tokens sorted, postings of frequency 0 left out), by
// memory id: what a snapshot of the index holds. Tokens share their bytes
// between memories; the caller must not change them.
func (x *Index) Docs() []store.DocPostings {
	x.mu.RLock()
	defer x.mu.RUnlock()
	// Each memory's postings are a window of one array, filled list by list.
	start := make([]int, len(x.docs)+1)
	for o := range x.docs {
		start[o+1] = start[o] + len(x.docs[o].terms)
	}
	all := make([]store.Posting, start[len(x.docs)])
	fill := slices.Clone(start[:len(x.docs)])
	for t := range x.lists {
		l := &x.lists[t]
		if len(l.e) == 0 {
			continue
		}
		tok := []byte(l.token)
		for _, e := range l.e {
			all[fill[e.ord]] = store.Posting{Token: tok, TF: int(e.tf)}
			fill[e.ord]++
		}
	}
	out := make([]store.DocPostings, 0, len(x.ords))
	for o := range x.docs {
		d := &x.docs[o]
		if d.id == "" {
			continue
		}
		c := x.classes[x.cls[o]]
		ps := all[start[o]:start[o+1]:start[o+1]]
		slices.SortFunc(ps, func(a, b store.Posting) int { return strings.Compare(string(a.Token), string(b.Token)) })
		out = append(out, store.DocPostings{MemoryID: d.id, Scope: c.scope, AuthorID: c.rec.AuthorID, Private: c.rec.Private,
			DocLen: int(x.lens[o]), Postings: ps})
	}
	slices.SortFunc(out, func(a, b store.DocPostings) int { return strings.Compare(a.MemoryID, b.MemoryID) })
	return out
}

// Compact gives every posting list exactly its length in memory: after a
// bulk load, append's spare capacity is up to half of a list.
func (x *Index) Compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	for t := range x.lists {
		if l := x.lists[t].e; cap(l) > len(l) {
			x.lists[t].e = slices.Clone(l)
		}
	}
}
