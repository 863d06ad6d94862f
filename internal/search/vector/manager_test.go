package vector_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/search/vector"
)

// filler adds d's vectors and counts its calls.
func filler(d *dataset, calls *atomic.Int32) func(add func(string, []float32) error) error {
	return func(add func(string, []float32) error) error {
		calls.Add(1)
		for i, id := range d.ids {
			if err := add(id, d.vecs[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestManagerLoadGet(t *testing.T) {
	m := vector.NewManager(0)
	t.Cleanup(func() { m.Drop("t1") })
	if _, ok := m.Get("t1"); ok {
		t.Fatal("Get before Load")
	}
	d := randomData(newRand(31), 200, 8)
	var calls atomic.Int32
	x, err := m.Load("t1", 8, filler(d, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 200 {
		t.Fatalf("loaded %d", x.Len())
	}
	if y, ok := m.Get("t1"); !ok || y != x {
		t.Fatal("Get after Load")
	}
	if y, err := m.Load("t1", 8, filler(d, &calls)); err != nil || y != x || calls.Load() != 1 {
		t.Fatalf("second Load rebuilt: %v, %d calls", err, calls.Load())
	}
	if m.Len() != 1 || m.Bytes() != x.Bytes() || m.Bytes() <= 200*8*4 {
		t.Fatalf("manager holds %d indexes, %d bytes; index %d", m.Len(), m.Bytes(), x.Bytes())
	}
	// Growth through Add counts against the budget.
	before := m.Bytes()
	for i := range 1000 {
		if err := x.Add("new"+string(rune('a'+i%26))+string(rune('a'+i/26)), d.vecs[0]); err != nil {
			t.Fatal(err)
		}
	}
	if m.Bytes() <= before || m.Bytes() != x.Bytes() {
		t.Fatalf("after adds: manager %d, index %d, before %d", m.Bytes(), x.Bytes(), before)
	}
	if _, err := m.Load("t1", 0, filler(d, &calls)); !errors.Is(err, vector.ErrDimension) {
		t.Fatalf("Load of dimension 0: %v", err)
	}
}

func TestManagerNewDimensionRebuilds(t *testing.T) {
	m := vector.NewManager(0)
	t.Cleanup(func() { m.Drop("t") })
	var calls atomic.Int32
	old, err := m.Load("t", 8, filler(randomData(newRand(32), 10, 8), &calls))
	if err != nil {
		t.Fatal(err)
	}
	x, err := m.Load("t", 16, filler(randomData(newRand(33), 10, 16), &calls))
	if err != nil || x.Dim() != 16 || calls.Load() != 2 {
		t.Fatalf("Load of a new dimension: %v, dim %d, %d calls", err, x.Dim(), calls.Load())
	}
	if old.Len() != 0 {
		t.Fatal("the replaced index was not wiped")
	}
}

func TestManagerEviction(t *testing.T) {
	d := randomData(newRand(34), 300, 32)
	probe := vector.NewIndex(32, vector.Options{})
	d.fill(t, probe)
	size := probe.Bytes()
	probe.Close()

	m := vector.NewManager(2*size + size/2) // room for two
	var calls atomic.Int32
	load := func(tenant string) *vector.Index {
		t.Helper()
		x, err := m.Load(tenant, 32, filler(d, &calls))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	t.Cleanup(func() {
		for _, tn := range []string{"a", "b", "c", "d"} {
			m.Drop(tn)
		}
	})
	load("a")
	load("b")
	load("c") // evicts a, the least recently used
	if _, ok := m.Get("a"); ok {
		t.Fatal("a not evicted")
	}
	if m.Len() != 2 || m.Bytes() > 2*size+size/2 {
		t.Fatalf("%d indexes, %d bytes over budget %d", m.Len(), m.Bytes(), 2*size+size/2)
	}
	if _, ok := m.Get("b"); !ok { // b is now more recent than c
		t.Fatal("b evicted")
	}
	load("d") // evicts c
	if _, ok := m.Get("c"); ok {
		t.Fatal("c not evicted")
	}
	for _, tn := range []string{"b", "d"} {
		if _, ok := m.Get(tn); !ok {
			t.Fatalf("%s evicted", tn)
		}
	}
	// An evicted tenant is simply loaded again.
	calls.Store(0)
	if x := load("a"); x.Len() != 300 || calls.Load() != 1 {
		t.Fatalf("reload of a: %d vectors, %d calls", x.Len(), calls.Load())
	}
	// A single tenant over the budget still loads: the one in use is kept.
	small := vector.NewManager(1)
	t.Cleanup(func() { small.Drop("big") })
	x, err := small.Load("big", 32, filler(d, &calls))
	if err != nil || x.Len() != 300 {
		t.Fatal(err)
	}
	if _, ok := small.Get("big"); !ok {
		t.Fatal("the only tenant was evicted")
	}
}

func TestManagerSingleflight(t *testing.T) {
	m := vector.NewManager(0)
	t.Cleanup(func() { m.Drop("t") })
	d := randomData(newRand(35), 100, 8)
	release := make(chan struct{})
	var calls atomic.Int32
	fill := func(add func(string, []float32) error) error {
		calls.Add(1)
		<-release
		return filler(d, new(atomic.Int32))(add)
	}
	const callers = 8
	got := make([]*vector.Index, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			x, err := m.Load("t", 8, fill)
			if err != nil {
				t.Error(err)
			}
			got[i] = x
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all arrive
	if _, ok := m.Get("t"); ok {
		t.Fatal("Get returned an index still loading")
	}
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("fill ran %d times", calls.Load())
	}
	for _, x := range got {
		if x == nil || x != got[0] || x.Len() != 100 {
			t.Fatal("callers got different indexes")
		}
	}
}

func TestManagerLoadError(t *testing.T) {
	m := vector.NewManager(0)
	t.Cleanup(func() { m.Drop("t") })
	boom := errors.New("key unavailable")
	release := make(chan struct{})
	var calls atomic.Int32
	fail := func(add func(string, []float32) error) error {
		calls.Add(1)
		if err := add("a", []float32{1, 0}); err != nil {
			return err
		}
		<-release
		return boom
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := m.Load("t", 2, fail); !errors.Is(err, boom) {
				t.Errorf("Load: %v, want the fill's error", err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("failing fill ran %d times", calls.Load())
	}
	if _, ok := m.Get("t"); ok || m.Bytes() != 0 {
		t.Fatal("a failed load was installed")
	}
	var ok atomic.Int32
	if x, err := m.Load("t", 2, filler(&dataset{ids: []string{"a"}, vecs: [][]float32{{1, 0}}}, &ok)); err != nil || x.Len() != 1 {
		t.Fatalf("Load after a failure: %v", err)
	}
}

func TestManagerDrop(t *testing.T) {
	m := vector.NewManager(0)
	d := randomData(newRand(36), 100, 8)
	var calls atomic.Int32
	x, err := m.Load("t", 8, filler(d, &calls))
	if err != nil {
		t.Fatal(err)
	}
	raw := vector.Storage(x)
	m.Drop("t")
	if _, ok := m.Get("t"); ok {
		t.Fatal("Get after Drop")
	}
	if m.Bytes() != 0 || m.Len() != 0 {
		t.Fatalf("after Drop: %d bytes, %d indexes", m.Bytes(), m.Len())
	}
	for i, f := range raw {
		if f != 0 {
			t.Fatalf("dropped index left data at %d", i)
		}
	}
	if err := x.Add("z", d.vecs[0]); !errors.Is(err, vector.ErrClosed) {
		t.Fatalf("Add to a dropped index: %v", err)
	}
	m.Drop("t")       // again: a no-op
	m.Drop("unknown") // never loaded
}

// Drop also wipes an evicted index a caller still holds.
func TestManagerDropEvicted(t *testing.T) {
	d := randomData(newRand(39), 100, 8)
	probe := vector.NewIndex(8, vector.Options{})
	d.fill(t, probe)
	m := vector.NewManager(probe.Bytes() + probe.Bytes()/2) // room for one
	probe.Close()
	t.Cleanup(func() { m.Drop("b") })
	var calls atomic.Int32
	a, err := m.Load("a", 8, filler(d, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load("b", 8, filler(d, &calls)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get("a"); ok {
		t.Fatal("a not evicted")
	}
	if hits := a.Search(d.vecs[0], 1, nil); len(hits) != 1 {
		t.Fatal("an evicted index stopped answering its holder")
	}
	raw := vector.Storage(a)
	m.Drop("a")
	if !allZero(raw) || a.Len() != 0 {
		t.Fatal("Drop left an evicted index's vectors")
	}
}

func TestManagerDropDuringLoad(t *testing.T) {
	m := vector.NewManager(0)
	t.Cleanup(func() { m.Drop("t") })
	d := randomData(newRand(37), 100, 8)
	started, release := make(chan struct{}), make(chan struct{})
	var sawDropped atomic.Bool
	fill := func(add func(string, []float32) error) error {
		if err := add(d.ids[0], d.vecs[0]); err != nil {
			return err
		}
		close(started)
		<-release
		for i, id := range d.ids[1:] {
			if err := add(id, d.vecs[i+1]); err != nil {
				sawDropped.Store(errors.Is(err, vector.ErrDropped))
				return err
			}
		}
		return nil
	}
	errc := make(chan error)
	go func() {
		_, err := m.Load("t", 8, fill)
		errc <- err
	}()
	<-started
	m.Drop("t")
	close(release)
	if err := <-errc; !errors.Is(err, vector.ErrDropped) {
		t.Fatalf("Load dropped midway: %v", err)
	}
	if !sawDropped.Load() {
		t.Fatal("add kept accepting vectors after Drop")
	}
	if _, ok := m.Get("t"); ok || m.Bytes() != 0 {
		t.Fatal("an index loaded across a Drop was installed")
	}
	var calls atomic.Int32
	if x, err := m.Load("t", 8, filler(d, &calls)); err != nil || x.Len() != 100 {
		t.Fatalf("Load after Drop: %v", err)
	}
}

func TestManagerConcurrent(t *testing.T) {
	d := randomData(newRand(38), 200, 8)
	probe := vector.NewIndex(8, vector.Options{})
	d.fill(t, probe)
	budget := 3 * probe.Bytes()
	m := vector.NewManager(budget)
	probe.Close()
	tenants := []string{"a", "b", "c", "d", "e"}
	t.Cleanup(func() {
		for _, tn := range tenants {
			m.Drop(tn)
		}
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := newRand(uint64(w))
			var calls atomic.Int32
			for i := range 200 {
				tn := tenants[(i+w)%len(tenants)]
				switch i % 5 {
				case 0:
					m.Drop(tn)
				case 1, 2:
					x, err := m.Load(tn, 8, filler(d, &calls))
					if err != nil && !errors.Is(err, vector.ErrDropped) {
						t.Error(err)
						return
					}
					if err == nil {
						x.Search(unit(r, 8), 5, nil)
					}
				default:
					if x, ok := m.Get(tn); ok {
						_ = x.Add("x", unit(r, 8)) // may be closed by a Drop meanwhile
						x.Search(unit(r, 8), 5, nil)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, tn := range tenants {
		m.Get(tn) // settles the budget
	}
	var sum int64
	for _, tn := range tenants {
		if x, ok := m.Get(tn); ok {
			sum += x.Bytes()
		}
	}
	if m.Bytes() != sum || sum > budget {
		t.Fatalf("manager counts %d bytes, its indexes hold %d, budget %d", m.Bytes(), sum, budget)
	}
}
