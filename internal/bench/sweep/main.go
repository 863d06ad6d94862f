// Command sweep replays the ranking experiments of docs/BENCHMARKS.md
// offline, on LoCoMo's tuning half by default:
//
//	go run ./internal/bench/sweep --file ../shared/bench/locomo10.json
//
// It embeds every turn with the built-in model (alone, and with the two
// turns before it as the engine does), scores plain BM25 with the engine's
// tokenizer and fulltext.BM25, and re-implements each fusion variant over
// those lists, so that dozens of variants cost seconds instead of one
// ingest each. It leaves out the time signal and the blind tokens (a keyed
// hash maps terms one to one, so BM25 ranks the same), which is why its
// figures sit about 0.01 under `engram bench locomo`'s. A variant worth
// keeping is then built into the engine and measured with `engram bench
// locomo`; these figures only choose between variants. Embeddings are
// cached in --cache between runs.
package main

import (
	"context"
	"encoding/gob"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/bench"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

func main() {
	file := flag.String("file", "../shared/bench/locomo10.json", "locomo10.json")
	convs := flag.String("conversations", "conv-26,conv-30,conv-41,conv-42,conv-43", "sample_ids (default: the tuning half)")
	cache := flag.String("cache", os.TempDir()+"/engram-sweep.gob", "embedding cache")
	calib := flag.Bool("calibrate", false, "measure the absolute score and threshold instead of the fusion variants")
	only := flag.String("only", "", "run only the variants whose name contains this")
	flag.Parse()
	ds, err := bench.LoadLoCoMo(*file)
	if err != nil {
		log.Fatal(err)
	}
	cs, err := load(ds, strings.Split(*convs, ","), *cache)
	if err != nil {
		log.Fatal(err)
	}
	if *calib {
		calibrate(cs)
		return
	}
	for _, v := range variants() {
		if *only != "" && !strings.Contains(v.name, *only) {
			continue
		}
		r10, mrr, n := run(cs, v)
		fmt.Printf("%-44s R@10 %.3f  MRR %.3f  (%d questions)\n", v.name, r10, mrr, n)
	}
}

// conv is one conversation with what every variant needs precomputed.
type conv struct {
	turns  []bench.Turn
	prev   []int // the turn before each one in the same sitting, or -1
	alone  [][]float32
	ctx    [][]float32 // the engine's contextual embedding
	states []uselite.State
	qs     []bench.Question
	qv     [][]float32
	terms  []map[string]int
	lens   []int
	total  int64
	byTerm map[string][]int
}

type cached struct {
	Alone, Ctx, Q map[string][][]float32
	States        map[string][]uselite.State
}

// model is the built-in embedder, for the pooled-state variants.
var model *uselite.Model

func load(ds *bench.Dataset, ids []string, path string) ([]*conv, error) {
	c := cached{map[string][][]float32{}, map[string][][]float32{}, map[string][][]float32{}, map[string][]uselite.State{}}
	if f, err := os.Open(path); err == nil {
		_ = gob.NewDecoder(f).Decode(&c) // a damaged cache is rebuilt
		f.Close()
	}
	if c.States == nil {
		c.States = map[string][]uselite.State{}
	}
	m, err := uselite.New()
	if err != nil {
		return nil, err
	}
	model = m
	dirty := false
	var out []*conv
	for _, id := range ids {
		src, ok := ds.Conversation(id)
		if !ok {
			return nil, fmt.Errorf("unknown conversation %s", id)
		}
		cv := &conv{turns: src.Turns, byTerm: map[string][]int{}}
		for _, q := range ds.Questions {
			if q.Conversation == id && slices.Contains(bench.DefaultCategories, q.Category) {
				cv.qs = append(cv.qs, q)
			}
		}
		texts, ctxTexts := make([]string, len(src.Turns)), make([]string, len(src.Turns))
		for i, t := range src.Turns {
			cv.prev = append(cv.prev, -1)
			// The engine's rule: context within 10 minutes, two turns.
			if d := t.Time.Sub(src.Turns[max(i-1, 0)].Time); i > 0 && d >= 0 && d <= 10*time.Minute {
				cv.prev[i] = i - 1
			}
			counts, n := fulltext.Terms(t.Content())
			for term := range counts {
				cv.byTerm[term] = append(cv.byTerm[term], i)
			}
			cv.terms, cv.lens, cv.total = append(cv.terms, counts), append(cv.lens, n), cv.total+int64(n)
			texts[i] = t.Content()
			hist := []string{texts[i]}
			for j, k := i, 0; k < 2 && cv.prev[j] >= 0; k++ {
				j = cv.prev[j]
				hist = append([]string{src.Turns[j].Content()}, hist...)
			}
			ctxTexts[i] = strings.Join(hist, "\n")
		}
		if v, ok := c.Alone[id]; ok && len(v) == len(texts) && len(c.Q[id]) == len(cv.qs) {
			cv.alone, cv.ctx, cv.qv = v, c.Ctx[id], c.Q[id]
		} else {
			qs := make([]string, len(cv.qs))
			for i, q := range cv.qs {
				qs[i] = q.Question
			}
			ctx := context.Background()
			if cv.alone, err = m.Embed(ctx, texts); err != nil {
				return nil, err
			}
			if cv.ctx, err = m.Embed(ctx, ctxTexts); err != nil {
				return nil, err
			}
			if cv.qv, err = m.Embed(ctx, qs); err != nil {
				return nil, err
			}
			c.Alone[id], c.Ctx[id], c.Q[id] = cv.alone, cv.ctx, cv.qv
			dirty = true
		}
		if st, ok := c.States[id]; ok && len(st) == len(texts) {
			cv.states = st
		} else {
			if cv.states, err = m.EmbedStates(context.Background(), texts); err != nil {
				return nil, err
			}
			c.States[id] = cv.states
			dirty = true
		}
		out = append(out, cv)
	}
	if dirty {
		if f, err := os.Create(path); err == nil {
			_ = gob.NewEncoder(f).Encode(c)
			f.Close()
		}
	}
	return out, nil
}

type hit struct {
	turn  int
	score float64
}

func (c *conv) bm25(q string, depth int) []hit {
	terms := fulltext.QueryTerms(q)
	p := &store.Postings{Docs: len(c.turns), TotalLen: c.total}
	toks := make([][]byte, len(terms))
	for i, t := range terms {
		toks[i] = []byte(t)
		for _, d := range c.byTerm[t] {
			p.Matches = append(p.Matches, store.Match{MemoryID: fmt.Sprintf("%06d", d), Token: toks[i], TF: c.terms[d][t], DocLen: c.lens[d]})
		}
	}
	var out []hit
	for _, h := range fulltext.BM25(p, toks, depth) {
		var d int
		fmt.Sscanf(h.MemoryID, "%d", &d)
		out = append(out, hit{d, h.Score})
	}
	return out
}

func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i := range v {
		out[i] = v[i] / float32(math.Sqrt(s))
	}
	return out
}

