package vector

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"weak"
)

// ErrDropped is returned by Manager.Load when the tenant was dropped while
// its index was loading: the index, which may hold vectors of shredded
// data, is wiped instead of installed. Loading again is safe.
var ErrDropped = errors.New("vector: tenant dropped while loading")

// Manager holds one Index per tenant within a memory budget: when the
// indexes together exceed it, the least recently used tenants' indexes are
// evicted, to be loaded again on their next use. It is safe for concurrent
// use.
type Manager struct {
	budget int64
	used   atomic.Int64 // sum of the installed indexes' Bytes
	clock  atomic.Uint64

	mu      sync.RWMutex
	tenants map[string]*tenantIndex
	loads   map[string]*load
	// evicted remembers evicted indexes until they are collected, so that
	// Drop can wipe one a caller still holds (or that awaits collection).
	evicted map[string][]weak.Pointer[Index]

	opts    Options             // of new indexes
	onGraph func(tenant string) // see OnGraph
}

// SetIndexOptions sets the Options of the indexes loaded from now on.
func (m *Manager) SetIndexOptions(o Options) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts = o
}

// OnGraph sets fn to be called, on a goroutine of its own, each time an
// index loaded from now on installs a graph it built (not one installed by
// Fill.Graph), so that its owner can persist the graph.
func (m *Manager) OnGraph(fn func(tenant string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onGraph = fn
}

type tenantIndex struct {
	idx      *Index
	lastUsed atomic.Uint64
}

// load is an index being built; concurrent Loads of the tenant wait on done.
type load struct {
	dim     int
	done    chan struct{}
	dropped atomic.Bool
	idx     *Index // set before done is closed
	err     error
}

// NewManager returns a Manager keeping its indexes within budgetBytes
// (as measured by Index.Bytes; ≤ 0: no limit). The index a caller is using
// is never evicted, so one tenant larger than the budget still loads.
func NewManager(budgetBytes int64) *Manager {
	return &Manager{
		budget: budgetBytes, tenants: map[string]*tenantIndex{}, loads: map[string]*load{},
		evicted: map[string][]weak.Pointer[Index]{},
	}
}

// Get returns the tenant's index if it is loaded, and marks it used.
func (m *Manager) Get(tenant string) (*Index, bool) {
	m.mu.RLock()
	t, ok := m.tenants[tenant]
	if ok {
		t.lastUsed.Store(m.clock.Add(1))
	}
	m.mu.RUnlock()
	if !ok {
		return nil, false
	}
	m.trim(tenant)
	return t.idx, true
}

// Peek returns the tenant's index if it is loaded, without marking it
// used (for bookkeeping that is not a use, such as writing a snapshot).
func (m *Manager) Peek(tenant string) (*Index, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.tenants[tenant]
	if !ok {
		return nil, false
	}
	return t.idx, true
}

// Load returns the tenant's index, building it first if it is not loaded:
// fill is called with the new index's Add and must add every vector. The
// build happens once: concurrent Loads of the same tenant wait for it and
// share its result. An error from fill (wrapped) or ErrDropped leaves the
// tenant unloaded, and the partial index is wiped. A loaded index of
// another dimension (a new embedding model) is dropped and rebuilt.
func (m *Manager) Load(tenant string, dim int, fill func(add func(id string, v []float32) error) error) (*Index, error) {
	return m.LoadSized(tenant, dim, func(_ func(int), add func(id string, v []float32) error) error { return fill(add) })
}

// LoadSized is Load whose fill may also call reserve(n) before adding n
// vectors it knows of, sparing the storage's repeated growth.
func (m *Manager) LoadSized(tenant string, dim int, fill func(reserve func(n int), add func(id string, v []float32) error) error) (*Index, error) {
	return m.LoadFill(tenant, dim, func(f *Fill) error { return fill(f.Reserve, f.Add) })
}

// Fill is what a load's fill function is given: the new index, to reserve
// room in, add vectors to and, once they are all added, install a graph
// encoded by EncodeGraph over them.
type Fill struct {
	idx *Index
	l   *load
}

// Reserve makes room for n more vectors (Index.Reserve).
func (f *Fill) Reserve(n int) { f.idx.Reserve(n) }

// Add adds a vector (Index.Add); ErrDropped once the tenant was dropped.
func (f *Fill) Add(id string, v []float32) error {
	if f.l.dropped.Load() {
		return ErrDropped // stop decrypting what is being shredded
	}
	return f.idx.Add(id, v)
}

// Graph installs a graph encoded by EncodeGraph with the ids added, in
// the order they were added, to an index that held nothing before. It
// returns ErrGraph (wrapped) when b does not fit them; the index then
// builds its own graph once the load ends.
func (f *Fill) Graph(b []byte) error { return f.idx.loadGraph(b) }

// LoadFill is Load with the whole Fill.
func (m *Manager) LoadFill(tenant string, dim int, fill func(f *Fill) error) (*Index, error) {
	if dim < 1 {
		return nil, fmt.Errorf("%w: %d", ErrDimension, dim)
	}
	for {
		m.mu.Lock()
		if t, ok := m.tenants[tenant]; ok {
			if t.idx.Dim() == dim {
				t.lastUsed.Store(m.clock.Add(1))
				m.mu.Unlock()
				m.trim(tenant)
				return t.idx, nil
			}
			m.removeLocked(tenant, t)
			m.mu.Unlock()
			t.idx.Close()
			continue
		}
		if l, ok := m.loads[tenant]; ok {
			m.mu.Unlock()
			<-l.done
			if l.err != nil {
				return nil, l.err
			}
			if l.dim == dim {
				return l.idx, nil
			}
			continue
		}
		l := &load{dim: dim, done: make(chan struct{})}
		m.loads[tenant] = l
		m.mu.Unlock()
		m.build(tenant, l, fill)
		return l.idx, l.err
	}
}

// build runs fill for l and installs the index, or wipes it.
func (m *Manager) build(tenant string, l *load, fill func(f *Fill) error) {
	m.mu.RLock()
	idx := NewIndex(l.dim, m.opts)
	if hook := m.onGraph; hook != nil {
		idx.onGraph = func() { hook(tenant) }
	}
	m.mu.RUnlock()
	err := errors.New("vector: load panicked")
	defer func() {
		m.mu.Lock()
		delete(m.loads, tenant)
		if err == nil && l.dropped.Load() {
			err = ErrDropped
		}
		if err != nil {
			l.err = err
			m.mu.Unlock()
			idx.Close()
			close(l.done)
			return
		}
		l.idx = idx
		t := &tenantIndex{idx: idx}
		t.lastUsed.Store(m.clock.Add(1))
		m.tenants[tenant] = t
		idx.attach(&m.used)
		m.mu.Unlock()
		close(l.done)
		m.trim(tenant)
	}()
	idx.fill(true)
	defer idx.fill(false)
	err = fill(&Fill{idx: idx, l: l})
	switch {
	case errors.Is(err, ErrDropped):
		err = ErrDropped
	case err != nil:
		err = fmt.Errorf("vector: load: %w", err)
	}
}

// Drop removes the tenant's index and wipes it (the tenant's keys were
// shredded, or its model changed), along with any evicted index of the
// tenant not yet collected. A load in progress fails with ErrDropped; its
// index is never installed.
func (m *Manager) Drop(tenant string) {
	m.mu.Lock()
	var wipe []*Index
	if t, ok := m.tenants[tenant]; ok {
		m.removeLocked(tenant, t)
		wipe = append(wipe, t.idx)
	}
	for _, w := range m.evicted[tenant] {
		if x := w.Value(); x != nil {
			wipe = append(wipe, x)
		}
	}
	delete(m.evicted, tenant)
	if l, ok := m.loads[tenant]; ok {
		l.dropped.Store(true)
	}
	m.mu.Unlock()
	for _, x := range wipe {
		x.Close()
	}
}

// Len returns the number of loaded indexes.
func (m *Manager) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.tenants)
}

// Bytes returns the loaded indexes' total Bytes.
func (m *Manager) Bytes() int64 { return m.used.Load() }

func (m *Manager) removeLocked(tenant string, t *tenantIndex) {
	delete(m.tenants, tenant)
	t.idx.detach()
}

// trim evicts least recently used indexes, never except's, until the total
// fits the budget. An evicted index is not wiped at once (a caller may
// still be searching it): it is when it is collected, or by Drop.
func (m *Manager) trim(except string) {
	if m.budget <= 0 || m.used.Load() <= m.budget {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.used.Load() > m.budget {
		var victim string
		var vt *tenantIndex
		for name, t := range m.tenants {
			if name != except && (vt == nil || t.lastUsed.Load() < vt.lastUsed.Load()) {
				victim, vt = name, t
			}
		}
		if vt == nil {
			return
		}
		m.removeLocked(victim, vt)
		vt.idx.halt()
		live := m.evicted[victim][:0]
		for _, w := range m.evicted[victim] {
			if w.Value() != nil {
				live = append(live, w)
			}
		}
		m.evicted[victim] = append(live, weak.Make(vt.idx))
	}
}
