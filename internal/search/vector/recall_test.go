//go:build !race

// The recall gate runs without the race detector (scripts/test runs it in
// its own pass): it is a measurement of graph quality over long
// single-threaded similarity loops, which the detector slows tenfold, and
// it exercises no concurrency that the race-checked graph tests do not.

package vector_test

import (
	"flag"
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
