package vector

import (
	"math"
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
	// 100-query estimate (about 0.007 at 0.95) and for questions harder
	// than the turned vectors: at 0.01, one 25k build of cycled LoCoMo
	// texts calibrated ef 48 at 0.961 and its questions got 0.949.
	calibrationMargin = 0.02
	// questionAngle is how far (in radians, 70°) calibration turns each
	// held-out vector, towards a random direction, to make a question-like
	// query. Questions are not like the memories they find: with the
	// built-in model, a LoCoMo question's nearest memory scores about 0.6
	// and its tenth 0.56, where a stored vector's neighbours score 0.8 to
	// 0.95; such queries sit away from the stored vectors, among near-ties,
	// where a graph search needs a wider beam. Beams calibrated on stored
	// vectors reached recall@10 0.98 on them and 0.52–0.76 on questions.
	// Turned by 70°, held-out vectors are at least as hard as those
	// questions at every beam that reaches 0.95 (docs/BENCHMARKS.md,
	// Throughput).
	questionAngle = 70 * math.Pi / 180
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

// efGrid is the beams calibration tries, in order: steps of about a
// quarter up to 512, since question-like queries need beams of 100 to 200
// at 100k vectors, where a step of a half would cost up to 50% more per
// search than needed.
var efGrid = [...]int{10, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 768, 1024, 1536, 2048}

// calibration is the outcome of measuring a graph's recall.
type calibration struct {
	ef     int     // the beam searches use
	recall float64 // recall@10 of question-like queries at ef (of held-out vectors when there are none)
	ok     bool    // false: no beam reached the target on held-out vectors cheaply enough
}

// calibrate measures recall@10 of the graph against an exact scan of its
// nodes for growing beams, with two sets of queries: the held-out vectors
// themselves, and question-like queries made from them (see
// questionAngle). The graph is declined (ok false) when no beam brings
// the held-out vectors to target at a cost under maxShare of a scan: the
// data has no neighbourhood structure a graph can use. Otherwise the beam
// is the first that brings the question-like queries to target as well,
// or, when none does under maxShare, the widest beam under it (the recall
// it measured is then below target, and Stats says so). With
// questions false (the pilot), only held-out vectors are measured. The
// graph may be concurrent, but no insert may run meanwhile. With no
// queries, any beam passes.
func (g *graph) calibrate(data []float32, held []uint32, target, maxShare float64, questions bool) calibration {
	var nodes []uint32
	for s, l := range g.levels {
		if l >= 0 {
			nodes = append(nodes, uint32(s))
		}
	}
	n := len(nodes)
	if len(held) == 0 || n <= 2*calibrationK {
		return calibration{ef: calibrationK, recall: 1, ok: true}
	}
	stored := make([][]float32, len(held))
	for i, s := range held {
		stored[i] = g.vec(data, s)
	}
	var asked [][]float32
	if questions {
		asked = make([][]float32, len(held))
		for i, v := range stored {
			asked[i] = turn(g, v, questionAngle)
		}
	}
	sets := [][][]float32{stored, asked}
	truths := [][]map[uint32]bool{g.truth(data, nodes, stored), g.truth(data, nodes, asked)}
	c := new(searchCtx)
	// measure returns recall@10 and whether the search stayed under
	// maxShare of a scan.
	measure := func(set int, ef int) (float64, bool) {
		found, dots := 0, 0
		for i, q := range sets[set] {
			c.dots = 0
			res := g.search(c, data, q, ef, nil)
			dots += c.dots
			for _, r := range res[:min(calibrationK, len(res))] {
				if truths[set][i][r.slot] {
					found++
				}
			}
		}
		return float64(found) / float64(len(sets[set])*calibrationK), float64(dots)/float64(len(sets[set])) <= maxShare*float64(n)
	}
	var cal calibration
	i := 0
	for ; i < len(efGrid); i++ {
		rec, cheap := measure(0, efGrid[i])
		cal = calibration{ef: efGrid[i], recall: rec}
		if !cheap {
			return cal
		}
		if rec >= target {
			cal.ok = true
			break
		}
	}
	if !cal.ok || !questions {
		return cal
	}
	for ; i < len(efGrid); i++ {
		rec, cheap := measure(1, efGrid[i])
		if !cheap {
			break
		}
		cal.ef, cal.recall = efGrid[i], rec
		if rec >= target {
			break
		}
	}
	return cal
}

// turn returns v turned by angle towards a random direction orthogonal
// to it, at unit length.
func turn(g *graph, v []float32, angle float64) []float32 {
	u := make([]float32, len(v))
	var along float64
	for j := range u {
		u[j] = float32(g.rng.NormFloat64())
		along += float64(u[j]) * float64(v[j])
	}
	var norm float64
	for j := range u {
		u[j] -= float32(along) * v[j]
		norm += float64(u[j]) * float64(u[j])
	}
	cs, sn := math.Cos(angle), math.Sin(angle)/math.Sqrt(norm)
	q := make([]float32, len(v))
	for j := range q {
		q[j] = float32(cs*float64(v[j]) + sn*float64(u[j]))
	}
	return q
}

// truth returns, for each query, the set of its exact top-10 among nodes;
// the scans run on every CPU.
func (g *graph) truth(data []float32, nodes []uint32, queries [][]float32) []map[uint32]bool {
	truth := make([]map[uint32]bool, len(queries))
	workers := min(runtime.GOMAXPROCS(0), len(queries))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(queries); i += workers {
				q := queries[i]
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
