package vector

import (
	"runtime"
	"slices"
	"strings"
	"sync"
)

const (
	// parallelScanMin is the number of slots from which an exact scan is
	// split across GOMAXPROCS goroutines. From 8,192 vectors of the
	// built-in model's 512 dimensions a scan reads 16 MB and takes over a
	// millisecond, against microseconds to start the goroutines; at 32,768
	// as before, the scans just below the graph's threshold (20,000) ran on
	// one core, and those were the slowest searches of all sizes.
	parallelScanMin = 1 << 13
	// filterSamples is how many stored ids a filtered search tests to
	// estimate the share of the index the filter keeps.
	filterSamples = 128
	// exactBelow: a filter keeping less than this share of the index is
	// answered by an exact scan of the kept vectors; the graph would have
	// to visit about 1/share times more nodes to find k of them.
	exactBelow = 0.1
	// maxEfBoost bounds how much a filtered graph search widens its beam.
	maxEfBoost = 8
)

// Search returns the k stored vectors most similar to q (by dot product),
// best first, ties by id. With keep non-nil, only ids it accepts are
// returned, and up to k of them are: a selective filter is answered by an
// exact scan of the vectors it keeps. keep may be called concurrently from
// several goroutines while Search runs. Search is exact below the
// approximate threshold, while the first graph is being built, and when
// the graph was declined; otherwise it is approximate (see
// Options.EfSearch). Search returns nil when k < 1, or when q is not of the
// index's dimension or has a non-finite component.
func (x *Index) Search(q []float32, k int, keep func(id string) bool) []Hit {
	if k < 1 || len(q) != x.dim || !finite(q) {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.g == nil || x.live <= k {
		return x.exact(q, k, keep)
	}
	ef := max(x.cal.ef, k)
	if keep != nil {
		share := x.sampleShare(keep)
		if share < exactBelow {
			return x.exact(q, k, keep)
		}
		ef = min(int(float64(ef)/share)+1, maxEfBoost*ef)
	}
	if hits := x.approx(q, k, ef, keep); len(hits) == k {
		return hits
	}
	// Fewer than k: the graph missed kept vectors, or there are fewer than
	// k of them; the scan settles which.
	return x.exact(q, k, keep)
}

// SearchExact is Search by an exhaustive scan, whatever the index's size.
func (x *Index) SearchExact(q []float32, k int, keep func(id string) bool) []Hit {
	if k < 1 || len(q) != x.dim || !finite(q) {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.exact(q, k, keep)
}

// approx searches the graph. Called with x.mu held.
func (x *Index) approx(q []float32, k, ef int, keep func(string) bool) []Hit {
	accept := func(s uint32) bool { return x.alive[s] }
	if keep != nil {
		accept = func(s uint32) bool { return x.alive[s] && keep(x.ids[s]) }
	}
	c := x.ctx()
	defer x.ctxs.Put(c)
	found := x.g.search(c, x.data, q, ef, accept)
	return x.hits(found[:min(k, len(found))])
}

// exact scans every slot. Called with x.mu held.
func (x *Index) exact(q []float32, k int, keep func(string) bool) []Hit {
	n := len(x.ids)
	workers := runtime.GOMAXPROCS(0)
	if n < parallelScanMin || workers < 2 {
		var h minHeap = make([]cand, 0, min(k, x.live))
		x.scan(&h, q, k, 0, n, keep)
		return x.hits(h)
	}
	parts := make([]minHeap, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { x.scan(&parts[w], q, k, lo, hi, keep) })
	}
	wg.Wait()
	h := parts[0]
	for _, p := range parts[1:] {
		for _, c := range p {
			h.offer(c, k)
		}
	}
	return x.hits(h)
}

// scan offers slots [lo, hi) to the top-k set h.
func (x *Index) scan(h *minHeap, q []float32, k, lo, hi int, keep func(string) bool) {
	dim := x.dim
	data := x.data[lo*dim : hi*dim]
	alive := x.alive[lo:hi]
	for i, ok := range alive {
		if !ok {
			continue
		}
		s := lo + i
		if keep != nil && !keep(x.ids[s]) {
			continue
		}
		v := data[i*dim : i*dim+dim]
		sim := dot(q, v)
		if len(*h) < k {
			h.push(cand{sim, uint32(s)})
		} else if sim > (*h)[0].sim {
			h.replaceTop(cand{sim, uint32(s)})
		}
	}
}

// hits turns candidates into hits, best first, ties by id.
func (x *Index) hits(cs []cand) []Hit {
	out := make([]Hit, len(cs))
	for i, c := range cs {
		out[i] = Hit{ID: x.ids[c.slot], Score: c.sim}
	}
	slices.SortFunc(out, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// sampleShare estimates the share of live vectors keep accepts by testing
// up to filterSamples slots drawn by a fixed pseudo-random sequence (fixed,
// so a query's plan does not change from call to call). Called with x.mu
// held.
func (x *Index) sampleShare(keep func(string) bool) float64 {
	n := uint64(len(x.ids))
	if n == 0 {
		return 0
	}
	seen, kept := 0, 0
	r := uint64(0x853c49e6748fea9b)
	for range 4 * filterSamples {
		if seen == filterSamples {
			break
		}
		r ^= r << 13 // xorshift64
		r ^= r >> 7
		r ^= r << 17
		s := r % n
		if !x.alive[s] {
			continue
		}
		seen++
		if keep(x.ids[s]) {
			kept++
		}
	}
	if seen == 0 {
		return 0
	}
	return float64(kept) / float64(seen)
}

// Recall returns the mean recall@k of Search against SearchExact over
// queries, unfiltered: the share of each exact top k that Search finds.
// Benchmarks use it to report what real queries get from the index.
func (x *Index) Recall(queries [][]float32, k int) float64 {
	var sum float64
	n := 0
	for _, q := range queries {
		want := x.SearchExact(q, k, nil)
		if len(want) == 0 {
			continue
		}
		ids := make(map[string]bool, len(want))
		for _, h := range want {
			ids[h.ID] = true
		}
		found := 0
		for _, h := range x.Search(q, k, nil) {
			if ids[h.ID] {
				found++
			}
		}
		sum += float64(found) / float64(len(want))
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
