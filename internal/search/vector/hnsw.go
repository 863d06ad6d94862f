package vector

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// graph is a Hierarchical Navigable Small World graph (Malkov & Yashunin,
// "Efficient and robust approximate nearest neighbor search using
// Hierarchical Navigable Small World graphs", 2018) over an index's slots:
// node s is slot s, and its vector is read from the index's contiguous
// storage, so the graph holds links only.
//
// Deleted slots stay in the graph as tombstones: searches route through them
// but never return them, and the index neither reuses nor wipes their
// storage until a rebuild has produced a graph without them.
type graph struct {
	dim   int
	m, m0 int // links per node on layers ≥ 1, on layer 0
	efc   int
	ml    float64 // level multiplier, 1/ln(M)
	rng   *rand.Rand

	levels []int8   // per slot: the node's top layer, -1 when the slot is not a node
	l0     []uint32 // layer-0 links, m0 per slot
	l0n    []uint8  // layer-0 link counts
	upOff  []int32  // per slot: offset in up of its layers 1..level, -1 when none
	up     []uint32 // per node and layer ≥ 1: a count followed by m links

	entry    int64 // entry node, -1 while empty
	maxLevel int
	nodes    int

	// concurrent is set while several builder goroutines insert at once:
	// link lists are then read and written under stripe locks, and the entry
	// point and node count under mu. A published graph is mutated only under
	// the index's write lock and read under its read lock, so it needs
	// neither. It is changed only while no goroutine uses the graph.
	concurrent bool
	mu         sync.Mutex
	stripes    [256]sync.Mutex
}

// maxLevelCap bounds node levels; with M ≥ 2 a level above it has a
// probability below 2^-16 per node.
const maxLevelCap = 16

func newGraph(dim int, o Options, seed uint64) *graph {
	return &graph{
		dim:   dim,
		m:     o.M,
		m0:    2 * o.M,
		efc:   o.EfConstruction,
		ml:    1 / math.Log(float64(o.M)),
		rng:   rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		entry: -1,
	}
}

// grow makes room for slots [0, n).
func (g *graph) grow(n int) {
	old := len(g.levels)
	if n <= old {
		return
	}
	g.levels = slices.Grow(g.levels, n-old)[:n]
	g.l0n = slices.Grow(g.l0n, n-old)[:n]
	g.upOff = slices.Grow(g.upOff, n-old)[:n]
	for s := old; s < n; s++ {
		g.levels[s] = -1
		g.l0n[s] = 0
		g.upOff[s] = -1
	}
	l0 := n * g.m0
	g.l0 = slices.Grow(g.l0, l0-len(g.l0))[:l0]
}

// has reports whether slot s is a node (live or tombstone).
func (g *graph) has(s uint32) bool {
	return int(s) < len(g.levels) && g.levels[s] >= 0
}

// place draws slot s's level and reserves its links; s must not be a node.
// It is called by one goroutine at a time, before s is inserted.
func (g *graph) place(s uint32) {
	level := min(int(-math.Log(1-g.rng.Float64())*g.ml), maxLevelCap)
	g.levels[s] = int8(level)
	g.l0n[s] = 0
	g.upOff[s] = -1
	if level > 0 {
		g.upOff[s] = int32(len(g.up))
		g.up = append(g.up, make([]uint32, level*(g.m+1))...)
	}
}

// bytes is the graph's approximate footprint.
func (g *graph) bytes() int64 {
	return int64(cap(g.levels)+cap(g.l0n)) + 4*int64(cap(g.l0)+cap(g.upOff)+cap(g.up))
}

func (g *graph) vec(data []float32, s uint32) []float32 {
	i := int(s) * g.dim
	return data[i : i+g.dim : i+g.dim]
}

// links is node s's link list on layer l, as stored (callers of a concurrent
// graph hold s's stripe lock).
func (g *graph) links(s uint32, l int) []uint32 {
	if l == 0 {
		b := int(s) * g.m0
		return g.l0[b : b+int(g.l0n[s])]
	}
	b := int(g.upOff[s]) + (l-1)*(g.m+1)
	return g.up[b+1 : b+1+int(g.up[b])]
}

