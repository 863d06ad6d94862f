package engine

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/store"
)

// The graph signal: what Observe learnt (entities, the memories that
// mention them, facts linking them) used as one more signal of hybrid
// search. The query's candidate names are looked up by their exact blind
// key in the entity index of the scope's user; a memory that mentions an
// entity the query names gets that entity's specificity, a memory that
// mentions one of its neighbours (an entity a current fact links it to)
// graphHopWeight of the neighbour's. A query that names nothing stored, or
// a tenant without entities, costs one indexed lookup and changes nothing.
//
// The signal orders hits; it never changes Score (docs/API.md "Scores"):
// knowing that a memory mentions a named entity says it is about the
// query's subject, not how well it answers it, and a threshold must mean
// the same with and without Observe.
const (
	// weightGraph scales the graph signal (in [0, 1]) against fused
	// scores, which are at most 1 (as weightTime does).
	weightGraph = 0.1
	// graphHopWeight is a neighbour's share of a named entity's signal.
	graphHopWeight = 0.5
	// graphCommon is the mention count from which an entity is too common
	// to point anywhere (a conversation's speakers): it is left out, like
	// a stop word, and the specificity of the others falls towards it.
	graphCommon = 100
	// maxQueryNames bounds the names one query looks up, graphNeighbours
	// the neighbours followed and graphMentions the mentions read.
	maxQueryNames   = 64
	graphNeighbours = 16
	graphMentions   = 1000
)

// queryNames returns the query's candidate entity names: every run of up to
// three consecutive capitalised words ("Grand Canyon", "Caroline's"); in a
// query with no capital letter at all (typed in lower case), every run of up
// to three words, single words of three letters or more. Each is returned
// as its exact index key (entity.ExactKey), without repeats.
func queryNames(q string) []string {
	type word struct {
		text string
		cap  bool
		end  bool // punctuation after it ends a name
	}
	var ws []word
	lower := strings.IndexFunc(q, unicode.IsUpper) < 0
	for _, f := range strings.Fields(q) {
		r, _ := utf8.DecodeRuneInString(strings.TrimLeftFunc(f, unicode.IsPunct))
		last, _ := utf8.DecodeLastRuneInString(f)
		ws = append(ws, word{text: f, cap: lower || unicode.IsUpper(r), end: unicode.IsPunct(last) && last != '.'})
	}
	var out []string
	seen := map[string]bool{}
	add := func(name string, n int) {
		if n == 1 && lower && utf8.RuneCountInString(entity.Normalise(name)) < 3 {
			return
		}
		k := entity.ExactKey(name)
		if k != "" && !seen[k] && len(out) < maxQueryNames {
			seen[k] = true
			out = append(out, k)
		}
	}
	for i := range ws {
		if !ws[i].cap {
			continue
		}
		name := ""
		for n := 1; n <= 3 && i+n <= len(ws) && ws[i+n-1].cap; n++ {
			if n > 1 {
				name += " "
			}
			name += ws[i+n-1].text
			add(name, n)
			if ws[i+n-1].end {
				break
			}
		}
	}
	return out
}

// graphPart is what the graph says of one memory.
type graphPart struct {
	direct, hop float64 // the best specificity among named entities / neighbours it mentions
}

func (g graphPart) signal() float64 { return math.Min(1, g.direct+graphHopWeight*g.hop) }

// specificity is how much a mention of an entity with n mentions says:
// 1 for an entity mentioned once, falling like an idf towards 0 at
// graphCommon.
func specificity(n int64) float64 {
	if n >= graphCommon {
		return 0
	}
	return math.Log(1+float64(graphCommon)/float64(max(n, 1))) / math.Log(1+graphCommon)
}

// queryNameTokens blinds the query's candidate names for the entity index
// (nil when it names none). It runs before search opens its read
// transaction: deriving the key may read the store.
func (e *Engine) queryNameTokens(ctx context.Context, tenantID, query string) ([][]byte, error) {
	names := queryNames(query)
	if len(names) == 0 {
		return nil, nil
	}
	key, err := e.ring.Derived(ctx, tenantID, purposeEntityKey)
	if err != nil {
		return nil, keyFailure(err)
	}
	toks := make([][]byte, len(names))
	for i, k := range names {
		toks[i] = blindToken(key, k)
	}
	return toks, nil
}

