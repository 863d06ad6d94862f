package vector_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/engram-memory/engram/internal/search/vector"
)

// reload loads ids (in that order, with d's vectors) into a new index of
// a Manager and installs graph over them; it returns the index and
// Fill.Graph's error.
func reload(t *testing.T, d *dataset, ids []string, graph []byte, o vector.Options) (*vector.Index, error) {
	t.Helper()
	vecs := map[string][]float32{}
	for i, id := range d.ids {
		vecs[id] = d.vecs[i]
	}
	m := vector.NewManager(0)
	m.SetIndexOptions(o)
	var gerr error
	y, err := m.LoadFill("t", len(d.vecs[0]), func(f *vector.Fill) error {
		f.Reserve(len(ids))
		for _, id := range ids {
			if err := f.Add(id, vecs[id]); err != nil {
				return err
			}
		}
		gerr = f.Graph(graph)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Drop("t") })
	return y, gerr
}

func TestGraphRoundTrip(t *testing.T) {
	const dim = 32
	d, centres := clusteredData(newRand(41), sized(3000), dim, 30, 0.05)
	x := approximate(t, d, dim)
	ids := slices.Clone(d.ids)
	newRand(42).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	b := x.EncodeGraph(ids)
	if b == nil {
		t.Fatal("no graph encoded")
	}
	y, err := reload(t, d, ids, b, graphOpts(len(d.ids)/4))
	if err != nil {
		t.Fatal(err)
	}
	st := y.Stats()
	if !st.Approximate || st.Building || st.EfSearch != x.Stats().EfSearch || st.Len != len(ids) {
		t.Fatalf("loaded: %+v, built: %+v", st, x.Stats())
	}
	r := newRand(43)
	for i := range 50 {
		q := near(r, centres[i%len(centres)], 0.08)
		if got, want := y.Search(q, 10, nil), x.Search(q, 10, nil); !slices.Equal(got, want) {
			t.Fatalf("query %d: loaded graph %v, built graph %v", i, got, want)
		}
	}
	// What is added after the load goes into the loaded graph.
	extra := near(r, centres[0], 0.01)
	if err := y.Add("extra", extra); err != nil {
		t.Fatal(err)
	}
	if hits := y.Search(extra, 1, nil); len(hits) != 1 || hits[0].ID != "extra" {
		t.Fatalf("added after the load: %v", hits)
	}
	if st := y.Stats(); !st.Approximate || st.Building {
		t.Fatalf("after an add: %+v", st)
	}
}

// Tombstones are left out of the encoding, links to them too; the loaded
// graph still finds what a scan finds.
func TestGraphRoundTripWithoutTombstones(t *testing.T) {
	const dim = 32
	d, centres := clusteredData(newRand(44), sized(3000), dim, 30, 0.05)
	x := approximate(t, d, dim)
	live := &dataset{}
	for i, id := range d.ids {
		if i%7 == 0 {
			x.Remove(id)
			continue
		}
		live.ids = append(live.ids, id)
		live.vecs = append(live.vecs, d.vecs[i])
	}
	if x.Stats().Tombstones == 0 {
		t.Fatal("no tombstones")
	}
	b := x.EncodeGraph(live.ids)
	if b == nil {
		t.Fatal("no graph encoded")
	}
	y, err := reload(t, live, live.ids, b, graphOpts(len(d.ids)/4))
	if err != nil {
		t.Fatal(err)
	}
	if st := y.Stats(); !st.Approximate || st.Tombstones != 0 {
		t.Fatalf("loaded: %+v", st)
	}
	r := newRand(45)
	vecs := live.asMap()
	var sum float64
	for i := range 50 {
		q := near(r, centres[i%len(centres)], 0.08)
		sum += recall(y.Search(q, 10, nil), brute(vecs, q, 10, nil))
	}
	if sum/50 < 0.9 {
		t.Fatalf("recall@10 of the loaded graph %.3f", sum/50)
	}
}

// A graph that does not fit the vectors added is refused, and the index
// builds its own.
func TestGraphMismatchRefused(t *testing.T) {
	const dim = 16
	d, _ := clusteredData(newRand(46), sized(2000), dim, 20, 0.05)
	x := approximate(t, d, dim)
	b := x.EncodeGraph(d.ids)
	if b == nil {
		t.Fatal("no graph encoded")
	}
	if x.EncodeGraph(d.ids[1:]) != nil || x.EncodeGraph(append(slices.Clone(d.ids[1:]), "nope")) != nil {
		t.Fatal("a graph encoded for ids that are not the index's")
	}
	swapped := slices.Clone(d.ids)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	flipped := slices.Clone(b)
	flipped[len(flipped)/2] ^= 0xff
	cases := map[string]struct {
		ids   []string
		graph []byte
	}{
		"truncated":   {d.ids, b[:len(b)-3]},
		"header only": {d.ids, b[:40]},
		"long":        {d.ids, append(slices.Clone(b), 0)},
		"other order": {swapped, b},
		"other ids":   {d.ids[:len(d.ids)-1], b},
		"version":     {d.ids, append([]byte("EGVG\x02"), b[5:]...)},
		"empty":       {d.ids, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			sub := &dataset{ids: c.ids}
			vecs := d.asMap()
			for _, id := range c.ids {
				sub.vecs = append(sub.vecs, vecs[id])
			}
			y, err := reload(t, sub, c.ids, c.graph, graphOpts(len(d.ids)/4))
			if !errors.Is(err, vector.ErrGraph) {
				t.Fatalf("err = %v, want ErrGraph", err)
			}
			vector.WaitBuild(y)
			if st := y.Stats(); !st.Approximate {
				t.Fatalf("no graph built after the refusal: %+v", st)
			}
		})
	}
	// A flipped byte in the links may still decode (the sealing catches
	// it); if it does, the graph must still be usable without panicking.
	y, err := reload(t, d, d.ids, flipped, graphOpts(len(d.ids)/4))
	if err == nil {
		y.Search(d.vecs[0], 10, nil)
	} else if !errors.Is(err, vector.ErrGraph) {
		t.Fatal(err)
	}
}

// OnGraph reports the graphs a Manager's indexes build, not those loaded.
func TestManagerOnGraph(t *testing.T) {
	const dim = 16
	d, _ := clusteredData(newRand(47), sized(2000), dim, 20, 0.05)
	m := vector.NewManager(0)
	m.SetIndexOptions(graphOpts(len(d.ids) / 4))
	built := make(chan string, 8)
	m.OnGraph(func(tenant string) { built <- tenant })
	x, err := m.Load("t", dim, func(add func(string, []float32) error) error {
		for i, id := range d.ids {
			if err := add(id, d.vecs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Drop("t")
	vector.WaitBuild(x)
	if tenant := <-built; tenant != "t" || !x.Stats().Approximate {
		t.Fatalf("OnGraph called for %q, stats %+v", tenant, x.Stats())
	}
	b := x.EncodeGraph(d.ids)
	y, err := m.LoadFill("u", dim, func(f *vector.Fill) error {
		for i, id := range d.ids {
			if err := f.Add(id, d.vecs[i]); err != nil {
				return err
			}
		}
		return f.Graph(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Drop("u")
	if !y.Stats().Approximate || len(built) != 0 {
		t.Fatalf("after a loaded graph: OnGraph called %d more times", len(built))
	}
}