func (g *graph) setLinks(s uint32, l int, ns []cand) {
	if l == 0 {
		b := int(s) * g.m0
		for i, n := range ns {
			g.l0[b+i] = n.slot
		}
		g.l0n[s] = uint8(len(ns))
		return
	}
	b := int(g.upOff[s]) + (l-1)*(g.m+1)
	for i, n := range ns {
		g.up[b+1+i] = n.slot
	}
	g.up[b] = uint32(len(ns))
}

func (g *graph) lock(s uint32) {
	if g.concurrent {
		g.stripes[s%uint32(len(g.stripes))].Lock()
	}
}

func (g *graph) unlock(s uint32) {
	if g.concurrent {
		g.stripes[s%uint32(len(g.stripes))].Unlock()
	}
}

// neighbors returns node s's links on layer l. In a concurrent graph they
// are copied under the node's lock into c.nbuf, valid until the next call.
func (g *graph) neighbors(c *searchCtx, s uint32, l int) []uint32 {
	if !g.concurrent {
		return g.links(s, l)
	}
	g.lock(s)
	c.nbuf = append(c.nbuf[:0], g.links(s, l)...)
	g.unlock(s)
	return c.nbuf
}

// searchCtx is one goroutine's scratch space for graph searches.
type searchCtx struct {
	visited []uint32 // visited[s] == gen when s was seen in this search
	gen     uint32
	front   maxHeap
	res     minHeap
	out     []cand
	sel     []cand
	tmp     []cand
	shrink  []cand // connect's candidates
	keep    []cand // connect's choice
	nbuf    []uint32
	dots    int // similarities computed, for calibration
}

// begin starts a search over n slots.
func (c *searchCtx) begin(n int) {
	if len(c.visited) < n {
		c.visited = make([]uint32, n+n/4)
		c.gen = 0
	}
	c.gen++
	if c.gen == 0 {
		clear(c.visited)
		c.gen = 1
	}
}

// visit marks s and reports whether it was not seen before.
func (c *searchCtx) visit(s uint32) bool {
	if c.visited[s] == c.gen {
		return false
	}
	c.visited[s] = c.gen
	return true
}

// greedy walks layer l from cur towards q, one best neighbour at a time.
func (g *graph) greedy(c *searchCtx, data, q []float32, cur uint32, sim float32, l int) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		ns := g.neighbors(c, cur, l)
		c.dots += len(ns)
		for _, n := range ns {
			if s := dot(q, g.vec(data, n)); s > sim {
				cur, sim, changed = n, s, true
			}
		}
	}
	return cur, sim
}

// searchLayer is the beam search of layer l from the entry points eps: it
// returns, best first in c.out, the ef most similar nodes that accept
// allows (all nodes when accept is nil). Nodes accept refuses are still
// traversed, so tombstones and filtered-out nodes keep the graph connected;
// the search then runs on until it holds ef accepted nodes or runs out.
func (g *graph) searchLayer(c *searchCtx, data, q []float32, eps []cand, ef, l int, accept func(uint32) bool) []cand {
	c.begin(len(g.levels))
	c.front = c.front[:0]
	c.res = c.res[:0]
	for _, e := range eps {
		if !c.visit(e.slot) {
			continue
		}
		c.front.push(e)
		if accept == nil || accept(e.slot) {
			c.res.offer(e, ef)
		}
	}
	worst := float32(math.Inf(-1))
	if len(c.res) == ef {
		worst = c.res[0].sim
	}
	for len(c.front) > 0 {
		cur := c.front.pop()
		if cur.sim < worst && len(c.res) == ef {
			break
		}
		for _, n := range g.neighbors(c, cur.slot, l) {
			if !c.visit(n) {
				continue
			}
			c.dots++
			sim := dot(q, g.vec(data, n))
			if len(c.res) < ef || sim > worst {
				c.front.push(cand{sim, n})
				if accept == nil || accept(n) {
					c.res.offer(cand{sim, n}, ef)
					if len(c.res) == ef {
						worst = c.res[0].sim
					}
				}
			}
		}
	}
	c.out = append(c.out[:0], c.res...)
	slices.SortFunc(c.out, byBest)
	return c.out
}

