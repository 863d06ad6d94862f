package engine

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// Conversational context for embeddings: a turn such as "Yes, it was
// amazing!" means nothing alone, so a memory's vector carries the memories
// written just before it in the same scope: at most contextTurns of them,
// within contextWindow of it, so context never crosses from one
// conversation into another held hours apart. Two rules build it.
//
// Text (WithTextContext): the memory is embedded as the text of the
// previous turns and its own, joined. The model reads every turn three
// times (once for itself, once as context of each of the next two), which
// is most of an add's cost. On LoCoMo's tuning half it lifts hybrid R@10
// from 0.63 to 0.69 over no context (docs/BENCHMARKS.md).
//
// Vectors (WithVectorContext): each text is embedded once, alone. With an
// embedder of pooled states (embed.StateEmbedder: the built-in model),
// a memory's vector is the model's final layer over the mean of its own
// tokens' last-layer outputs and those of the turns before it,
//
//	v′ = unit(tanh(((S + S₁ + S₂) / (n + n₁ + n₂))·W + b))
//
// (S the sum over a text's tokens, n their count; stateWeights), which is
// exactly how the model pools the joined text of the text rule: only
// attention across the turns is lost. On all of LoCoMo it measures as
// text does (hybrid R@10 0.717 against 0.716, MRR 0.496 both;
// docs/BENCHMARKS.md, "Context from pooled states"), so it is the default
// with such an embedder. With another embedder the vector is
//
//	v′ = embed.Normalize(v + w₁·own(p₁) + w₂·own(p₂))
//
// where v is the text's own embedding and own(p₁), own(p₂) those of the
// turns before it (contextWeights), never their stored contextual
// vectors, so context does not compound along a conversation (with the
// built-in model it cost −0.007 R@10 and MRR on LoCoMo, and text stays
// that embedder's default). Either way the prior turns' states or own
// embeddings are kept in memory (ownVectors) when they are written; one
// that is not there (after a restart, on another node, evicted) is the
// predecessor's text embedded alone again, which gives the same result.
// Ingest is about three times cheaper than with text.
//
// Both are vectors of the same model and may coexist in one index (a
// deployment that switches rules keeps its stored vectors).
const (
	contextTurns  = 2
	contextWindow = 10 * time.Minute
)

// contextWeights are w₁ and w₂ of the vector rule: the turn before weighs
// more than the one before it. Chosen on LoCoMo's tuning half (sweep
// "own context", docs/BENCHMARKS.md), in the middle of a flat region.
var contextWeights = [contextTurns]float32{0.75, 0.5}

// WithVectorContext builds conversational context from the pooled states
// or own embeddings of the previous turns instead of embedding their text
// again (see contextTurns): each text is embedded once. It is the default
// when the embedder computes pooled states.
func WithVectorContext() Option { return func(e *Engine) { e.vecContext, e.contextSet = true, true } }

// WithTextContext builds conversational context by embedding the previous
// turns' text with each memory: every text is embedded three times. It is
// the default with an embedder without pooled states.
func WithTextContext() Option { return func(e *Engine) { e.vecContext, e.contextSet = false, true } }

// priorTurn is a stored memory a write's context continues from.
type priorTurn struct {
	id, content string
}

// priorTurns returns the stored memories of scope that precede `before`
// (an id; "" for the newest) within contextWindow of at, among those f
// selects (contextFilter), oldest first. A memory it may not open is
// skipped, as a read would.
func (e *Engine) priorTurns(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, at time.Time) ([]priorTurn, error) {
	var prev []store.Memory
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		prev, err = tx.ListVisibleMemories(ctx, tenantID, scope, f, before, contextTurns)
		return err
	}); err != nil {
		return nil, err
	}
	var out []priorTurn
	o := e.opener(ctx, tenantID)
	for i := len(prev) - 1; i >= 0; i-- {
		d := at.Sub(prev[i].CreatedAt)
		if d < 0 || d > contextWindow {
			continue
		}
		m, err := o.memory(&prev[i])
		if isUnreadable(err) {
			e.skip(tenantID, "memory", prev[i].ID, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, priorTurn{id: prev[i].ID, content: m.Content})
	}
	return out, nil
}

// withContext prefixes each text with the texts before it: earlier ones of
// the same request first, then the stored prior turns.
func withContext(prior []priorTurn, texts []string) []string {
	history := make([]string, 0, len(prior)+len(texts)) // oldest first
	for _, p := range prior {
		history = append(history, p.content)
	}
	out := make([]string, len(texts))
	for i, t := range texts {
		ctxTexts := history
		if len(ctxTexts) > contextTurns {
			ctxTexts = ctxTexts[len(ctxTexts)-contextTurns:]
		}
		out[i] = strings.Join(append(slices.Clone(ctxTexts), t), "\n")
		history = append(history, t)
	}
	return out
}

// embedded is what a write's texts were embedded as.
type embedded struct {
	vecs [][]float32 // contextual: what is stored and indexed
	own  [][]float32 // each text alone (vector rule; nil with the text rule)
	gen  uint64      // ownVectors generation before the embedding (ownPut)
}

