package vector_test

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/search/vector"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// graphOpts makes an index go approximate above threshold with a fixed
// beam, so tests of graph behaviour do not depend on calibration.
func graphOpts(threshold int) vector.Options {
	return vector.Options{ApproxThreshold: threshold, EfSearch: 64, Seed: 7}
}

// sized scales a graph test's data set: the detector slows graph building
// about tenfold, and the behaviour under test does not depend on size.
func sized(n int) int {
	if raceEnabled {
		return n * 2 / 5
	}
	return n
}

// approximate builds d into a graph-backed index and waits for the graph.
func approximate(t *testing.T, d *dataset, dim int) *vector.Index {
	t.Helper()
	x := newIndex(t, dim, graphOpts(len(d.ids)/4))
	d.fill(t, x)
	vector.WaitBuild(x)
	if st := x.Stats(); !st.Approximate {
		t.Fatalf("no graph: %+v", st)
	}
	return x
}

func TestExactMatchesBruteForce(t *testing.T) {
	for _, dim := range []int{1, 7, 16, 37, 128} {
		t.Run(strconv.Itoa(dim), func(t *testing.T) {
			r := newRand(uint64(dim))
			d := randomData(r, 1500, dim)
			x := newIndex(t, dim, vector.Options{})
			d.fill(t, x)
			m := d.asMap()
			for i := range 20 {
				q := unit(r, dim)
				for _, k := range []int{1, 10, 100, 2000} {
					want := brute(m, q, k, nil)
					checkExact(t, x.Search(q, k, nil), want, m, q)
					checkExact(t, x.SearchExact(q, k, nil), want, m, q)
				}
				if i == 0 && x.Stats().Approximate {
					t.Fatal("approximate below the threshold")
				}
			}
		})
	}
}

func TestExactParallelScan(t *testing.T) {
	n := 40000 // above the parallel scan threshold
	if raceEnabled {
		n = 33000
	}
	r := newRand(2)
	d := randomData(r, n, 8)
	x := newIndex(t, 8, vector.Options{ApproxThreshold: -1})
	d.fill(t, x)
	m := d.asMap()
	for range 5 {
		q := unit(r, 8)
		checkExact(t, x.Search(q, 25, nil), brute(m, q, 25, nil), m, q)
	}
}

func TestEmpty(t *testing.T) {
	x := newIndex(t, 4, vector.Options{})
	if got := x.Search([]float32{1, 0, 0, 0}, 5, nil); len(got) != 0 {
		t.Fatalf("empty index returned %v", got)
	}
	if x.Len() != 0 {
		t.Fatal("Len of empty index")
	}
	x.Remove("absent")
}

