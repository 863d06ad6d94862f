package main

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/engram-memory/engram/internal/bench"
	"github.com/engram-memory/engram/internal/search/fulltext"
)

// Calibration of the absolute score (docs/BENCHMARKS.md, "Absolute scores
// and the default threshold"). Every question is asked twice with the
// engine's ranking (convex 0.55/0.45, feedback 0.5 × 2): in its own
// conversation (the evidence is relevant) and in the next conversation of
// the list, whose memories are about other people (nothing is relevant: an
// honest search answers nothing). For each candidate function of the
// absolute signals it prints recall@10 with results under a threshold
// dropped, and the fraction of unrelated questions that come back empty.

// ahit is one ranked result with its absolute signals.
type ahit struct {
	turn int
	bm25 float64 // raw BM25 (0: not in the keyword list)
	cos  float64 // cosine of the memory's embedding and the question's
	mass float64 // Σ idf of the question's distinct terms in this conversation
	seen float64 // the part of mass whose terms occur in the conversation
}

// ask runs the engine's hybrid ranking of question qi of src in c and
// returns the first bench.MinK results with their signals.
func ask(c *conv, q string, qv []float32) []ahit {
	v := variant{wBM25: 0.55, depth: 100, prfWeight: 0.5, prfDocs: 2}
	bm := c.bm25(q, v.depth)
	f := v.fuse(bm, nil)
	if qv != nil { // nil: keyword ranking alone (bm25 mode, no model)
		f = v.fuse(bm, nearest(c.ctx, qv, v.depth))
		fb := slices.Clone(qv)
		for _, d := range ranked(f)[:min(v.prfDocs, len(f))] {
			for j := range fb {
				fb[j] += float32(v.prfWeight/float64(v.prfDocs)) * c.ctx[d][j]
			}
		}
		f = v.fuse(bm, nearest(c.ctx, unit(fb), v.depth))
	}
	bmOf := map[int]float64{}
	for _, h := range bm {
		bmOf[h.turn] = h.score
	}
	var mass, seen float64
	done := map[string]bool{}
	for _, t := range fulltext.QueryTerms(q) {
		if done[t] {
			continue
		}
		done[t] = true
		idf := fulltext.IDF(len(c.turns), len(c.byTerm[t]))
		mass += idf
		if len(c.byTerm[t]) > 0 {
			seen += idf
		}
	}
	var out []ahit
	for _, d := range ranked(f)[:min(bench.MinK, len(f))] {
		var cos float64
		for j := range qv { // 0 without a query vector
			cos += float64(qv[j]) * float64(c.ctx[d][j])
		}
		out = append(out, ahit{turn: d, bm25: bmOf[d], cos: cos, mass: mass, seen: seen})
	}
	return out
}

// absolute is a candidate score function: wB · keyword + (1 − wB) ·
// clamp((cos − lo)/(hi − lo)), where keyword is bm25/(bm25 + k) ("sat") or
// min(1, bm25 / Σ idf of the question's terms) ("share"); "known" scales
// the "share" score by (1 + known)/2, known being the part of the
// question's idf mass whose terms occur in the memories at all; "floor" is
// max("known", k · semantic); "kw" and "kw-sqrt" score keyword ranking
// alone: share or its square root, times (1 + known)/2.
type absolute struct {
	kind          string
	wB, k, lo, hi float64
}

func (a absolute) score(h ahit) float64 {
	sem := math.Min(1, math.Max(0, (h.cos-a.lo)/(a.hi-a.lo)))
	var kw float64
	switch a.kind {
	case "sat":
		kw = h.bm25 / (h.bm25 + a.k)
	case "share": // BM25 over the question's idf mass: the share of it matched
		if h.mass > 0 {
			kw = math.Min(1, h.bm25/h.mass)
		}
	case "kw", "kw-sqrt": // keyword alone: share (or its square root) · known
		if h.mass > 0 {
			kw = math.Min(1, h.bm25/h.mass)
			if a.kind == "kw-sqrt" {
				kw = math.Sqrt(kw)
			}
			return kw * (1 + h.seen/h.mass) / 2
		}
		return 0
	case "floor": // known, but a semantic match alone keeps a.k · semantic
		if h.mass > 0 {
			kw = math.Min(1, h.bm25/h.mass)
			return math.Max((a.wB*kw+(1-a.wB)*sem)*(1+h.seen/h.mass)/2, a.k*sem)
		}
	case "known": // share, scaled by (1 + how much of the question the store knows)/2
		if h.mass > 0 {
			kw = math.Min(1, h.bm25/h.mass)
			return (a.wB*kw + (1-a.wB)*sem) * (1 + h.seen/h.mass) / 2
		}
	}
	return a.wB*kw + (1-a.wB)*sem
}

type asked struct {
	evidence []string
	dia      []string // dia_id of each turn of the conversation asked
	hits     []ahit
}