func nearest(vecs [][]float32, q []float32, depth int) []hit {
	all := make([]hit, len(vecs))
	for i, v := range vecs {
		var s float32
		for j := range v {
			s += v[j] * q[j]
		}
		all[i] = hit{i, float64(s)}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].score > all[b].score })
	return all[:min(depth, len(all))]
}

// mixed is contextual embedding by vector arithmetic instead of text:
// v'_i = unit(v_i + a·v'_prev) (ema) or unit(v_i + a·(v_prev + v_prev2)).
func (c *conv) mixed(a float32, ema bool) [][]float32 {
	out := make([][]float32, len(c.alone))
	for i, v := range c.alone {
		w := slices.Clone(v)
		for j, k := i, 0; c.prev[j] >= 0 && (k < 1 || (!ema && k < 2)); k++ {
			j = c.prev[j]
			src := c.alone[j]
			if ema {
				src = out[j]
			}
			for d := range w {
				w[d] += a * src[d]
			}
		}
		out[i] = unit(w)
	}
	return out
}

// own is contextual embedding from the predecessors' own embeddings:
// v'_i = unit(v_i + Σ_k w[k]·v_prev(k)), prev(1) the turn before, prev(2)
// the one before that (the engine's "turns" rule).
func (c *conv) own(w ...float32) [][]float32 {
	out := make([][]float32, len(c.alone))
	for i, v := range c.alone {
		o := slices.Clone(v)
		for j, k := i, 0; k < len(w) && c.prev[j] >= 0; k++ {
			j = c.prev[j]
			for d := range o {
				o[d] += w[k] * c.alone[j][d]
			}
		}
		out[i] = unit(o)
	}
	return out
}

