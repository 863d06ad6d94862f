package engine

import (
	"context"
	"slices"
	"strings"
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
// Text (the default): the memory is embedded as the text of the previous
// turns and its own, joined. The model reads every turn three times (once
// for itself, once as context of each of the next two), which is most of
// an add's cost. On LoCoMo's tuning half it lifts hybrid R@10 from 0.63 to
// 0.69 over no context (docs/BENCHMARKS.md).
//
// Vectors (WithVectorContext): each text is embedded once, alone, and its
// stored vector is
//
//	v′ = embed.Normalize(v + contextWeight·p′)
//
// where v is the text's own embedding and p′ the stored (itself
// contextual) vector of the memory just before it, when that one is within
// contextWindow. The turn before weighs contextWeight, the one before that
// less, and so on as the chain is renormalised. Ingest is about three
// times cheaper, at −0.014 R@10 and −0.013 MRR on all of LoCoMo
// (docs/BENCHMARKS.md, "Throughput").
//
// Both are vectors of the same model and may coexist in one index (a
// deployment that switches rules keeps its stored vectors).
const (
	contextTurns  = 2
	contextWeight = 1.0
	contextWindow = 10 * time.Minute
)

// WithVectorContext builds conversational context by vector arithmetic
// instead of embedding the previous turns' text (see contextTurns): about
// three times faster ingest, slightly lower recall.
func WithVectorContext() Option { return func(e *Engine) { e.vecContext = true } }

// withContext prefixes each text with the texts before it: earlier ones of
// the same request first, then stored memories of the scope that precede
// `before` (an id; "" for the newest) within contextWindow of at, among
// those f selects (contextFilter).
func (e *Engine) withContext(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, at time.Time, texts []string) ([]string, error) {
	var prev []store.Memory
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		prev, err = tx.ListVisibleMemories(ctx, tenantID, scope, f, before, contextTurns)
		return err
	}); err != nil {
		return nil, err
	}
	var history []string // oldest first
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
		history = append(history, m.Content)
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
	return out, nil
}

// precedingContext is what a write's vectors continue from: the stored
// vector of the memory before it, or that memory's text when it has no
// vector of the current model (written before the model changed or
// before semantic search was enabled), to be embedded alone; neither when
// there is none within contextWindow.
type precedingContext struct {
	vec  []float32
	text string
	has  bool // text is to be embedded
}

// preceding finds the context of a write at time at: the newest memory of
// scope before `before` (an id; "" for the newest) among those f selects
// (contextFilter). A memory it may not open is skipped, as a read would.
func (e *Engine) preceding(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, at time.Time) (precedingContext, error) {
	var prev []store.Memory
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		prev, err = tx.ListVisibleMemories(ctx, tenantID, scope, f, before, 1)
		return err
	}); err != nil {
		return precedingContext{}, err
	}
	if len(prev) == 0 {
		return precedingContext{}, nil
	}
	m := &prev[0]
	if d := at.Sub(m.CreatedAt); d < 0 || d > contextWindow {
		return precedingContext{}, nil
	}
	o := e.opener(ctx, tenantID)
	if m.Vector != nil && m.VectorModel == e.vec.emb.Model() {
		v, err := o.vector(m)
		if err == nil && len(v) == e.vec.emb.Dim() {
			return precedingContext{vec: v}, nil
		}
		if err != nil && !isUnreadable(err) {
			return precedingContext{}, err
		}
		// A vector that does not open or fit: fall back to the text.
	}
	mem, err := o.memory(m)
	if isUnreadable(err) {
		e.skip(tenantID, "memory", m.ID, err)
		return precedingContext{}, nil
	}
	if err != nil {
		return precedingContext{}, err
	}
	return precedingContext{text: mem.Content, has: true}, nil
}

// embedInContext embeds texts, consecutive memories of one scope written
// at time at, each in the context of the ones before it: earlier texts of
// the same call first, then the stored memories that precede `before`
// (withContext, or preceding with WithVectorContext). All the model's work
// is one Embed call.
func (e *Engine) embedInContext(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, at time.Time, texts []string) ([][]float32, error) {
	if !e.vecContext {
		withCtx, err := e.withContext(ctx, tenantID, scope, f, before, at, texts)
		if err != nil {
			return nil, err
		}
		return e.embedTexts(ctx, withCtx)
	}
	pc, err := e.preceding(ctx, tenantID, scope, f, before, at)
	if err != nil {
		return nil, err
	}
	batch := texts
	if pc.has {
		batch = append(texts[:len(texts):len(texts)], pc.text)
	}
	vs, err := e.embedTexts(ctx, batch)
	if err != nil {
		return nil, err
	}
	if pc.has {
		pc.vec, vs = vs[len(texts)], vs[:len(texts)]
	}
	chainContext(vs, pc.vec)
	return vs, nil
}

// chainContext turns own embeddings of consecutive texts into contextual
// vectors in place: vs[i] = embed.Normalize(vs[i] + contextWeight·vs[i−1]), vs[−1]
// being prev (nil: none).
func chainContext(vs [][]float32, prev []float32) {
	for _, v := range vs {
		if len(prev) == len(v) {
			for j := range v {
				v[j] += contextWeight * prev[j]
			}
			embed.Normalize(v)
		}
		prev = v
	}
}