func calibrate(cs []*conv) {
	var pos, neg, kwPos, kwNeg []asked
	for i, c := range cs {
		other := cs[(i+1)%len(cs)]
		for qi, q := range c.qs {
			pos = append(pos, asked{q.Evidence, dias(c), ask(c, q.Question, c.qv[qi])})
			neg = append(neg, asked{nil, dias(other), ask(other, q.Question, c.qv[qi])})
			kwPos = append(kwPos, asked{q.Evidence, dias(c), ask(c, q.Question, nil)})
			kwNeg = append(kwNeg, asked{nil, dias(other), ask(other, q.Question, nil)})
		}
	}
	defer func() {
		fmt.Println("keyword ranking alone (bm25 mode, no model):")
		sweepThresholds(kwPos, kwNeg, []absolute{{"kw", 1, 0, 0, 1}, {"kw-sqrt", 1, 0, 0, 1}})
	}()
	// The raw signals: evidence found in the top 10 against the best
	// result of an unrelated question.
	var evCos, evBM, negCos, negBM []float64
	for _, a := range pos {
		for _, h := range a.hits[:min(10, len(a.hits))] {
			if slices.Contains(a.evidence, a.dia[h.turn]) {
				evCos, evBM = append(evCos, h.cos), append(evBM, h.bm25)
			}
		}
	}
	for _, a := range neg {
		var c, b float64 = -1, 0
		for _, h := range a.hits {
			c, b = math.Max(c, h.cos), math.Max(b, h.bm25)
		}
		negCos, negBM = append(negCos, c), append(negBM, b)
	}
	fmt.Printf("%d questions\n", len(pos))
	fmt.Printf("cosine, evidence in top 10:   %s\n", quantiles(evCos))
	fmt.Printf("cosine, best of unrelated:    %s\n", quantiles(negCos))
	fmt.Printf("bm25, evidence in top 10:     %s\n", quantiles(evBM))
	fmt.Printf("bm25, best of unrelated:      %s\n", quantiles(negBM))
	var posSeen, negSeen []float64
	for i := range pos {
		if h := pos[i].hits; len(h) > 0 && h[0].mass > 0 {
			posSeen = append(posSeen, h[0].seen/h[0].mass)
		}
		if h := neg[i].hits; len(h) > 0 && h[0].mass > 0 {
			negSeen = append(negSeen, h[0].seen/h[0].mass)
		}
	}
	fmt.Printf("known share of the question, related:   %s\n", quantiles(posSeen))
	fmt.Printf("known share of the question, unrelated: %s\n", quantiles(negSeen))

	sweepThresholds(pos, neg, grid())
}

// sweepThresholds prints, for each function and threshold, recall@10 with
// the results under it dropped and the share of empty answers.
func sweepThresholds(pos, neg []asked, fs []absolute) {
	base := recall(pos, func(ahit) bool { return true })
	fmt.Printf("R@10 without threshold: %.3f\n", base)
	for _, a := range fs {
		for _, t := range []float64{0.15, 0.2, 0.225, 0.25, 0.275, 0.3, 0.35} {
			keep := func(h ahit) bool { return a.score(h) >= t }
			r := recall(pos, keep)
			empty, posEmpty := 0, 0
			for _, n := range neg {
				if !slices.ContainsFunc(n.hits, keep) {
					empty++
				}
			}
			for _, p := range pos {
				if !slices.ContainsFunc(p.hits, keep) {
					posEmpty++
				}
			}
			fmt.Printf("%-5s wB %.2f k %4.1f cos [%.2f, %.2f]  t %.3f  R@10 %.3f (%+.3f)  unrelated empty %.3f  related empty %.3f  ranked by it %.3f\n",
				a.kind, a.wB, a.k, a.lo, a.hi, t, r, r-base, float64(empty)/float64(len(neg)), float64(posEmpty)/float64(len(pos)), byAbsolute(pos, a))
		}
	}
}

// grid is the chosen function ("floor": the engine's, relevance.go) and
// those it was chosen over, with the engine's weights.
func grid() []absolute {
	return []absolute{
		{"sat", 0.5, 8, 0.15, 0.65},
		{"share", 0.5, 0, 0, 0.7},
		{"known", 0.5, 0, 0, 0.7},
		{"floor", 0.5, 1.0 / 3, 0, 0.7},
	}
}

func dias(c *conv) []string {
	out := make([]string, len(c.turns))
	for i, t := range c.turns {
		out[i] = t.DiaID
	}
	return out
}

// recall is the mean recall@10 of the rankings with the hits keep refuses
// removed.
func recall(as []asked, keep func(ahit) bool) float64 {
	var sum float64
	for _, a := range as {
		var ids []string
		for _, h := range a.hits {
			if keep(h) {
				ids = append(ids, a.dia[h.turn])
			}
		}
		sum += bench.Score(a.evidence, ids).RecallAt10
	}
	return sum / float64(len(as))
}

// byAbsolute is the mean recall@10 when the candidates are ordered by the
// absolute score instead.
func byAbsolute(as []asked, a absolute) float64 {
	var sum float64
	for _, x := range as {
		hs := slices.Clone(x.hits)
		sort.SliceStable(hs, func(i, j int) bool { return a.score(hs[i]) > a.score(hs[j]) })
		var ids []string
		for _, h := range hs {
			ids = append(ids, x.dia[h.turn])
		}
		sum += bench.Score(x.evidence, ids).RecallAt10
	}
	return sum / float64(len(as))
}

func quantiles(xs []float64) string {
	if len(xs) == 0 {
		return "none"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("p5 %.3f  p25 %.3f  p50 %.3f  p75 %.3f  p95 %.3f  (n %d)", q(0.05), q(0.25), q(0.5), q(0.75), q(0.95), len(s))
}
