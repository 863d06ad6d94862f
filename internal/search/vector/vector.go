// Package vector is the per-tenant in-memory vector index behind semantic
// search. Vectors are stored sealed; the engine decrypts a tenant's vectors
// into an Index on first use, and drops it (Manager.Drop, which wipes it) when
// the tenant's keys are shredded, because embeddings can be inverted back to
// text.
//
// Vectors are unit length, so cosine similarity is the dot product. An index
// answers exactly, by a scan of contiguous storage, up to
// Options.ApproxThreshold vectors. Above it, it builds an HNSW graph in the
// background (searches stay exact meanwhile), measures the graph's recall
// against exact answers, and serves from it only if it reaches the target
// recall (0.95 by default) at well under a scan's cost, with the beam that
// reaches it for question-like queries (see calibrate); data without
// neighbourhood structure, such as uniformly random vectors of high
// dimension, stays exact. A Manager holds one index per tenant within a
// memory budget.
package vector

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Errors returned by Index.Add and Manager.Load.
var (
	// ErrDimension: a vector's length is not the index's dimension.
	ErrDimension = errors.New("vector: wrong dimension")
	// ErrInvalid: an empty id, or a vector with a NaN or infinite component.
	ErrInvalid = errors.New("vector: invalid vector")
	// ErrClosed: the index was closed (its tenant dropped).
	ErrClosed = errors.New("vector: index closed")
)

// Options tune an Index. The zero value is the default.
type Options struct {
	// ApproxThreshold is the number of vectors above which the index builds
	// an HNSW graph and searches approximately (default 20000; negative:
	// always exact).
	ApproxThreshold int
	// M is the number of links per graph node on the upper layers; layer 0
	// has 2M (default 16, at most 127).
	M int
	// EfConstruction is the beam width while inserting (default 100).
	EfConstruction int
	// EfSearch fixes the beam width while searching (raised to k when
	// smaller). By default (0) each new graph is calibrated instead: the
	// smallest beam whose recall@10 reaches Recall (plus a margin), measured
	// against an exact scan with question-like queries: stored vectors held
	// out of the graph, turned away from themselves. A graph that cannot
	// bring the held-out vectors themselves to Recall at well under the
	// cost of a scan is declined, and the index stays exact until it has
	// doubled.
	EfSearch int
	// Recall is the recall@10 calibration aims for (default 0.95).
	Recall float64
	// Seed seeds the random node levels. Graphs built by several goroutines
	// still differ from run to run in their links, not in their quality.
	Seed uint64
}

// Defaults.
const (
	DefaultApproxThreshold = 20000
	DefaultM               = 16
	DefaultEfConstruction  = 100
	DefaultRecall          = 0.95
)

func (o Options) withDefaults() Options {
	if o.ApproxThreshold == 0 {
		o.ApproxThreshold = DefaultApproxThreshold
	}
	if o.M <= 1 {
		o.M = DefaultM
	}
	o.M = min(o.M, 127) // layer-0 link counts are bytes
	if o.EfConstruction <= 0 {
		o.EfConstruction = DefaultEfConstruction
	}
	o.EfConstruction = max(o.EfConstruction, o.M)
	o.EfSearch = max(o.EfSearch, 0)
	if o.Recall <= 0 || o.Recall > 1 {
		o.Recall = DefaultRecall
	}
	return o
}

// Hit is a search result: an id and its similarity to the query.
type Hit struct {
	ID    string
	Score float32
}