// graphHits returns, for the memories that mention an entity the query
// names (toks: queryNameTokens) or one of its neighbours, the graph signal
// in [0, 1], within tx; nil when the query names no entity of the scope's
// user. Memories outside the scope's agent or run are left to the
// caller's scope check.
func graphHits(ctx context.Context, tx store.Tx, tenantID string, scope engram.Scope, toks [][]byte) (map[string]graphPart, error) {
	if len(toks) == 0 {
		return nil, nil
	}
	ids, err := tx.EntitiesByKeys(ctx, tenantID, scope.UserID, toks)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	named, err := specificEntities(ctx, tx, tenantID, scope.UserID, ids)
	if err != nil || len(named) == 0 {
		return nil, err
	}
	out := map[string]graphPart{}
	if err := mentionParts(ctx, tx, tenantID, named, out, func(p *graphPart, s float64) { p.direct = max(p.direct, s) }); err != nil {
		return nil, err
	}
	// One hop: the entities current facts link the named ones to.
	fs, err := tx.FactsOf(ctx, tenantID, slices.Sorted(maps.Keys(named)))
	if err != nil {
		return nil, err
	}
	var hop []string
	for _, f := range fs {
		if f.InvalidAt != nil || f.ExpiredAt != nil || f.ObjectEntity == "" || f.UserID != scope.UserID {
			continue
		}
		for _, id := range []string{f.SubjectEntity, f.ObjectEntity} {
			if _, ok := named[id]; !ok && !slices.Contains(hop, id) {
				hop = append(hop, id)
			}
		}
	}
	if len(hop) == 0 {
		return out, nil
	}
	near, err := specificEntities(ctx, tx, tenantID, scope.UserID, hop)
	if err != nil {
		return nil, err
	}
	if len(near) > graphNeighbours {
		// The most specific neighbours, ties by id.
		keep := slices.Sorted(maps.Keys(near))
		slices.SortFunc(keep, func(a, b string) int {
			if near[a] != near[b] {
				return cmpDesc(near[a], near[b])
			}
			return strings.Compare(a, b)
		})
		for _, id := range keep[graphNeighbours:] {
			delete(near, id)
		}
	}
	if err := mentionParts(ctx, tx, tenantID, near, out, func(p *graphPart, s float64) { p.hop = max(p.hop, s) }); err != nil {
		return nil, err
	}
	return out, nil
}

// specificEntities returns the specificity of those among ids that belong
// to the user and are not too common.
func specificEntities(ctx context.Context, tx store.Tx, tenantID, userID string, ids []string) (map[string]float64, error) {
	recs, err := tx.Entities(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, r := range recs {
		if s := specificity(r.Mentions); r.UserID == userID && s > 0 {
			out[r.ID] = s
		}
	}
	return out, nil
}

// mentionParts sets, through set, the part of every memory that mentions
// one of the entities.
func mentionParts(ctx context.Context, tx store.Tx, tenantID string, ents map[string]float64, out map[string]graphPart,
	set func(*graphPart, float64)) error {
	if len(ents) == 0 {
		return nil
	}
	ms, err := tx.MentionedIn(ctx, tenantID, slices.Sorted(maps.Keys(ents)), graphMentions)
	if err != nil {
		return err
	}
	for _, m := range ms {
		p := out[m.MemoryID]
		set(&p, ents[m.EntityID])
		out[m.MemoryID] = p
	}
	return nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// inScope reports whether a memory row is within the search scope.
func inScope(r *store.Memory, s engram.Scope) bool {
	return (s.UserID == "" || r.UserID == s.UserID) && (s.AgentID == "" || r.AgentID == s.AgentID) &&
		(s.RunID == "" || r.RunID == s.RunID)
}

// candidateIDs are the ids of the fused candidates and of the memories the
// graph found beyond them (at most candidates of those, strongest first).
func candidateIDs(cands []*candidate, graph map[string]graphPart) []string {
	ids := make([]string, 0, len(cands)+min(len(graph), candidates))
	have := make(map[string]bool, len(cands))
	for _, c := range cands {
		ids = append(ids, c.id)
		have[c.id] = true
	}
	return append(ids, graphOnly(graph, have)...)
}

// graphOnly returns the graph's memories missing from have, strongest
// signal first (ties: newer first), at most candidates of them.
func graphOnly(graph map[string]graphPart, have map[string]bool) []string {
	var extra []string
	for id := range graph {
		if !have[id] {
			extra = append(extra, id)
		}
	}
	slices.SortFunc(extra, func(a, b string) int {
		if c := cmpDesc(graph[a].signal(), graph[b].signal()); c != 0 {
			return c
		}
		return strings.Compare(b, a)
	})
	return extra[:min(len(extra), candidates)]
}

// withGraph adds the graph signal to the candidates, and the graph's own
// memories (those rows holds within the scope) as new candidates.
func withGraph(cands []*candidate, graph map[string]graphPart, rows []store.Memory, scope engram.Scope) []*candidate {
	if len(graph) == 0 {
		return cands
	}
	have := make(map[string]bool, len(cands))
	for _, c := range cands {
		have[c.id] = true
		if g, ok := graph[c.id]; ok {
			c.explain.Graph = g.signal()
			c.explain.Fused += weightGraph * c.explain.Graph
		}
	}
	extra := graphOnly(graph, have)
	found := make(map[string]*store.Memory, len(rows))
	for i := range rows {
		found[rows[i].ID] = &rows[i]
	}
	for _, id := range extra {
		if r, ok := found[id]; ok && inScope(r, scope) {
			c := &candidate{id: id}
			c.explain.Graph = graph[id].signal()
			c.explain.Fused = weightGraph * c.explain.Graph
			cands = append(cands, c)
		}
	}
	return cands
}