// pooled is contextual embedding from the turns' pooled states: the
// model's mean pooling over the tokens of the turn and its predecessors
// (those of prev(k) weighted w[k]) and its final layer (uselite.Model.Mix).
func (c *conv) pooled(w ...float32) [][]float32 {
	out := make([][]float32, len(c.states))
	for i, s := range c.states {
		var ctx []uselite.State
		for j, k := i, 0; k < len(w) && c.prev[j] >= 0; k++ {
			j = c.prev[j]
			ctx = append(ctx, c.states[j])
		}
		out[i] = model.Mix(s, ctx, w[:len(ctx)])
	}
	return out
}

// ownLen is own with the weights scaled by how short the turn is:
// w[k]·clamp(l/n, lo, hi), n the turn's term count.
func (c *conv) ownLen(l, lo, hi float32, w ...float32) [][]float32 {
	out := make([][]float32, len(c.alone))
	for i, v := range c.alone {
		o := slices.Clone(v)
		s := min(max(l/float32(max(c.lens[i], 1)), lo), hi)
		for j, k := i, 0; k < len(w) && c.prev[j] >= 0; k++ {
			j = c.prev[j]
			for d := range o {
				o[d] += s * w[k] * c.alone[j][d]
			}
		}
		out[i] = unit(o)
	}
	return out
}

type variant struct {
	name      string
	mode      string // "", "bm25", "vector"
	vecs      func(*conv) [][]float32
	rrfK      float64 // > 0: reciprocal-rank fusion
	wBM25     float64 // RRF weight of BM25 (vector 1 − it), or the convex weight
	depth     int
	prfWeight float64
	prfDocs   int
	neighbour float64 // share of a memory's fused score given to the turns beside it
}

func variants() []variant {
	rrf := variant{rrfK: 3, wBM25: 0.5, depth: 100}
	cc := variant{wBM25: 0.55, depth: 100, prfWeight: 0.5, prfDocs: 2}
	var vs []variant
	add := func(base variant, name string, f func(*variant)) {
		v := base
		v.name = name
		if f != nil {
			f(&v)
		}
		vs = append(vs, v)
	}
	add(rrf, "bm25", func(v *variant) { v.mode = "bm25" })
	add(rrf, "vector, contextual text", func(v *variant) { v.mode = "vector" })
	add(rrf, "vector, turn alone", func(v *variant) { v.mode = "vector"; v.vecs = func(c *conv) [][]float32 { return c.alone } })
	add(rrf, "RRF k 3, 0.5/0.5 (previous default)", nil)
	for _, k := range []float64{1, 10, 60} {
		add(rrf, fmt.Sprintf("RRF k %g", k), func(v *variant) { v.rrfK = k })
	}
	for _, d := range []int{30, 50, 200} {
		add(rrf, fmt.Sprintf("RRF, depth %d", d), func(v *variant) { v.depth = d })
	}
	add(rrf, "RRF + feedback 0.5, 2 docs", func(v *variant) { v.prfWeight, v.prfDocs = 0.5, 2 })
	add(rrf, "RRF + feedback 0.5, 3 docs", func(v *variant) { v.prfWeight, v.prfDocs = 0.5, 3 })
	add(rrf, "RRF + neighbour 0.2", func(v *variant) { v.neighbour = 0.2 })
	for _, w := range []float64{0.40, 0.45, 0.50, 0.55, 0.60} {
		add(cc, fmt.Sprintf("convex %.2f, no feedback", w), func(v *variant) { v.wBM25, v.prfWeight = w, 0 })
	}
	for _, w := range []float64{0.50, 0.55, 0.60} {
		for _, f := range [][2]float64{{0.3, 2}, {0.5, 2}, {0.7, 2}, {0.5, 3}, {1, 3}} {
			add(cc, fmt.Sprintf("convex %.2f + feedback %.1f, %g docs", w, f[0], f[1]), func(v *variant) {
				v.wBM25, v.prfWeight, v.prfDocs = w, f[0], int(f[1])
			})
		}
	}
	add(cc, "chosen + neighbour 0.1", func(v *variant) { v.neighbour = 0.1 })
	add(cc, "chosen, depth 50", func(v *variant) { v.depth = 50 })
	add(cc, "chosen, depth 200", func(v *variant) { v.depth = 200 })
	add(cc, "chosen, turn alone", func(v *variant) { v.vecs = func(c *conv) [][]float32 { return c.alone } })
	for _, a := range []float32{0.5, 1, 1.5} {
		add(cc, fmt.Sprintf("chosen, vector context ema %.1f", a), func(v *variant) {
			v.vecs = func(c *conv) [][]float32 { return c.mixed(a, true) }
		})
	}
	add(cc, "chosen, vector context 2 turns 1.0", func(v *variant) {
		v.vecs = func(c *conv) [][]float32 { return c.mixed(1, false) }
	})
	for _, w := range [][]float32{{1, 1}, {1, 0.5}, {0.75, 0.5}, {1, 0.75}, {1.25, 0.75}, {1.25, 1}, {0.75, 0.75}, {1, 0.25},
		{0.5, 0.5}, {0.75, 0.25}, {0.6, 0.4}, {0.5, 0.25}, {0.75, 0.5, 0.25}, {1, 0.75, 0.5}, {0.75, 0.75, 0.75}} {
		add(cc, fmt.Sprintf("chosen, own context %v", w), func(v *variant) {
			v.vecs = func(c *conv) [][]float32 { return c.own(w...) }
		})
	}
	add(cc, "chosen, text context", nil)
	for _, w := range [][]float32{{1, 1}, {0.75, 0.5}, {0.5, 0.25}, {1, 0.5}, {1.5, 1}, {0.75, 0.25}} {
		add(cc, fmt.Sprintf("chosen, pooled context %v", w), func(v *variant) {
			v.vecs = func(c *conv) [][]float32 { return c.pooled(w...) }
		})
	}
	for _, l := range [][3]float32{{8, 0.5, 2}, {12, 0.5, 2}, {16, 0.5, 2}, {12, 0.75, 1.5}, {8, 0.75, 1.5}} {
		add(cc, fmt.Sprintf("chosen, own len context %v", l), func(v *variant) {
			v.vecs = func(c *conv) [][]float32 { return c.ownLen(l[0], l[1], l[2], 0.75, 0.5) }
		})
	}
	return vs
}

