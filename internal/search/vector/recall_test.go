//go:build !race

// The recall gate runs without the race detector (scripts/test runs it in
// its own pass): it is a measurement of graph quality over long
// single-threaded similarity loops, which the detector slows tenfold, and
// it exercises no concurrency that the race-checked graph tests do not.

package vector_test

import (
	"flag"
	"strconv"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/search/vector"
)

var fullRecall = flag.Bool("recall.full", false, "run TestRecall at 20,000 vectors of 512 dimensions")

// The recall gate: Search, on an index past its approximate threshold with
// default options, must find at least 95% of the exact top 10. Queries are
// fresh draws from the data's distribution, never stored vectors.
//
// By default it runs at a size a test run affords; -recall.full measures
// at 20,000 vectors of the built-in model's 512 dimensions.
func TestRecall(t *testing.T) {
	n, dim, queries := 6000, 128, 100
	if *fullRecall {
		n, dim, queries = 20000, 512, 200
	}
	cases := []struct {
		name string
		data func() (*dataset, func() []float32)
		// graph: the data has neighbourhood structure, so the graph must
		// serve (uniformly random vectors of high dimension have none, and
		// the index may decline the graph for an exact scan).
		graph bool
	}{
		{"random", func() (*dataset, func() []float32) {
			r := newRand(21)
			return randomData(r, n, dim), func() []float32 { return unit(r, dim) }
		}, false},
		{"clustered", func() (*dataset, func() []float32) {
			r := newRand(22)
			// 20 clusters; noise of norm 1.36 puts points at about 0.59
			// from their centre and 0.35 from each other: dense near-ties.
			spread := 1.36 / sqrtf(dim)
			d, centres := clusteredData(r, n, dim, 20, spread)
			return d, func() []float32 { return near(r, centres[r.IntN(len(centres))], spread) }
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, query := tc.data()
			x := newIndex(t, dim, vector.Options{ApproxThreshold: n / 2, Seed: 1})
			start := time.Now()
			d.fill(t, x)
			vector.WaitBuild(x)
			st := x.Stats()
			t.Logf("built in %v: %+v", time.Since(start).Round(time.Millisecond), st)
			if tc.graph && !st.Approximate {
				t.Fatal("the graph was declined on structured data")
			}
			m := d.asMap()
			var sum float64
			var took time.Duration
			for range queries {
				q := query()
				want := brute(m, q, 10, nil)
				start := time.Now()
				got := x.Search(q, 10, nil)
				took += time.Since(start)
				sum += recall(got, want)
			}
			rec := sum / float64(queries)
			t.Logf("recall@10 %.4f, %v per search", rec, took/time.Duration(queries))
			if rec < 0.95 {
				t.Fatalf("recall@10 %.4f < 0.95", rec)
			}
		})
	}
}

// TestRecallQuestions: queries unlike the stored vectors must get the
// target recall too. Text embeddings are anisotropic (every vector shares
// a large common component) and questions differ from the memories that
// answer them by a component of their own, which puts them away from
// every stored vector, among near-ties; beams calibrated on stored vectors
// were several times too narrow for them. Here memories are a common
// direction plus one of 30 topics plus noise, and questions the common
// direction, a "question" direction no memory has, a blend of two topics
// and noise: a different construction from the turned vectors
// calibration uses, so the test checks the calibration rather than
// repeating it.
func TestRecallQuestions(t *testing.T) {
	const n, dim, queries = 4000, 128, 100
	r := newRand(23)
	common, ask := unit(r, dim), unit(r, dim)
	topics := make([][]float32, 30)
	for i := range topics {
		topics[i] = unit(r, dim)
	}
	mix := func(parts []float32, vs ...[]float32) []float32 {
		out := make([]float32, dim)
		for i, v := range vs {
			for j := range out {
				out[j] += parts[i] * v[j]
			}
		}
		for j := range out {
			out[j] += float32(0.6 / sqrtf(dim) * r.NormFloat64())
		}
		return normalize(out)
	}
	d := &dataset{}
	for i := range n {
		d.ids = append(d.ids, "v"+strconv.Itoa(i))
		d.vecs = append(d.vecs, mix([]float32{1, 0.8}, common, topics[r.IntN(len(topics))]))
	}
	x := newIndex(t, dim, vector.Options{ApproxThreshold: n / 2, Seed: 1})
	d.fill(t, x)
	vector.WaitBuild(x)
	st := x.Stats()
	t.Logf("%+v", st)
	if !st.Approximate {
		t.Fatal("the graph was declined on structured data")
	}
	m := d.asMap()
	var sum float64
	for range queries {
		q := mix([]float32{1, 0.7, 0.5, 0.3}, common, ask, topics[r.IntN(len(topics))], topics[r.IntN(len(topics))])
		sum += recall(x.Search(q, 10, nil), brute(m, q, 10, nil))
	}
	rec := sum / queries
	t.Logf("recall@10 of questions %.4f", rec)
	if rec < 0.95 {
		t.Fatalf("recall@10 of questions %.4f < 0.95", rec)
	}
}
