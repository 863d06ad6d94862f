package vector

import (
	"runtime"
	"sync"
)

const (
	// calibrationK is the k of the recall@k that calibration measures.
	calibrationK = 10
	// calibrationSamples is how many stored vectors, held out of the graph
	// until it is measured, serve as queries.
	calibrationSamples = 100
	// calibrationMargin is added to the target recall, for the error of a
	// 100-query estimate (about 0.007 at 0.95) and for queries unlike the
	// stored vectors.
	calibrationMargin = 0.02
	// maxCostShare: a graph whose search must compute more than this share
	// of an exhaustive scan's similarities to reach the target recall is
	// declined. Graph steps cost more than scan steps (random access,
	// heaps), so at a third the graph is only modestly faster.
	maxCostShare = 1.0 / 3
	// pilotNodes: a build calibrates the graph once this many nodes
	// are in (when it will hold at least twice as many), and gives up
	// early when even this small graph is hopeless: on data without
	// neighbourhood structure (uniformly random vectors of high dimension,
	// where near neighbours are barely nearer than anything else) no graph
	// beats a scan, and building one costs more the larger the data.
	pilotNodes = 4096
	// pilotCostShare is the pilot's lenient threshold: a graph's relative
	// cost falls as it grows, since a search visits about log(n) nodes per
	// layer step.
	pilotCostShare = 0.6
)

// efGrid is the beams calibration tries, in order.
var efGrid = [...]int{10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048}

// calibration is the outcome of measuring a graph's recall.
type calibration struct {
	ef     int     // the smallest beam that reached the target
	recall float64 // recall@10 measured at ef
	ok     bool    // false: no beam reached it cheaply enough
}

// calibrate measures recall@10 of the graph against an exact scan of its
// nodes, with the held-out vectors as queries, for growing beams, and
// returns the first beam whose recall reaches target at a cost under
// maxShare of a scan. The graph may be concurrent, but no insert may run
// meanwhile. With no queries, any beam passes.
func (g *graph) calibrate(data []float32, queries []uint32, target, maxShare float64) calibration {
	var nodes []uint32
	for s, l := range g.levels {
		if l >= 0 {
			nodes = append(nodes, uint32(s))
		}
	}
	n := len(nodes)
	if len(queries) == 0 || n <= 2*calibrationK {
		return calibration{ef: calibrationK, recall: 1, ok: true}
	}
	truth := g.truth(data, nodes, queries)
	c := new(searchCtx)
	var cal calibration
	for _, ef := range efGrid {
		found, dots := 0, 0
		for i, s := range queries {
			c.dots = 0
			res := g.search(c, data, g.vec(data, s), ef, nil)
			dots += c.dots
			for _, r := range res[:min(calibrationK, len(res))] {
				if truth[i][r.slot] {
					found++
				}
			}
		}
		cal = calibration{ef: ef, recall: float64(found) / float64(len(queries)*calibrationK)}
		if float64(dots)/float64(len(queries)) > maxShare*float64(n) {
			return cal
		}
		if cal.recall >= target {
			cal.ok = true
			return cal
		}
	}
	return cal
}

// truth returns, for each query, the set of its exact top-10 among nodes;
// the scans run on every CPU.
func (g *graph) truth(data []float32, nodes, samples []uint32) []map[uint32]bool {
	truth := make([]map[uint32]bool, len(samples))
	workers := min(runtime.GOMAXPROCS(0), len(samples))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(samples); i += workers {
				s := samples[i]
				q := g.vec(data, s)
				h := make(minHeap, 0, calibrationK)
				for _, o := range nodes {
					h.offer(cand{dot(q, g.vec(data, o)), o}, calibrationK)
				}
				truth[i] = make(map[uint32]bool, len(h))
				for _, c := range h {
					truth[i][c.slot] = true
				}
			}
		})
	}
	wg.Wait()
	return truth
}