// Index holds vectors of one dimension, addressed by string ids. It is safe
// for concurrent use.
//
// Each vector has a slot in one contiguous []float32. A removed vector's slot
// is zeroed and reused, unless the graph still routes through it: it is then
// a tombstone, never returned by a search, and it is reclaimed when the graph
// is rebuilt (in the background, once tombstones pass a fifth of its nodes).
type Index struct {
	dim  int
	opts Options

	mu      sync.RWMutex
	data    []float32 // slot s is data[s*dim : (s+1)*dim]
	ids     []string  // per slot, "" when free
	alive   []bool    // per slot
	byID    map[string]uint32
	live    int
	idBytes int64
	free    []uint32 // zeroed slots ready for reuse
	limbo   []uint32 // removed slots a graph, or a build, may still read
	reused  []uint32 // free slots reused while a build runs

	g          *graph      // the graph searches use, nil while exact
	gDead      int         // tombstones in g
	cal        calibration // of the last graph built
	declinedAt int         // size at which the last graph was declined, or 0
	building   bool
	done       chan struct{} // closed when the running build ends
	builds     uint64
	stop       atomic.Bool // tells the running build to give up
	closed     bool
	filling    bool // a Manager load adds vectors: no graph build until it ends

	ctxs    sync.Pool   // *searchCtx
	retired [][]float32 // arrays the storage outgrew while a build read them
	wiper   *wiper

	bytes atomic.Int64  // Bytes, updated after each change under mu
	acct  *atomic.Int64 // a Manager's total, or nil

	onGraph func() // called after a build installed its graph, or nil
}

// wiper refers to an index's current storage, so that it can be zeroed
// once the index is garbage.
type wiper struct{ data []float32 }

func (w *wiper) wipe() { clear(w.data[:cap(w.data)]) }

// NewIndex returns an empty index of vectors of dimension dim. It panics if
// dim < 1. Graphs are built on background goroutines; Close stops them.
func NewIndex(dim int, opts Options) *Index {
	if dim < 1 {
		panic(fmt.Sprintf("vector: dimension %d", dim))
	}
	x := &Index{dim: dim, opts: opts.withDefaults(), byID: map[string]uint32{}, wiper: new(wiper)}
	x.ctxs.New = func() any { return new(searchCtx) }
	// An index dropped without Close (evicted by a Manager, say) zeroes its
	// vectors when it is collected.
	runtime.AddCleanup(x, (*wiper).wipe, x.wiper)
	x.account()
	return x
}

// Dim returns the dimension of the index's vectors.
func (x *Index) Dim() int { return x.dim }

// Len returns the number of vectors in the index.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Bytes returns the approximate memory the index holds: vectors, ids and
// graph (a graph being built in the background is not counted until it
// replaces the current one).
func (x *Index) Bytes() int64 { return x.bytes.Load() }

// Stats describes an index's state.
type Stats struct {
	Len         int   // vectors
	Slots       int   // storage slots, live or not
	Approximate bool  // searches use the HNSW graph
	Building    bool  // a graph is being built in the background
	Tombstones  int   // removed vectors the graph still routes through
	Bytes       int64 // as Bytes
	// EfSearch and Recall are the last graph's beam and the recall@10
	// calibration measured with it for question-like queries (0 when not
	// measured; below the target when no beam reached it within the cost
	// cap); DeclinedAt is the
	// size at which that graph was declined (0 when it was not).
	EfSearch   int
	Recall     float64
	DeclinedAt int
}

// Stats returns the index's current state.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return Stats{
		Len: x.live, Slots: len(x.ids), Approximate: x.g != nil, Building: x.building,
		Tombstones: x.gDead, Bytes: x.bytes.Load(),
		EfSearch: x.cal.ef, Recall: x.cal.recall, DeclinedAt: x.declinedAt,
	}
}

