package engine

import (
	"context"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/search/vector"
	"github.com/engram-memory/engram/internal/store"
)

// filterOverfetch is how many more candidates than asked for a filtered
// search ranks, because metadata is sealed and filtered after decryption.
const filterOverfetch = 10

func (e *Engine) blinder(ctx context.Context, tenantID string) (*fulltext.Blinder, error) {
	k, err := e.ring.Derived(ctx, tenantID, keys.PurposeSearch)
	if err != nil {
		return nil, err
	}
	return fulltext.NewBlinder(k)
}

// Search finds the memories in scope that best match the query. Hybrid
// mode (the default) fuses BM25 over blind tokens (the store sees only
// keyed hashes of the query's terms) with the cosine similarity of the
// query's embedding in the tenant's in-memory vector index, plus a time
// signal when the query names a date or asks for the latest.
func (e *Engine) Search(ctx context.Context, req engram.SearchRequest) (_ []engram.SearchHit, err error) {
	// The entry names the action, never the query.
	a := e.begin(ctx, engram.AuditMemorySearch, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	p, reach, err := a.can(rbac.MemoryRead)
	if err != nil {
		return nil, err
	}
	if !utf8.ValidString(req.Query) || len(req.Query) == 0 {
		return nil, invalid("query must be non-empty UTF-8")
	}
	if len(req.Query) > engram.MaxQueryBytes {
		return nil, invalid("query is longer than %d bytes", engram.MaxQueryBytes)
	}
	if req.Scope, err = cleanScope(req.Scope); err != nil {
		return nil, err
	}
	for _, part := range req.Include {
		if part != engram.SearchIncludeMemories && part != engram.SearchIncludeFacts {
			return nil, invalid("include may list only memories and facts")
		}
	}
	limit, err := pageLimit(req.Limit, engram.DefaultSearchLimit, engram.MaxSearchLimit)
	if err != nil {
		return nil, err
	}
	mode := req.Mode
	switch mode {
	case "":
		mode = engram.SearchHybrid
	case engram.SearchHybrid, engram.SearchBM25, engram.SearchVector:
	default:
		return nil, invalid("mode must be hybrid, bm25 or vector")
	}
	if mode == engram.SearchVector && e.vec == nil {
		return nil, invalid("semantic search is not enabled on this server")
	}
	fb, err := encodeMetadata(req.Filters)
	if err != nil {
		return nil, invalid("filters: %s", engram.ErrorMessage(err))
	}
	// Filters are compiled from their JSON, as metadata is stored: a Go
	// caller's int 3 then compares with a stored 5 as any JSON number does.
	filters, err := decodeMetadata(fb)
	if err != nil {
		return nil, invalid("filters must be a JSON object")
	}
	keep, err := compileFilters(filters)
	if err != nil {
		return nil, err
	}
	minScore, err := threshold(req)
	if err != nil {
		return nil, err
	}
	vis := filterOf(p, reach)
	want := max(candidates, limit)
	if len(req.Filters) > 0 {
		want = max(want, limit*filterOverfetch)
	}

	// The two sides are independent until fusion: the keyword side runs
	// while the model embeds the query, so a search waits for the slower
	// of the two, not their sum.
	var bm, vec []scored
	var kw fulltext.Weight
	var sq *semantic
	g, gctx := errgroup.WithContext(ctx)
	if mode != engram.SearchVector {
		g.Go(func() (err error) {
			bm, kw, err = e.keywordHits(gctx, p.TenantID, req, vis, want)
			return err
		})
	}
	if mode != engram.SearchBM25 && e.vec != nil {
		g.Go(func() (err error) {
			if sq, err = e.semanticQuery(gctx, p.TenantID, req, vis); err == nil {
				vec = sq.search(sq.q, want)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if sq != nil && mode == engram.SearchHybrid && len(vec) > 0 {
		// Feedback needs the first fusion, so it waits for both sides.
		first := fuse(bm, vec)
		rank(first)
		if q := sq.feedback(first, feedbackDocs, feedbackWeight); q != nil {
			vec = sq.search(q, want)
		}
	}
	cands := fuse(bm, vec)
	if len(cands) == 0 {
		return []engram.SearchHit{}, nil
	}
	var names [][]byte
	if mode == engram.SearchHybrid {
		if names, err = e.queryNameTokens(ctx, p.TenantID, req.Query); err != nil {
			return nil, err
		}
	}
	// Ranking reads each candidate's head (scope, visibility, times: a
	// covering index), never its row: only the memories the answer holds
	// are read whole and decrypted, below.
	var rows []store.Memory
	var graph map[string]graphPart
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if graph, err = graphHits(ctx, tx, p.TenantID, req.Scope, names); err != nil {
			return err
		}
		rows, err = tx.MemoryHeads(ctx, p.TenantID, candidateIDs(cands, graph))
		return err
	}); err != nil {
		return nil, err
	}
	// The graph's memories the caller may not read are dropped before they
	// add a signal or a candidate (the keyword and vector sides never
	// offered one).
	// Expired memories too: gone to every read before the sweep.
	rows = slices.DeleteFunc(rows, func(r store.Memory) bool { return !vis.Match(store.RecordOf(&r)) || e.expired(&r) })
	if graph != nil {
		readable := make(map[string]bool, len(rows))
		for i := range rows {
			readable[rows[i].ID] = true
		}
		for id := range graph {
			if !readable[id] {
				delete(graph, id)
			}
		}
	}
	cands = withGraph(cands, graph, rows, req.Scope)
	if graph != nil {
		// The graph's memories outside the scope were read, never ranked.
		rows = slices.DeleteFunc(rows, func(r store.Memory) bool { return !inScope(&r, req.Scope) })
	}
	byID := make(map[string]*store.Memory, len(rows))
	var oldest, newest time.Time
	for i := range rows {
		r := &rows[i]
		byID[r.ID] = r
		if oldest.IsZero() || r.CreatedAt.Before(oldest) {
			oldest = r.CreatedAt
		}
		if r.CreatedAt.After(newest) {
			newest = r.CreatedAt
		}
	}
	if cue := parseTimeCue(req.Query); !cue.none() && mode == engram.SearchHybrid {
		for _, c := range cands {
			if r, ok := byID[c.id]; ok {
				c.explain.Time = cue.score(r.CreatedAt, oldest, newest)
				c.explain.Fused += weightTime * c.explain.Time
			}
		}
	}
	if sq != nil {
		sq.cosines(cands)
	}
	for _, c := range cands {
		absoluteScore(&c.explain, mode, kw, sq != nil)
	}
	rank(cands)

	// Under the threshold, or deleted since the index saw it: not even read.
	ranked := make([]*candidate, 0, len(cands))
	for _, c := range cands {
		if _, ok := byID[c.id]; ok && c.explain.Score >= minScore {
			ranked = append(ranked, c)
		}
	}
	return e.searchHits(ctx, p.TenantID, vis, ranked, keep, len(req.Filters) > 0, limit, req.Explain)
}

// searchHits reads and decrypts the ranked candidates, best first, until
// limit of them pass keep: a batch of as many as are still wanted at a
// time (filterOverfetch times as many when filters may drop some), each in
// a short read transaction, so a search reads whole only the memories it
// returns (and those a filter or an unreadable envelope skips). A memory
// deleted, made private or expired since the ranking read its head is
// skipped.
func (e *Engine) searchHits(ctx context.Context, tenantID string, vis rbac.Filter, ranked []*candidate, keep func(*engram.Memory) bool, filtered bool, limit int, explain bool) ([]engram.SearchHit, error) {
	hits := []engram.SearchHit{}
	o := e.opener(ctx, tenantID)
	for len(ranked) > 0 && len(hits) < limit {
		n := limit - len(hits)
		if filtered {
			n *= filterOverfetch
		}
		batch := ranked[:min(n, len(ranked))]
		ranked = ranked[len(batch):]
		ids := make([]string, len(batch))
		for i, c := range batch {
			ids[i] = c.id
		}
		var rows []store.Memory
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			rows, err = tx.MemoryTexts(ctx, tenantID, ids)
			return err
		}); err != nil {
			return nil, err
		}
		byID := make(map[string]*store.Memory, len(rows))
		for i := range rows {
			byID[rows[i].ID] = &rows[i]
		}
		for _, c := range batch {
			row, ok := byID[c.id]
			if !ok || !vis.Match(store.RecordOf(row)) || e.expired(row) {
				continue
			}
			m, err := o.memory(row)
			if isUnreadable(err) {
				e.skip(tenantID, "memory", row.ID, err)
				continue
			}
			if err != nil {
				return nil, err
			}
			if !keep(m) {
				continue
			}
			h := engram.SearchHit{Memory: *m, Score: c.explain.Score}
			if explain {
				x := c.explain
				h.Explain = &x
			}
			hits = append(hits, h)
			if len(hits) == limit {
				break
			}
		}
	}
	return hits, nil
}

// keywordHits ranks the scope's memories with BM25 over blind tokens, and
// weighs the query's tokens in the scope.
func (e *Engine) keywordHits(ctx context.Context, tenantID string, req engram.SearchRequest, vis rbac.Filter, want int) ([]scored, fulltext.Weight, error) {
	terms := fulltext.QueryTerms(req.Query)
	if len(terms) == 0 {
		return nil, fulltext.Weight{}, nil
	}
	b, err := e.blinder(ctx, tenantID)
	if err != nil {
		return nil, fulltext.Weight{}, keyFailure(err)
	}
	tokens := make([][]byte, len(terms))
	for i, t := range terms {
		tokens[i] = b.Token(t)
	}
	// The query's weight leaves out the dates it names (the time signal's
	// business); every one of these terms is among the ranking's.
	weighed := fulltext.QueryTerms(withoutDates(req.Query))
	wTokens := make([][]byte, len(weighed))
	for i, t := range weighed {
		wTokens[i] = b.Token(t)
	}
	ranked, w, err := e.keywordRank(ctx, tenantID, req.Scope, vis, tokens, wTokens, want)
	if err != nil {
		return nil, fulltext.Weight{}, err
	}
	out := make([]scored, len(ranked))
	for i, h := range ranked {
		out[i] = scored{ID: h.MemoryID, Score: h.Score}
	}
	return out, w, nil
}

// semantic is a query's side in the tenant's vector index: its embedding
// and the scope filter.
type semantic struct {
	idx  *vector.Index
	tv   *tenantVectors
	keep func(id string) bool
	q    []float32
}

// semanticQuery embeds the query and loads the tenant's vector index; its
// filter keeps the scope's memories that vis lets the caller read, inside
// the index's search (before the best are kept).
func (e *Engine) semanticQuery(ctx context.Context, tenantID string, req engram.SearchRequest, vis rbac.Filter) (*semantic, error) {
	qv, err := e.embedTexts(ctx, []string{req.Query})
	if err != nil {
		return nil, err
	}
	idx, tv, err := e.index(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	sq := &semantic{idx: idx, tv: tv, q: qv[0]}
	if !req.Scope.IsZero() || vis.Reach != rbac.Any {
		s := req.Scope
		sq.keep = func(id string) bool {
			m, ok := tv.meta[id]
			return ok && (s.UserID == "" || m.scope.UserID == s.UserID) &&
				(s.AgentID == "" || m.scope.AgentID == s.AgentID) && (s.RunID == "" || m.scope.RunID == s.RunID) &&
				vis.Match(m.rec)
		}
	}
	return sq, nil
}

// search ranks the scope's memories by cosine similarity to q.
func (s *semantic) search(q []float32, want int) []scored {
	s.tv.mu.RLock()
	defer s.tv.mu.RUnlock()
	found := s.idx.Search(q, want, s.keep)
	out := make([]scored, len(found))
	for i, h := range found {
		out[i] = scored{ID: h.ID, Score: float64(h.Score)}
	}
	return out
}

// feedback returns the query's embedding moved towards the vectors of the
// first n ranked candidates that are in the scope's index (pseudo-relevance
// feedback): normalise(q + weight · mean of those vectors). It returns nil
// when none has a vector.
func (s *semantic) feedback(ranked []*candidate, n int, weight float64) []float32 {
	q := slices.Clone(s.q)
	used := 0
	for _, c := range ranked {
		if used == n {
			break
		}
		if s.keep != nil && !s.inScope(c.id) {
			continue
		}
		v, ok := s.idx.Vector(c.id)
		if !ok {
			continue
		}
		for i := range q {
			q[i] += float32(weight/float64(n)) * v[i]
		}
		used++
	}
	if used == 0 {
		return nil
	}
	var ss float64
	for _, x := range q {
		ss += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range q {
		q[i] *= inv
	}
	return q
}

// cosines sets each candidate's cosine with the query as asked: the
// absolute semantic signal, whichever list (keyword, first or feedback
// round) found it.
func (s *semantic) cosines(cs []*candidate) {
	s.tv.mu.RLock()
	defer s.tv.mu.RUnlock()
	for _, c := range cs {
		v, ok := s.idx.Vector(c.id)
		if !ok || len(v) != len(s.q) {
			continue
		}
		var dot float64
		for i, x := range v {
			dot += float64(x) * float64(s.q[i])
		}
		c.explain.Cosine = dot
	}
}

func (s *semantic) inScope(id string) bool {
	s.tv.mu.RLock()
	defer s.tv.mu.RUnlock()
	return s.keep(id)
}
