package vector

import (
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	// finalBatch: once no more than this many vectors arrived during a
	// build round, the build inserts them under the write lock and swaps
	// the new graph in.
	finalBatch = 256
	// maxRounds bounds the catch-up rounds when vectors keep arriving.
	maxRounds = 8
)

// startBuild starts building a graph of the live vectors in the background;
// searches meanwhile use the current graph, or scan. Called with x.mu held
// for writing.
//
// The build reads slots outside the lock. That is safe because, while it
// runs, no slot it may read is written: replaced and removed vectors stay
// in limbo instead of being zeroed or reused, and new vectors go to slots
// that were free when it started (which it does not read) or to new slots
// beyond the slice it holds.
func (x *Index) startBuild() {
	snap := make([]uint32, 0, x.live)
	for s, ok := range x.alive {
		if ok {
			snap = append(snap, uint32(s))
		}
	}
	n := len(x.ids)
	x.building = true
	x.stop.Store(false)
	x.done = make(chan struct{})
	x.builds++
	seed := x.opts.Seed ^ x.builds*0x9e3779b97f4a7c15
	go x.build(x.done, snap, x.data[:n*x.dim:n*x.dim], n, seed)
}

// build inserts snap into a new graph, then catches up with the vectors
// added meanwhile, calibrates the graph's beam (unless Options.EfSearch
// fixes it), and finally, under the write lock, inserts the last arrivals
// and swaps the graph in, or declines it when no beam reaches the target
// recall at well under a scan's cost.
//
// Calibration queries are stored vectors held out of the graph until it is
// measured: a vector that is in the graph leads the search straight to its
// own links, which are its neighbours, and would flatter the graph.
func (x *Index) build(done chan struct{}, snap []uint32, data []float32, n int, seed uint64) {
	defer close(done)
	g := newGraph(x.dim, x.opts, seed)
	g.concurrent = true
	g.grow(n)
	fixed := x.opts.EfSearch > 0
	var held []uint32
	if !fixed {
		snap, held = holdOut(g, snap)
	}
	if !fixed && len(snap) >= 2*pilotNodes {
		// A pilot: the first nodes form a small graph of their own.
		if !g.insertAll(data, snap[:pilotNodes], &x.stop) {
			x.end(nil, calibration{}, 0)
			return
		}
		if cal := g.calibrate(data, held, x.target(), pilotCostShare, false); !cal.ok {
			x.end(nil, cal, 0)
			return
		}
		snap = snap[pilotNodes:]
	}
	for round := 0; ; round++ {
		if !g.insertAll(data, snap, &x.stop) {
			x.end(nil, calibration{}, 0)
			return
		}
		x.mu.Lock()
		fresh := x.liveFrom(n)
		if len(fresh) <= finalBatch || round+1 >= maxRounds {
			x.mu.Unlock()
			break
		}
		n = len(x.ids)
		data = x.data[: n*x.dim : n*x.dim]
		x.mu.Unlock()
		g.grow(n)
		snap = fresh
	}
	cal := calibration{ef: x.opts.EfSearch, ok: true}
	if !fixed {
		if cal = g.calibrate(data, held, x.target(), maxCostShare, true); !cal.ok {
			x.end(nil, cal, 0)
			return
		}
		if !g.insertAll(data, held, &x.stop) {
			x.end(nil, calibration{}, 0)
			return
		}
	}
	x.end(g, cal, n)
}

// end finishes a build under the write lock: a stopped build is dropped,
// a nil graph is declined, and otherwise the vectors that arrived meanwhile
// (in slots from n on, or in reused free slots) are inserted and g is
// installed.
func (x *Index) end(g *graph, cal calibration, n int) {
	installed := false
	defer func() {
		if installed && x.onGraph != nil {
			// On its own goroutine: the owner may hold its own lock while
			// it closes the index, which waits for this build to end.
			go x.onGraph()
		}
	}()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.clearRetired()
	reused := x.reused
	x.reused = nil
	switch {
	case x.closed || x.stop.Load():
		x.building = false
		if !x.closed {
			x.settleLimbo()
		}
	case g == nil:
		x.decline(cal)
	default:
		g.concurrent = false
		g.grow(len(x.ids))
		c := x.ctx()
		for _, s := range append(x.liveFrom(n), reused...) {
			if x.alive[s] && !g.has(s) {
				g.place(s)
				g.insert(c, x.data, s)
			}
		}
		x.ctxs.Put(c)
		x.install(g, cal)
		installed = true
		x.reconsider()
		x.account()
	}
}

// holdOut moves calibrationSamples random slots of snap to its end and
// splits them off, when snap is large enough to spare them.
func holdOut(g *graph, snap []uint32) (rest, held []uint32) {
	k := calibrationSamples
	if len(snap) < 4*k {
		return snap, nil
	}
	for i := range k {
		last := len(snap) - 1 - i
		j := g.rng.IntN(last + 1)
		snap[j], snap[last] = snap[last], snap[j]
	}
	return snap[:len(snap)-k], snap[len(snap)-k:]
}

// liveFrom returns the live slots from n on. Called with x.mu held.
func (x *Index) liveFrom(n int) []uint32 {
	var out []uint32
	for s := n; s < len(x.alive); s++ {
		if x.alive[s] {
			out = append(out, uint32(s))
		}
	}
	return out
}

// decline returns the index to exact search: no graph served the target
// recall cheaply. It tries again once the index has doubled. Called with
// x.mu held for writing.
func (x *Index) decline(cal calibration) {
	x.g, x.gDead = nil, 0
	x.declinedAt = max(x.live, 1)
	x.cal = cal
	x.building = false
	x.settleLimbo()
	x.account()
}

// install makes g the index's graph. Removed slots that g does not link
// are zeroed and freed; the ones it does stay as its tombstones. Called
// with x.mu held for writing.
func (x *Index) install(g *graph, cal calibration) {
	x.g = g
	x.cal = cal
	x.declinedAt = 0
	x.gDead = 0
	for s, l := range g.levels {
		if l >= 0 && !x.alive[s] {
			x.gDead++
		}
	}
	x.building = false
	x.settleLimbo()
	x.account()
}

// settleLimbo zeroes and frees the removed slots no graph links any more.
// Called with x.mu held for writing, while no build runs.
func (x *Index) settleLimbo() {
	kept := x.limbo[:0]
	for _, s := range x.limbo {
		if x.g != nil && x.g.has(s) {
			kept = append(kept, s)
		} else {
			x.release(s)
		}
	}
	x.limbo = kept
}

// insertAll places and inserts slots with one goroutine per CPU. It
// returns false when stop was set.
func (g *graph) insertAll(data []float32, slots []uint32, stop *atomic.Bool) bool {
	for _, s := range slots {
		g.place(s)
	}
	var next atomic.Int64
	if g.entry < 0 && len(slots) > 0 {
		g.insert(new(searchCtx), data, slots[0])
		next.Store(1)
	}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			c := new(searchCtx)
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(slots) {
					return
				}
				g.insert(c, data, slots[i])
			}
		})
	}
	wg.Wait()
	return !stop.Load()
}