// Add stores v under id, replacing the vector id had. v is copied; it
// should be unit length. Add returns ErrDimension when len(v) is not the
// index's dimension, ErrInvalid for an empty id or a non-finite component,
// and ErrClosed after Close.
func (x *Index) Add(id string, v []float32) error {
	if len(v) != x.dim {
		return fmt.Errorf("%w: %d, want %d", ErrDimension, len(v), x.dim)
	}
	if id == "" {
		return fmt.Errorf("%w: empty id", ErrInvalid)
	}
	if !finite(v) {
		return fmt.Errorf("%w: non-finite component", ErrInvalid)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return ErrClosed
	}
	if s, ok := x.byID[id]; ok {
		if x.g == nil && !x.building {
			copy(x.slot(s), v)
			return nil
		}
		x.kill(s) // the graph links the old vector: a new node replaces it
	}
	s := x.alloc()
	copy(x.slot(s), v)
	x.ids[s], x.alive[s], x.byID[id] = id, true, s
	x.live++
	x.idBytes += int64(len(id))
	if x.g != nil {
		x.g.grow(len(x.ids))
		x.g.place(s)
		c := x.ctx()
		x.g.insert(c, x.data, s)
		x.ctxs.Put(c)
	}
	x.reconsider()
	x.account()
	return nil
}

// Reserve makes room for n more vectors at once, so that adding them does
// not grow (and copy) the storage step by step.
func (x *Index) Reserve(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed || n <= 0 {
		return
	}
	want := (len(x.ids) + n) * x.dim
	if want <= cap(x.data) {
		return
	}
	data := make([]float32, len(x.data), want)
	copy(data, x.data)
	old := x.data[:cap(x.data)]
	if x.building {
		x.retired = append(x.retired, old)
	} else {
		clear(old)
	}
	x.data = data
	x.wiper.data = data
	x.ids = slices.Grow(x.ids, n)
	x.alive = slices.Grow(x.alive, n)
	if len(x.byID) == 0 {
		x.byID = make(map[string]uint32, n) // not rehashed as it fills
	}
	x.account()
}

// Vector returns a copy of id's stored vector, and whether id is in the
// index. A copy, because the storage is zeroed when the index closes and
// reused when a slot is freed.
func (x *Index) Vector(id string) ([]float32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.byID[id]
	if !ok || !x.alive[s] {
		return nil, false
	}
	v := make([]float32, x.dim)
	copy(v, x.slot(s))
	return v, true
}

func finite(v []float32) bool {
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return false
		}
	}
	return true
}

// Remove deletes id's vector, if any. Searches that start after Remove
// returns never return it.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s, ok := x.byID[id]
	if !ok {
		return
	}
	x.kill(s)
	x.reconsider()
	x.account()
}