func (v variant) fuse(bm, vec []hit) map[int]float64 {
	f := map[int]float64{}
	if v.rrfK > 0 {
		for r, h := range bm {
			f[h.turn] += v.wBM25 / (v.rrfK + float64(r+1))
		}
		for r, h := range vec {
			f[h.turn] += (1 - v.wBM25) / (v.rrfK + float64(r+1))
		}
		return f
	}
	for _, h := range bm {
		f[h.turn] += v.wBM25 * h.score / bm[0].score
	}
	if len(vec) > 0 {
		top, last := vec[0].score, vec[len(vec)-1].score
		for _, h := range vec {
			part := 1.0
			if top > last {
				part = (h.score - last) / (top - last)
			}
			f[h.turn] += (1 - v.wBM25) * part
		}
	}
	return f
}

func ranked(f map[int]float64) []int {
	ids := make([]int, 0, len(f))
	for i := range f {
		ids = append(ids, i)
	}
	sort.Slice(ids, func(a, b int) bool {
		if f[ids[a]] != f[ids[b]] {
			return f[ids[a]] > f[ids[b]]
		}
		return ids[a] > ids[b]
	})
	return ids
}

func run(cs []*conv, v variant) (r10, mrr float64, n int) {
	for _, c := range cs {
		vecs := c.ctx
		if v.vecs != nil {
			vecs = v.vecs(c)
		}
		for qi, q := range c.qs {
			var bm, vec []hit
			if v.mode != "vector" {
				bm = c.bm25(q.Question, v.depth)
			}
			if v.mode != "bm25" {
				vec = nearest(vecs, c.qv[qi], v.depth)
			}
			f := v.fuse(bm, vec)
			if v.prfWeight > 0 && v.mode == "" {
				qv := slices.Clone(c.qv[qi])
				for _, d := range ranked(f)[:min(v.prfDocs, len(f))] {
					for j := range qv {
						qv[j] += float32(v.prfWeight/float64(v.prfDocs)) * vecs[d][j]
					}
				}
				f = v.fuse(bm, nearest(vecs, unit(qv), v.depth))
			}
			if v.neighbour > 0 {
				g := map[int]float64{}
				for d, s := range f {
					g[d] += s
					for _, nb := range []int{d - 1, d + 1} {
						if nb >= 0 && nb < len(c.turns) && c.turns[nb].Session == c.turns[d].Session {
							g[nb] += v.neighbour * s
						}
					}
				}
				f = g
			}
			var ids []string
			for _, d := range ranked(f)[:min(bench.MinK, len(f))] {
				ids = append(ids, c.turns[d].DiaID)
			}
			s := bench.Score(q.Evidence, ids)
			r10, mrr, n = r10+s.RecallAt10, mrr+s.MRR, n+1
		}
	}
	return r10 / float64(n), mrr / float64(n), n
}
