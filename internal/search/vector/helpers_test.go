package vector_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/engram-memory/engram/internal/search/vector"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)) }

// unit returns a random unit vector (normalised Gaussian: uniform on the
// sphere).
func unit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return normalize(v)
}

func normalize(v []float32) []float32 {
	var n float64
	for _, f := range v {
		n += float64(f) * float64(f)
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

// near returns a unit vector around c: c plus Gaussian noise of the given
// spread per component, normalised.
func near(r *rand.Rand, c []float32, spread float64) []float32 {
	v := make([]float32, len(c))
	for i := range v {
		v[i] = c[i] + float32(spread*r.NormFloat64())
	}
	return normalize(v)
}

// dataset is a set of vectors with ids "v0", "v1", ….
type dataset struct {
	ids  []string
	vecs [][]float32
}

func randomData(r *rand.Rand, n, dim int) *dataset {
	d := &dataset{}
	for i := range n {
		d.ids = append(d.ids, "v"+strconv.Itoa(i))
		d.vecs = append(d.vecs, unit(r, dim))
	}
	return d
}

// clusteredData draws n vectors around the given number of random centres.
// With spread s per component the typical in-cluster similarity is about
// 1/(1+dim·s²), so neighbours are near-ties inside dense clusters: harder
// for a graph than uniform data.
func clusteredData(r *rand.Rand, n, dim, clusters int, spread float64) (*dataset, [][]float32) {
	centres := make([][]float32, clusters)
	for i := range centres {
		centres[i] = unit(r, dim)
	}
	d := &dataset{}
	for i := range n {
		d.ids = append(d.ids, "v"+strconv.Itoa(i))
		d.vecs = append(d.vecs, near(r, centres[r.IntN(clusters)], spread))
	}
	return d, centres
}

func (d *dataset) fill(t testing.TB, x *vector.Index) {
	t.Helper()
	for i, id := range d.ids {
		if err := x.Add(id, d.vecs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func newIndex(t testing.TB, dim int, o vector.Options) *vector.Index {
	x := vector.NewIndex(dim, o)
	t.Cleanup(x.Close)
	return x
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

type scored struct {
	id    string
	score float64
}

// brute is the reference: every live vector scored in float64, best first.
func brute(vecs map[string][]float32, q []float32, k int, keep func(string) bool) []scored {
	var all []scored
	for id, v := range vecs {
		if keep == nil || keep(id) {
			all = append(all, scored{id, dot64(q, v)})
		}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		if a.id < b.id {
			return -1
		}
		return 1
	})
	return all[:min(k, len(all))]
}

func (d *dataset) asMap() map[string][]float32 {
	m := make(map[string][]float32, len(d.ids))
	for i, id := range d.ids {
		m[id] = d.vecs[i]
	}
	return m
}

// checkExact fails unless got is an exact top-k answer: as many hits as
// want, each position's score equal to the reference's (float32 rounding
// aside), every hit's true score among the top k, no duplicates, best
// first.
func checkExact(t *testing.T, got []vector.Hit, want []scored, vecs map[string][]float32, q []float32) {
	t.Helper()
	const tol = 1e-5
	if len(got) != len(want) {
		t.Fatalf("got %d hits, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for i, h := range got {
		if seen[h.ID] {
			t.Fatalf("duplicate hit %q", h.ID)
		}
		seen[h.ID] = true
		v, ok := vecs[h.ID]
		if !ok {
			t.Fatalf("hit %q is not stored", h.ID)
		}
		if math.Abs(float64(h.Score)-dot64(q, v)) > tol {
			t.Fatalf("hit %q score %v, its vector scores %v", h.ID, h.Score, dot64(q, v))
		}
		if math.Abs(float64(h.Score)-want[i].score) > tol {
			t.Fatalf("hit %d: %q %v, want %q %v", i, h.ID, h.Score, want[i].id, want[i].score)
		}
		if i > 0 && got[i-1].Score < h.Score {
			t.Fatalf("hits not best first at %d", i)
		}
	}
}

// recall is the share of the true top-k ids that got holds.
func recall(got []vector.Hit, want []scored) float64 {
	if len(want) == 0 {
		return 1
	}
	ids := map[string]bool{}
	for _, h := range got {
		ids[h.ID] = true
	}
	n := 0
	for _, w := range want {
		if ids[w.id] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

func sqrtf(n int) float64 { return math.Sqrt(float64(n)) }