// Close stops any background build and zeroes every stored vector. Add then
// returns ErrClosed and searches return nothing. Close is idempotent.
func (x *Index) Close() {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.closed = true
	x.stop.Store(true)
	var done chan struct{}
	if x.building {
		done = x.done
	}
	x.mu.Unlock()
	if done != nil {
		<-done // the build reads the storage outside the lock
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	clear(x.data[:cap(x.data)])
	x.clearRetired()
	x.wiper.data = nil
	x.data, x.ids, x.alive, x.byID, x.free, x.limbo = nil, nil, nil, nil, nil, nil
	x.g, x.gDead, x.live, x.idBytes = nil, 0, 0, 0
	x.account()
}

// fill marks the start (true) or the end (false) of a bulk load: a graph
// started at the threshold would compete with the load for the cores and
// rebuild what the rest of the load adds; it is considered once, at the end.
func (x *Index) fill(on bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.filling = on
	if !on {
		x.reconsider()
	}
}

// halt asks a running build to give up; a later change may start another.
func (x *Index) halt() { x.stop.Store(true) }

func (x *Index) slot(s uint32) []float32 {
	i := int(s) * x.dim
	return x.data[i : i+x.dim : i+x.dim]
}

// alloc returns a slot for a new vector: a free one, or a new one at the
// end. A build never reads a slot that was free when it started, but it
// must learn of the ones reused meanwhile, to insert them.
func (x *Index) alloc() uint32 {
	if n := len(x.free); n > 0 {
		s := x.free[n-1]
		x.free = x.free[:n-1]
		if x.building {
			x.reused = append(x.reused, s)
		}
		return s
	}
	s := uint32(len(x.ids))
	x.ids = append(x.ids, "")
	x.alive = append(x.alive, false)
	x.growData()
	return s
}

// growData adds one slot to the storage. A full array is replaced by a
// larger one and the old one zeroed, at once or, while a build may read it,
// when the build ends.
func (x *Index) growData() {
	n := len(x.data) + x.dim
	if n <= cap(x.data) {
		x.data = x.data[:n]
		return
	}
	c := cap(x.data)
	if c < 1<<20 {
		c *= 2
	} else {
		c += c / 4
	}
	data := make([]float32, n, max(c, n, 16*x.dim))
	copy(data, x.data)
	old := x.data[:cap(x.data)]
	if x.building {
		x.retired = append(x.retired, old)
	} else {
		clear(old)
	}
	x.data = data
	x.wiper.data = data
}

// clearRetired zeroes the arrays the storage outgrew during a build.
// Called with x.mu held for writing, once no build runs.
func (x *Index) clearRetired() {
	for _, r := range x.retired {
		clear(r)
	}
	x.retired = nil
}

// kill removes slot s's vector: the slot is freed at once unless a graph or
// a build may read it, in which case it waits in limbo for the next graph.
func (x *Index) kill(s uint32) {
	id := x.ids[s]
	delete(x.byID, id)
	x.idBytes -= int64(len(id))
	x.ids[s], x.alive[s] = "", false
	x.live--
	inGraph := x.g != nil && x.g.has(s)
	if inGraph {
		x.gDead++
	}
	if inGraph || x.building {
		x.limbo = append(x.limbo, s)
		return
	}
	x.release(s)
}

func (x *Index) release(s uint32) {
	clear(x.slot(s))
	x.free = append(x.free, s)
}

// dropGraph returns a shrunken index to exact search.
func (x *Index) dropGraph() {
	x.g, x.gDead = nil, 0
	x.settleLimbo()
}

// reconsider returns an index that shrank to half its threshold to exact
// search, and starts a background build when the index has outgrown exact
// search or tombstones pass a fifth of the graph. Called with x.mu held for
// writing.
func (x *Index) reconsider() {
	if x.building || x.closed || x.filling || x.opts.ApproxThreshold < 0 {
		return
	}
	if x.g != nil && x.live < x.opts.ApproxThreshold/2 {
		x.dropGraph()
		return
	}
	grown := x.live > x.opts.ApproxThreshold && x.live >= 2*x.declinedAt
	if (x.g == nil && grown) || (x.g != nil && x.gDead*5 > x.g.nodes) {
		x.startBuild()
	}
}

// target is the recall calibration aims for.
func (x *Index) target() float64 { return min(1, x.opts.Recall+calibrationMargin) }

// account recomputes Bytes and passes the change to the Manager's total.
func (x *Index) account() {
	b := 4*int64(cap(x.data)) + 16*int64(cap(x.ids)) + int64(cap(x.alive)) + x.idBytes +
		mapEntryBytes*int64(len(x.byID)) + 4*int64(cap(x.free)+cap(x.limbo))
	if x.g != nil {
		b += x.g.bytes()
	}
	for _, r := range x.retired {
		b += 4 * int64(cap(r))
	}
	if old := x.bytes.Swap(b); x.acct != nil {
		x.acct.Add(b - old)
	}
}

// mapEntryBytes approximates a map[string]uint32 entry's share of the
// map's memory.
const mapEntryBytes = 40

// attach adds the index to a Manager's total; detach takes it out.
func (x *Index) attach(total *atomic.Int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.acct = total
	total.Add(x.bytes.Load())
}

func (x *Index) detach() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.acct != nil {
		x.acct.Add(-x.bytes.Load())
		x.acct = nil
	}
}

func (x *Index) ctx() *searchCtx { return x.ctxs.Get().(*searchCtx) }