// search returns, best first, up to ef nodes near q that accept allows.
func (g *graph) search(c *searchCtx, data, q []float32, ef int, accept func(uint32) bool) []cand {
	if g.entry < 0 {
		return nil
	}
	cur := uint32(g.entry)
	sim := dot(q, g.vec(data, cur))
	for l := g.maxLevel; l > 0; l-- {
		cur, sim = g.greedy(c, data, q, cur, sim, l)
	}
	c.tmp = append(c.tmp[:0], cand{sim, cur})
	return g.searchLayer(c, data, q, c.tmp, ef, 0, accept)
}

// selectNeighbors is the paper's heuristic (algorithm 4, without extending
// or keeping pruned candidates): from cands, best first, it keeps a
// candidate only if it is more similar to the base than to every candidate
// already kept, so links spread over directions instead of clustering. It
// appends at most m candidates to dst.
func (g *graph) selectNeighbors(data []float32, cands []cand, m int, dst []cand) []cand {
	dst = dst[:0]
	if len(cands) <= m {
		return append(dst, cands...)
	}
	for _, e := range cands {
		if len(dst) == m {
			break
		}
		ev := g.vec(data, e.slot)
		good := true
		for _, r := range dst {
			if dot(ev, g.vec(data, r.slot)) > e.sim {
				good = false
				break
			}
		}
		if good {
			dst = append(dst, e)
		}
	}
	return dst
}

// insert links slot s, already placed, into the graph.
func (g *graph) insert(c *searchCtx, data []float32, s uint32) {
	q := g.vec(data, s)
	level := int(g.levels[s])

	if g.concurrent {
		g.mu.Lock()
	}
	ep, top := g.entry, g.maxLevel
	if ep < 0 {
		g.entry, g.maxLevel = int64(s), level
		g.nodes++
		if g.concurrent {
			g.mu.Unlock()
		}
		return
	}
	// A node that raises the top layer holds the entry point until it is
	// linked, so no other insert starts from a half-linked entry.
	raises := level > top
	if g.concurrent && !raises {
		g.mu.Unlock()
	}

	cur := uint32(ep)
	sim := dot(q, g.vec(data, cur))
	for l := top; l > level; l-- {
		cur, sim = g.greedy(c, data, q, cur, sim, l)
	}
	eps := append(c.tmp[:0], cand{sim, cur})
	for l := min(level, top); l >= 0; l-- {
		found := g.searchLayer(c, data, q, eps, g.efc, l, nil)
		sel := g.selectNeighbors(data, found, g.m, c.sel)
		c.sel = sel
		g.lock(s)
		g.setLinks(s, l, sel)
		g.unlock(s)
		for _, n := range sel {
			g.connect(c, data, n.slot, s, n.sim, l)
		}
		// The next layer starts from everything found here.
		c.tmp = append(c.tmp[:0], found...)
		eps = c.tmp
	}

	if raises {
		g.entry, g.maxLevel = int64(s), level
	} else if g.concurrent {
		g.mu.Lock()
	}
	g.nodes++
	if g.concurrent {
		g.mu.Unlock()
	}
}

// connect adds the link n → s on layer l; when n's list is full, the
// heuristic chooses among its links and s which ones n keeps.
func (g *graph) connect(c *searchCtx, data []float32, n, s uint32, sim float32, l int) {
	maxM := g.m
	if l == 0 {
		maxM = g.m0
	}
	g.lock(n)
	defer g.unlock(n)
	ls := g.links(n, l)
	if len(ls) < maxM {
		if l == 0 {
			g.l0[int(n)*g.m0+len(ls)] = s
			g.l0n[n]++
		} else {
			b := int(g.upOff[n]) + (l-1)*(g.m+1)
			g.up[b+1+len(ls)] = s
			g.up[b]++
		}
		return
	}
	nv := g.vec(data, n)
	all := append(c.shrink[:0], cand{sim, s})
	for _, x := range ls {
		all = append(all, cand{dot(nv, g.vec(data, x)), x})
	}
	slices.SortFunc(all, byBest)
	c.shrink = all
	c.keep = g.selectNeighbors(data, all, maxM, c.keep)
	g.setLinks(n, l, c.keep)
}