// embedInContext embeds texts, consecutive memories of one scope written
// at time at, each in the context of the ones before it: earlier texts of
// the same call first, then the stored memories that precede `before`
// (priorTurns). All the model's work is one Embed call.
func (e *Engine) embedInContext(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, at time.Time, texts []string) (embedded, error) {
	gen := e.vec.own.generation(tenantID)
	prior, err := e.priorTurns(ctx, tenantID, scope, f, before, at)
	if err != nil {
		return embedded{}, err
	}
	if !e.vecContext {
		vs, err := e.embedTexts(ctx, withContext(prior, texts))
		return embedded{vecs: vs}, err
	}
	vs, own, err := e.embedOwn(ctx, tenantID, gen, []ownGroup{{prior: prior, texts: texts}})
	if err != nil {
		return embedded{}, err
	}
	return embedded{vecs: vs[0], own: own[0], gen: gen}, nil
}

// ownGroup is texts written consecutively and the stored turns before them.
type ownGroup struct {
	prior []priorTurn // oldest first
	texts []string
}

// embedOwn applies the vector rule to groups in one Embed call: every
// group's texts, and the texts of the prior turns whose own embedding is
// not in ownVectors (added to it under gen). It returns, per group, the
// contextual and the own vectors of its texts.
func (e *Engine) embedOwn(ctx context.Context, tenantID string, gen uint64, groups []ownGroup) (vecs, own [][][]float32, err error) {
	var batch []string
	for _, g := range groups {
		batch = append(batch, g.texts...)
	}
	var misses []ownMiss
	prevOwn := make([][][]float32, len(groups))
	for gi, g := range groups {
		prevOwn[gi] = make([][]float32, len(g.prior), len(g.prior)+len(g.texts))
		for i, p := range g.prior {
			if v := e.vec.own.get(tenantID, p.id, p.content); v != nil {
				prevOwn[gi][i] = v
				continue
			}
			misses = append(misses, ownMiss{gi, i})
			batch = append(batch, p.content)
		}
	}
	if e.vec.states != nil {
		return e.mixOwn(ctx, tenantID, gen, groups, batch, prevOwn, misses)
	}
	vs, err := e.embedTexts(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	own = make([][][]float32, len(groups))
	n := 0
	for gi, g := range groups {
		own[gi], n = vs[n:n+len(g.texts):n+len(g.texts)], n+len(g.texts)
	}
	for _, m := range misses {
		p := groups[m.g].prior[m.i]
		prevOwn[m.g][m.i] = vs[n]
		e.vec.own.put(tenantID, gen, p.id, p.content, vs[n])
		n++
	}
	vecs = make([][][]float32, len(groups))
	for gi := range groups {
		hist := prevOwn[gi]
		vecs[gi] = make([][]float32, len(own[gi]))
		for i, v := range own[gi] {
			vecs[gi][i] = withTurns(v, hist)
			hist = append(hist, v)
		}
	}
	return vecs, own, nil
}

// ownMiss is a prior turn (group g, turn i) not in ownVectors.
type ownMiss struct{ g, i int }

// stateWeights are w₁ and w₂ of the vector rule with pooled states: 1, 1,
// every token of the three turns counted once, as when their joined text
// is embedded (the text rule), which the tuning half also preferred
// (docs/BENCHMARKS.md, "Context from pooled states").
var stateWeights = [contextTurns]float32{1, 1}

// mixOwn is embedOwn with a state embedder: batch (the groups' texts, then
// the missing prior turns') is embedded into pooled states, and a text's
// vector is the model's final layer over its tokens and those of the two
// turns before it, pooled together (embed.StateEmbedder.Mix). What
// ownVectors keeps, and own returns, are the states packed as vectors
// (packState): each turn's pooled state, a context of later turns.
func (e *Engine) mixOwn(ctx context.Context, tenantID string, gen uint64, groups []ownGroup, batch []string, prevOwn [][][]float32, misses []ownMiss) (vecs, own [][][]float32, err error) {
	sts, err := e.embedStates(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	own = make([][][]float32, len(groups))
	n := 0
	for gi, g := range groups {
		own[gi] = make([][]float32, len(g.texts))
		for i := range g.texts {
			own[gi][i] = packState(sts[n])
			n++
		}
	}
	for _, m := range misses {
		p := groups[m.g].prior[m.i]
		prevOwn[m.g][m.i] = packState(sts[n])
		e.vec.own.put(tenantID, gen, p.id, p.content, prevOwn[m.g][m.i])
		n++
	}
	vecs = make([][][]float32, len(groups))
	n = 0
	for gi := range groups {
		hist := prevOwn[gi]
		vecs[gi] = make([][]float32, len(own[gi]))
		for i := range own[gi] {
			var cs []embed.State
			for k := 0; k < contextTurns && k < len(hist); k++ {
				if c, ok := unpackState(hist[len(hist)-1-k], e.vec.emb.Dim()); ok {
					cs = append(cs, c)
				}
			}
			vecs[gi][i] = e.vec.states.Mix(sts[n], cs, stateWeights[:len(cs)])
			hist = append(hist, own[gi][i])
			n++
		}
	}
	return vecs, own, nil
}

// packState is s.Pooled() as one vector: its sum, then its token count.
func packState(s embed.State) []float32 {
	p := s.Pooled()
	if len(p.Sum) == 0 {
		return nil
	}
	return append(slices.Clone(p.Sum[0]), float32(p.N[0]))
}

// unpackState reverses packState; ok is false for a vector of another
// model (dimension).
func unpackState(v []float32, dim int) (embed.State, bool) {
	if len(v) != dim+1 {
		return embed.State{}, false
	}
	return embed.State{Sum: [][]float32{v[:dim:dim]}, N: []int{int(v[dim])}}, true
}

// withTurns is the vector rule: unit(v + Σₖ contextWeights[k]·hist[−1−k]),
// hist the own embeddings of the turns before v, oldest first.
func withTurns(v []float32, hist [][]float32) []float32 {
	out := slices.Clone(v)
	for k, w := range contextWeights {
		if k >= len(hist) {
			break
		}
		if p := hist[len(hist)-1-k]; len(p) == len(out) {
			for j := range out {
				out[j] += w * p[j]
			}
		}
	}
	embed.Normalize(out)
	return out
}

// ownPut remembers, after its write committed, the own embedding of a
// memory written with content (the vector rule's context of the next
// writes). gen is embedded.gen.
func (e *Engine) ownPut(tenantID string, emb embedded, i int, id, content string) {
	if e.vec == nil || i >= len(emb.own) {
		return
	}
	e.vec.own.put(tenantID, emb.gen, id, content, emb.own[i])
}

// ownVectorBytes bounds the own embeddings kept in memory: 4,096 vectors of
// 512 dimensions (the built-in model), the recent turns of many
// conversations.
const ownVectorBytes = 8 << 20

// ownVectors keeps the own (context-free) embeddings of recently written
// memories, by tenant and memory id, so that the vector rule reads its
// prior turns' embeddings instead of computing them again. An entry holds
// the digest of the text it embeds and is used only for that text (an
// updated memory misses). Entries are derived from plaintext, so they go
// when their memory or tenant is removed (remove, drop); a write that
// began before such a removal adds nothing (generation). First in, first
// out within max entries.
type ownVectors struct {
	mu      sync.Mutex
	bytes   int
	max     int // entries: bytes over the first vector's size
	entries map[ownKey]*ownEntry
	ring    []ownKey // insertion order; a slot's key may be gone already
	next    int
	gens    map[string]uint64 // per tenant: removals so far
}

type ownKey struct{ tenant, id string }

type ownEntry struct {
	sum  [sha256.Size]byte
	vec  []float32
	slot int
}

// newOwnVectors keeps at most bytes of vectors (the count is fixed by the
// first vector's dimension).
func newOwnVectors(bytes int) *ownVectors {
	return &ownVectors{bytes: bytes, entries: map[ownKey]*ownEntry{}, gens: map[string]uint64{}}
}

// generation is noted before reading what put will add.
func (c *ownVectors) generation(tenantID string) uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[tenantID]
}

// get returns the own embedding of memory id when it was of content.
func (c *ownVectors) get(tenantID, id, content string) []float32 {
	if c == nil {
		return nil
	}
	sum := sha256.Sum256([]byte(content))
	c.mu.Lock()
	defer c.mu.Unlock()
	if en := c.entries[ownKey{tenantID, id}]; en != nil && en.sum == sum {
		return en.vec
	}
	return nil
}

// put adds memory id's own embedding of content unless the tenant lost a
// memory since gen (the memory may be that one).
func (c *ownVectors) put(tenantID string, gen uint64, id, content string, v []float32) {
	if c == nil || len(v) == 0 {
		return
	}
	sum := sha256.Sum256([]byte(content))
	k := ownKey{tenantID, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ring == nil {
		c.max = max(c.bytes/(4*len(v)), 1)
		c.ring = make([]ownKey, c.max)
	}
	if c.gens[tenantID] != gen {
		return
	}
	if en := c.entries[k]; en != nil {
		en.sum, en.vec = sum, v
		return
	}
	slot := c.next
	c.next = (c.next + 1) % c.max
	if old, ok := c.entries[c.ring[slot]]; ok && old.slot == slot {
		delete(c.entries, c.ring[slot])
	}
	c.ring[slot] = k
	c.entries[k] = &ownEntry{sum: sum, vec: v, slot: slot}
}

// remove forgets a memory's own embedding.
func (c *ownVectors) remove(tenantID, id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[tenantID]++
	delete(c.entries, ownKey{tenantID, id})
}

// drop forgets every own embedding of a tenant.
func (c *ownVectors) drop(tenantID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[tenantID]++
	for k := range c.entries {
		if k.tenant == tenantID {
			delete(c.entries, k)
		}
	}
}

// len is the number of own embeddings kept (tests).
func (c *ownVectors) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