func TestAddErrors(t *testing.T) {
	x := newIndex(t, 3, vector.Options{})
	for _, v := range [][]float32{nil, {1, 0}, {1, 0, 0, 0}} {
		if err := x.Add("a", v); !errors.Is(err, vector.ErrDimension) {
			t.Errorf("Add of %d components: %v, want ErrDimension", len(v), err)
		}
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, v := range [][]float32{{nan, 0, 0}, {0, inf, 0}, {0, 0, -inf}} {
		if err := x.Add("a", v); !errors.Is(err, vector.ErrInvalid) {
			t.Errorf("Add of %v: %v, want ErrInvalid", v, err)
		}
	}
	if err := x.Add("", []float32{1, 0, 0}); !errors.Is(err, vector.ErrInvalid) {
		t.Errorf("Add with empty id: %v, want ErrInvalid", err)
	}
	if x.Len() != 0 {
		t.Fatalf("failed adds stored %d vectors", x.Len())
	}
	if err := x.Add("a", []float32{1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if got := x.Search([]float32{1, 0}, 3, nil); got != nil {
		t.Fatalf("query of wrong dimension returned %v", got)
	}
	if got := x.Search([]float32{1, 0, 0}, 0, nil); got != nil {
		t.Fatalf("k = 0 returned %v", got)
	}
	if got := x.Search([]float32{nan, 0, 0}, 1, nil); got != nil {
		t.Fatalf("query with NaN returned %v", got)
	}
}

// removeCase checks that removed ids vanish from every kind of search at
// once, even when the query is the removed vector itself.
func removeCase(t *testing.T, x *vector.Index, d *dataset) {
	t.Helper()
	removed := map[string]bool{}
	for i := 0; i < len(d.ids); i += 7 {
		x.Remove(d.ids[i])
		removed[d.ids[i]] = true
		for _, h := range x.Search(d.vecs[i], 10, nil) {
			if removed[h.ID] {
				t.Fatalf("Search returned %s right after its removal", h.ID)
			}
		}
	}
	if want := len(d.ids) - len(removed); x.Len() != want {
		t.Fatalf("Len %d, want %d", x.Len(), want)
	}
	all := func(string) bool { return true }
	for i, id := range d.ids {
		if !removed[id] {
			continue
		}
		for _, hs := range [][]vector.Hit{x.Search(d.vecs[i], 10, nil), x.Search(d.vecs[i], 10, all), x.SearchExact(d.vecs[i], 10, nil)} {
			for _, h := range hs {
				if removed[h.ID] {
					t.Fatalf("removed %s returned", h.ID)
				}
			}
		}
		x.Remove(id) // again: a no-op
	}
}

func TestRemoveExact(t *testing.T) {
	d := randomData(newRand(3), 700, 16)
	x := newIndex(t, 16, vector.Options{})
	d.fill(t, x)
	removeCase(t, x, d)
}

func TestRemoveGraph(t *testing.T) {
	d := randomData(newRand(4), sized(2000), 16)
	x := approximate(t, d, 16)
	removeCase(t, x, d)
}

func replaceCase(t *testing.T, x *vector.Index, d *dataset, dim int) {
	t.Helper()
	r := newRand(5)
	n := x.Len()
	for i := 0; i < len(d.ids); i += 50 {
		old := d.vecs[i]
		v := unit(r, dim)
		if err := x.Add(d.ids[i], v); err != nil {
			t.Fatal(err)
		}
		d.vecs[i] = v
		if x.Len() != n {
			t.Fatalf("replacing changed Len to %d", x.Len())
		}
		hits := x.Search(v, 1, nil)
		if len(hits) != 1 || hits[0].ID != d.ids[i] || hits[0].Score < 0.999 {
			t.Fatalf("new vector of %s not found first: %v", d.ids[i], hits)
		}
		for _, h := range x.Search(old, 5, nil) {
			if h.ID == d.ids[i] && h.Score > 0.999 {
				t.Fatalf("old vector of %s still found", d.ids[i])
			}
		}
	}
	m := d.asMap()
	q := unit(r, dim)
	checkExact(t, x.SearchExact(q, 20, nil), brute(m, q, 20, nil), m, q)
}

func TestReplaceExact(t *testing.T) {
	d := randomData(newRand(6), 500, 16)
	x := newIndex(t, 16, vector.Options{})
	d.fill(t, x)
	replaceCase(t, x, d, 16)
}

func TestReplaceGraph(t *testing.T) {
	d := randomData(newRand(7), sized(2000), 16)
	x := approximate(t, d, 16)
	replaceCase(t, x, d, 16)
}

// filterCase checks that a filter keeping share of the ids yields k kept
// hits, exactly the best kept ones when the filter is selective.
func filterCase(t *testing.T, x *vector.Index, d *dataset, dim int, every int, exact bool) {
	t.Helper()
	r := newRand(8)
	m := d.asMap()
	keep := func(id string) bool {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "v"))
		return n%every == 0
	}
	var rec float64
	const queries = 30
	for range queries {
		q := unit(r, dim)
		want := brute(m, q, 10, keep)
		got := x.Search(q, 10, keep)
		if len(got) != len(want) {
			t.Fatalf("filter keeping 1/%d: %d hits, want %d", every, len(got), len(want))
		}
		for _, h := range got {
			if !keep(h.ID) {
				t.Fatalf("hit %s does not pass the filter", h.ID)
			}
		}
		if exact {
			checkExact(t, got, want, m, q)
		}
		rec += recall(got, want)
	}
	if rec /= queries; rec < 0.9 {
		t.Fatalf("filter keeping 1/%d: recall %.3f", every, rec)
	}
	// A filter keeping fewer than k ids yields all of them.
	few := func(id string) bool { return id == d.ids[3] || id == d.ids[len(d.ids)-1] }
	if got := x.Search(unit(r, dim), 10, few); len(got) != 2 {
		t.Fatalf("filter keeping 2 ids: %d hits", len(got))
	}
	if got := x.Search(unit(r, dim), 10, func(string) bool { return false }); len(got) != 0 {
		t.Fatalf("filter keeping nothing: %d hits", len(got))
	}
}

func TestFilterExact(t *testing.T) {
	d := randomData(newRand(9), 3000, 16)
	x := newIndex(t, 16, vector.Options{})
	d.fill(t, x)
	filterCase(t, x, d, 16, 100, true)
	filterCase(t, x, d, 16, 2, true)
}

func TestFilterGraph(t *testing.T) {
	d := randomData(newRand(10), sized(5000), 16)
	x := approximate(t, d, 16)
	filterCase(t, x, d, 16, 100, true) // 1%: scanned exactly
	filterCase(t, x, d, 16, 50, true)  // 2%
	filterCase(t, x, d, 16, 2, false)  // 50%: through the graph
}

func TestRebuildAfterRemovals(t *testing.T) {
	r := newRand(11)
	n := sized(3000)
	d := randomData(r, n, 16)
	x := approximate(t, d, 16)
	for i := range n / 3 { // a third: past the rebuild point
		x.Remove(d.ids[i])
	}
	vector.WaitBuild(x)
	st := x.Stats()
	if !st.Approximate || st.Tombstones > n*2/15 || st.Len != n-n/3 {
		t.Fatalf("after removing a third: %+v", st)
	}
	// Reclaimed slots are reused.
	for i := range n / 3 {
		if err := x.Add(d.ids[i], d.vecs[i]); err != nil {
			t.Fatal(err)
		}
	}
	vector.WaitBuild(x)
	if st := x.Stats(); st.Slots > n+n*2/15 {
		t.Fatalf("slots not reused: %+v", st)
	}
	m := d.asMap()
	var rec float64
	for range 50 {
		q := unit(r, 16)
		rec += recall(x.Search(q, 10, nil), brute(m, q, 10, nil))
	}
	if rec /= 50; rec < 0.95 {
		t.Fatalf("recall after rebuild %.3f", rec)
	}
}

// Vectors added during a rebuild, into slots freed by the previous one,
// are in the new graph.
func TestAddDuringRebuild(t *testing.T) {
	n, dim := 4000, 64
	if raceEnabled {
		n, dim = 1000, 32
	}
	r := newRand(18)
	d := randomData(r, n, dim)
	x := approximate(t, d, dim)
	for _, id := range d.ids[:n/4] { // past a fifth: a rebuild frees them
		x.Remove(id)
	}
	vector.WaitBuild(x)
	if st := x.Stats(); st.Building || st.Slots != n {
		t.Fatalf("after the first rebuild: %+v", st)
	}
	// Just enough removals to start another rebuild, which ends with few
	// tombstones, so that no third rebuild follows to mend its omissions.
	for _, id := range d.ids[n/4:] {
		x.Remove(id)
		if x.Stats().Building {
			break
		}
	}
	added := randomData(r, n/8, dim)
	for i, id := range added.ids {
		if err := x.Add("new"+id, added.vecs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !x.Stats().Building {
		t.Log("the rebuild ended before the adds did")
	}
	vector.WaitBuild(x)
	st := x.Stats()
	if !st.Approximate || st.Slots != n {
		t.Fatalf("freed slots not reused: %+v", st)
	}
	for i, id := range added.ids {
		hits := x.Search(added.vecs[i], 1, nil)
		if len(hits) != 1 || hits[0].ID != "new"+id {
			t.Fatalf("vector added during the rebuild not found: %v", hits)
		}
	}
}

func TestShrinkBackToExact(t *testing.T) {
	n := sized(2000)
	d := randomData(newRand(12), n, 8)
	x := approximate(t, d, 8)
	gone := d.ids[:n*9/10]
	for _, id := range gone {
		x.Remove(id)
	}
	vector.WaitBuild(x)
	if st := x.Stats(); st.Approximate || st.Len != n-len(gone) {
		t.Fatalf("index of %d still approximate: %+v", n-len(gone), st)
	}
	m := d.asMap()
	for _, id := range gone {
		delete(m, id)
	}
	q := unit(newRand(1), 8)
	checkExact(t, x.Search(q, 10, nil), brute(m, q, 10, nil), m, q)
}

// Removed vectors are zeroed when their slot is freed, and Close zeroes
// everything: embeddings can be inverted back to text.
func TestWipe(t *testing.T) {
	d := randomData(newRand(13), 100, 8)
	x := newIndex(t, 8, vector.Options{})
	d.fill(t, x)
	for _, id := range d.ids {
		x.Remove(id)
	}
	for i, f := range vector.Storage(x) {
		if f != 0 {
			t.Fatalf("removed vector left at %d", i)
		}
	}
	d.fill(t, x)
	raw := vector.Storage(x)
	x.Close()
	for i, f := range raw {
		if f != 0 {
			t.Fatalf("closed index left data at %d", i)
		}
	}
	if err := x.Add("a", d.vecs[0]); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if got := x.Search(d.vecs[0], 3, nil); len(got) != 0 || x.Len() != 0 {
		t.Fatalf("closed index answered %v", got)
	}
	x.Close()
}

func allZero(fs []float32) bool {
	for _, f := range fs {
		if f != 0 {
			return false
		}
	}
	return true
}

// An index dropped without Close (evicted, say) is zeroed when collected;
// arrays the storage outgrows are zeroed at once.
func TestCollectedIndexWiped(t *testing.T) {
	d := randomData(newRand(17), 500, 8)
	x := vector.NewIndex(8, vector.Options{})
	if err := x.Add(d.ids[0], d.vecs[0]); err != nil {
		t.Fatal(err)
	}
	small := vector.Storage(x)
	d.fill(t, x)
	if !allZero(small) {
		t.Fatal("outgrown storage left its vectors")
	}
	raw := vector.Storage(x)
	x = nil
	for i := 0; i < 100 && !allZero(raw); i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if !allZero(raw) {
		t.Fatal("collected index left its vectors")
	}
}

func TestCloseDuringBuild(t *testing.T) {
	d := randomData(newRand(14), 3000, 32)
	x := vector.NewIndex(32, graphOpts(500))
	d.fill(t, x)
	raw := vector.Storage(x)
	x.Close() // stops the build; goleak checks it ended
	for i, f := range raw {
		if f != 0 {
			t.Fatalf("closed index left data at %d", i)
		}
	}
}

func TestConcurrent(t *testing.T) {
	const dim = 16
	ops := 3000
	if raceEnabled {
		ops = 1200
	}
	x := newIndex(t, dim, graphOpts(300))
	base := randomData(newRand(15), 600, dim)
	base.fill(t, x)

	var wg sync.WaitGroup
	for w := range 2 { // adders, over a shared id space so they replace
		wg.Go(func() {
			r := newRand(uint64(100 + w))
			for i := range ops {
				if err := x.Add(fmt.Sprintf("c%d", (i*7+w)%900), unit(r, dim)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() { // remover
		for i := range ops {
			x.Remove(fmt.Sprintf("c%d", (i*13)%900))
			if i%3 == 0 {
				x.Remove(base.ids[i%len(base.ids)])
			}
		}
	})
	for w := range 3 { // searchers
		wg.Go(func() {
			r := newRand(uint64(200 + w))
			for i := range ops / 2 {
				var keep func(string) bool
				if i%2 == 0 {
					keep = func(id string) bool { return strings.HasPrefix(id, "c") }
				}
				hits := x.Search(unit(r, dim), 10, keep)
				seen := map[string]bool{}
				for j, h := range hits {
					if seen[h.ID] || (keep != nil && !keep(h.ID)) || (j > 0 && hits[j-1].Score < h.Score) {
						t.Errorf("bad hits %v", hits)
						return
					}
					seen[h.ID] = true
				}
				_ = x.Len()
				_ = x.Bytes()
			}
		})
	}
	wg.Wait()
	vector.WaitBuild(x)

	t.Logf("after the storm: %+v", x.Stats())
	n := x.Len()
	if st := x.Stats(); st.Len != n || n == 0 {
		t.Fatalf("stats %+v", st)
	}
	r := newRand(16)
	for range 20 {
		q := unit(r, dim)
		a, b := x.Search(q, n+5, nil), x.SearchExact(q, n+5, nil)
		if len(a) != n || len(b) != n {
			t.Fatalf("full searches returned %d and %d of %d", len(a), len(b), n)
		}
	}
}

func TestVector(t *testing.T) {
	x := newIndex(t, 3, vector.Options{})
	if err := x.Add("a", []float32{1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	v, ok := x.Vector("a")
	if !ok || len(v) != 3 || v[0] != 1 || v[1] != 0 || v[2] != 0 {
		t.Fatalf("Vector(a) = %v, %v", v, ok)
	}
	v[0] = 5 // a copy: the index must not change
	if w, _ := x.Vector("a"); w[0] != 1 {
		t.Fatalf("Vector returned the index's storage: %v", w)
	}
	x.Remove("a")
	if _, ok := x.Vector("a"); ok {
		t.Fatal("a removed vector is still returned")
	}
	if _, ok := x.Vector("never"); ok {
		t.Fatal("an unknown id has a vector")
	}
}

// TestReserve: room reserved ahead changes nothing an index answers.
func TestReserve(t *testing.T) {
	x := vector.NewIndex(4, vector.Options{})
	defer x.Close()
	x.Reserve(3)
	vs := map[string][]float32{"a": {1, 0, 0, 0}, "b": {0, 1, 0, 0}, "c": {0, 0, 1, 0}, "d": {0, 0, 0, 1}}
	for _, id := range []string{"a", "b"} {
		if err := x.Add(id, vs[id]); err != nil {
			t.Fatal(err)
		}
	}
	x.Reserve(10) // again, with vectors in
	for _, id := range []string{"c", "d"} {
		if err := x.Add(id, vs[id]); err != nil {
			t.Fatal(err)
		}
	}
	x.Remove("b")
	if x.Len() != 3 {
		t.Fatalf("Len = %d, want 3", x.Len())
	}
	for id, want := range vs {
		got, ok := x.Vector(id)
		if ok != (id != "b") || (ok && !slices.Equal(got, want)) {
			t.Fatalf("Vector(%s) = %v, %v", id, got, ok)
		}
	}
}
