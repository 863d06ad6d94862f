package vector_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/search/vector"
)

const benchDim = 512

func BenchmarkDot(b *testing.B) {
	// Through a one-vector exact index: the kernel plus the call overhead.
	r := newRand(40)
	x := newIndex(b, benchDim, vector.Options{})
	if err := x.Add("a", unit(r, benchDim)); err != nil {
		b.Fatal(err)
	}
	q := unit(r, benchDim)
	for b.Loop() {
		x.SearchExact(q, 1, nil)
	}
}

func BenchmarkExact(b *testing.B) {
	for _, n := range []int{10_000, 19_000, 100_000} {
		b.Run(strconv.Itoa(n/1000)+"k", func(b *testing.B) {
			r := newRand(41)
			x := newIndex(b, benchDim, vector.Options{ApproxThreshold: -1})
			randomData(r, n, benchDim).fill(b, x)
			qs := make([][]float32, 64)
			for i := range qs {
				qs[i] = unit(r, benchDim)
			}
			i := 0
			for b.Loop() {
				x.Search(qs[i%len(qs)], 10, nil)
				i++
			}
		})
	}
}

// hnsw100k is a 100k index of clustered vectors (random vectors of high
// dimension have no neighbourhood structure: the index declines a graph for
// them), built once for the benchmarks that share it.
var hnsw100k struct {
	once    sync.Once
	x       *vector.Index
	data    *dataset
	queries [][]float32
	build   time.Duration
}

func hnswIndex(b *testing.B) (*vector.Index, *dataset, [][]float32, time.Duration) {
	h := &hnsw100k
	h.once.Do(func() {
		r := newRand(42)
		spread := 1.36 / sqrtf(benchDim)
		d, centres := clusteredData(r, 100_000, benchDim, 100, spread)
		x := vector.NewIndex(benchDim, vector.Options{Seed: 1})
		start := time.Now()
		d.fill(b, x)
		vector.WaitBuild(x)
		h.build = time.Since(start)
		h.x, h.data = x, d
		for range 100 {
			h.queries = append(h.queries, near(r, centres[r.IntN(len(centres))], spread))
		}
	})
	if h.x == nil {
		b.Fatal("no index")
	}
	return h.x, h.data, h.queries, h.build
}

// BenchmarkHNSW reports search time; build-s is the time to add 100k
// vectors and finish the background graph, recall@10 is measured against
// exact search, B/vector is Bytes per vector.
func BenchmarkHNSW(b *testing.B) {
	b.Run("100k", func(b *testing.B) {
		x, _, qs, build := hnswIndex(b)
		st := x.Stats()
		if !st.Approximate {
			b.Fatalf("no graph: %+v", st)
		}
		var rec float64
		for _, q := range qs {
			want := x.SearchExact(q, 10, nil)
			got := x.Search(q, 10, nil)
			ids := map[string]bool{}
			for _, h := range want {
				ids[h.ID] = true
			}
			for _, h := range got {
				if ids[h.ID] {
					rec++
				}
			}
		}
		i := 0
		for b.Loop() {
			x.Search(qs[i%len(qs)], 10, nil)
			i++
		}
		b.ReportMetric(build.Seconds(), "build-s")
		b.ReportMetric(rec/float64(10*len(qs)), "recall@10")
		b.ReportMetric(float64(st.EfSearch), "ef")
		b.ReportMetric(float64(st.Bytes)/float64(st.Len), "B/vector")
	})
}

// BenchmarkHNSWFiltered searches the 100k graph with a filter keeping 1%
// (answered by a scan of the kept ids) and 50% (through the graph).
func BenchmarkHNSWFiltered(b *testing.B) {
	for _, every := range []int{100, 2} {
		b.Run("1in"+strconv.Itoa(every), func(b *testing.B) {
			x, d, qs, _ := hnswIndex(b)
			kept := make(map[string]bool, len(d.ids)/every)
			for i, id := range d.ids {
				if i%every == 0 {
					kept[id] = true
				}
			}
			keep := func(id string) bool { return kept[id] }
			i := 0
			for b.Loop() {
				x.Search(qs[i%len(qs)], 10, keep)
				i++
			}
		})
	}
}

func BenchmarkAdd(b *testing.B) {
	// Inserting into a 20k graph, one vector at a time under the write lock.
	r := newRand(43)
	spread := 1.36 / sqrtf(benchDim)
	d, centres := clusteredData(r, 20_000, benchDim, 20, spread)
	x := newIndex(b, benchDim, vector.Options{ApproxThreshold: 10_000, Seed: 1})
	d.fill(b, x)
	vector.WaitBuild(x)
	vs := make([][]float32, 1000)
	for i := range vs {
		vs[i] = near(r, centres[r.IntN(len(centres))], spread)
	}
	i := 0
	for b.Loop() {
		if err := x.Add("new"+strconv.Itoa(i), vs[i%len(vs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
