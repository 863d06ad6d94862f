package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/search/vector"
	"github.com/engram-memory/engram/internal/store"
)

// graphOpts make a small tenant's index approximate, with a beam wider
// than the index, so that a graph search answers as a scan does and
// results compare across graphs built apart.
var graphOpts = vector.Options{ApproxThreshold: 100, EfSearch: 1000, Seed: 3}

// graphEngine is snapEngine whose indexes build graphs from 100 vectors.
func graphEngine(t *testing.T, dir, secret string, min int) (*engine.Engine, context.Context) {
	t.Helper()
	e, ctx := snapEngine(t, dir, secret, min)
	engine.SetVectorOptions(e, graphOpts)
	return e, ctx
}

// settled waits until the tenant's index serves a graph.
func settled(t *testing.T, e *engine.Engine, tenantID string) vector.Stats {
	t.Helper()
	for {
		st, ok := e.VectorIndexStats(tenantID)
		if !ok {
			t.Fatal("index not loaded")
		}
		if st.Approximate && !st.Building {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestVectorSnapshotGraph: the snapshot of an index that built its graph
// holds the graph; a restart installs it (no build) and answers as the
// engine that built it, writes after the load go into the loaded graph,
// and the next snapshot holds them.
func TestVectorSnapshotGraph(t *testing.T) {
	dir := t.TempDir()
	a, _ := graphEngine(t, dir, "", 1)
	nt, ctx := owner(t, a)
	r := rand.New(rand.NewPCG(11, 12))
	var ids []string
	for i := range 6 {
		ids = append(ids, addN(t, a, ctx, r, 50, fmt.Sprint("u", i%3))...)
	}
	results(t, a, ctx) // loads from the memories; the graph builds after
	settled(t, a, nt.Tenant.ID)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	h, _, err := engine.GraphSnapshot(a, ctx, nt.Tenant.ID)
	if err != nil {
		t.Fatalf("no graph snapshot: %v", err)
	}
	vs, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID)
	if err != nil || vs.ID != h.ID || h.Entries != len(ids) {
		t.Fatalf("graph snapshot %+v, vector snapshot %+v (%v)", h, vs, err)
	}
	before := results(t, a, ctx)

	b, bctx := graphEngine(t, dir, nt.Key.Secret, 1)
	if got := results(t, b, bctx); !slices.Equal(got, before) {
		t.Fatal("with the loaded graph: results differ from the engine that built it")
	}
	if n, g := engine.VectorSnapshotLoads(b), engine.VectorGraphLoads(b); n != 1 || g != 1 {
		t.Fatalf("snapshot loads %d, graph loads %d; want 1 and 1", n, g)
	}
	if st, _ := b.VectorIndexStats(nt.Tenant.ID); !st.Approximate || st.Building || st.EfSearch != graphOpts.EfSearch {
		t.Fatalf("after a load with the graph: %+v", st)
	}

	// Writes after the load: into the loaded graph, and found.
	addN(t, b, bctx, r, 20, "u1")
	var added []string
	fresh := []string{"quokka saxophone", "axolotl lantern", "narwhal teapot"}
	for i, text := range fresh {
		// Each its user's first memory: embedded without context.
		res, err := b.Add(bctx, engram.AddRequest{Messages: []engram.Message{{Role: "user", Content: text}},
			Scope: engram.Scope{UserID: fmt.Sprint("v", i)}})
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, res[0].ID)
	}
	if err := b.Delete(bctx, ids[7]); err != nil {
		t.Fatal(err)
	}
	want := exactResults(t, dir, nt.Key.Secret)
	got := results(t, b, bctx)
	agree(t, got, want)
	for i, id := range added {
		hits, err := b.Search(bctx, engram.SearchRequest{Query: fresh[i], Mode: engram.SearchVector, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("memory %s written after the load: search found %v", id, hits)
		}
	}
	if slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, ids[7]) }) {
		t.Fatal("a memory deleted after the load was found")
	}
	if err := engine.SaveIndexSnapshots(b, bctx); err != nil {
		t.Fatal(err)
	}
	c, cctx := graphEngine(t, dir, nt.Key.Secret, 1)
	if got2 := results(t, c, cctx); !slices.Equal(got2, results(t, b, bctx)) {
		t.Fatal("from the next snapshot: results differ from the engine that took it")
	}
	if g := engine.VectorGraphLoads(c); g != 1 {
		t.Fatalf("graph loads %d, want 1", g)
	}
}

// exactResults are the results of an engine on dir whose indexes never
// build a graph.
func exactResults(t *testing.T, dir, secret string) []string {
	t.Helper()
	e, ctx := snapEngine(t, dir, secret, 0)
	engine.SetVectorOptions(e, vector.Options{ApproxThreshold: -1})
	return results(t, e, ctx)
}

// agree fails unless got holds nearly all of want: a graph search may
// miss a node no link leads to, even with a beam as wide as the index.
func agree(t *testing.T, got, want []string) {
	t.Helper()
	n := 0
	for _, l := range want {
		if slices.Contains(got, l) {
			n++
		}
	}
	if n < len(want)*9/10 || len(got) != len(want) {
		t.Fatalf("graph results hold %d of %d exact results (%d results)", n, len(want), len(got))
	}
}

// TestVectorSnapshotGraphRefused: a graph chunk altered, cut short, of
// another snapshot of the tenant or of another tenant does not open; the
// vectors still load from the snapshot, the index builds its own graph,
// and results equal a rebuild's.
func TestVectorSnapshotGraphRefused(t *testing.T) {
	dir := t.TempDir()
	a, _ := graphEngine(t, dir, "", 1)
	nt, ctx := owner(t, a)
	other, octx := ownerOf(t, a, "other")
	r := rand.New(rand.NewPCG(13, 14))
	for i := range 3 {
		addN(t, a, ctx, r, 60, fmt.Sprint("u", i))
		addN(t, a, octx, r, 60, fmt.Sprint("u", i))
	}
	results(t, a, ctx)
	results(t, a, octx)
	settled(t, a, nt.Tenant.ID)
	settled(t, a, other.Tenant.ID)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	first, firstChunk, err := engine.GraphSnapshot(a, ctx, nt.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, otherChunk, err := engine.GraphSnapshot(a, octx, other.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	// A second snapshot of the tenant (a write, then a shutdown).
	addN(t, a, ctx, r, 5, "u0")
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	h, chunk, err := engine.GraphSnapshot(a, ctx, nt.Tenant.ID)
	if err != nil || h.ID == first.ID {
		t.Fatalf("no second graph snapshot (%v)", err)
	}
	want := exactResults(t, dir, nt.Key.Secret)

	body := func(b []byte) *store.IndexSnapshotChunk {
		c := *chunk
		c.Body = b
		return &c
	}
	flipped := slices.Clone(chunk.Body)
	flipped[len(flipped)/2] ^= 1
	older := *firstChunk
	older.SnapshotID = h.ID
	foreign := *otherChunk
	foreign.TenantID, foreign.SnapshotID = nt.Tenant.ID, h.ID
	var vecChunk *store.IndexSnapshotChunk
	if err := engine.ReadVectorChunk(a, ctx, nt.Tenant.ID, h.ID, 0, func(c *store.IndexSnapshotChunk) { vecChunk = c }); err != nil {
		t.Fatal(err)
	}
	vc := *vecChunk
	vc.Kind, vc.Seq = chunk.Kind, 0
	// The intact chunk first: an engine that refuses one builds its own
	// graph, and snapshots it.
	cases := []struct {
		name string
		c    *store.IndexSnapshotChunk
	}{
		{"intact", chunk},
		{"altered", body(flipped)},
		{"truncated", body(chunk.Body[:len(chunk.Body)-16])},
		{"other snapshot", &older},
		{"other tenant", &foreign},
		{"empty", body([]byte{})},
		{"vector chunk", &vc},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Named by the current vector snapshot, so that it is read.
			vs, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID)
			if err != nil {
				t.Fatal(err)
			}
			hh, c := *h, *tc.c
			hh.ID, hh.Gen, c.SnapshotID = vs.ID, vs.Gen, vs.ID
			if err := engine.PutGraphSnapshot(a, ctx, &hh, &c); err != nil {
				t.Fatal(err)
			}
			e, ectx := graphEngine(t, dir, nt.Key.Secret, 1)
			got := results(t, e, ectx)
			wantGraph := int64(0)
			if tc.c == chunk {
				wantGraph = 1
			}
			if n, g := engine.VectorSnapshotLoads(e), engine.VectorGraphLoads(e); n != 1 || g != wantGraph {
				t.Fatalf("snapshot loads %d, graph loads %d; want 1 and %d", n, g, wantGraph)
			}
			settled(t, e, nt.Tenant.ID)
			agree(t, got, want)
			agree(t, results(t, e, ectx), want)
			if err := engine.SaveIndexSnapshots(e, ectx); err != nil { // and wait for the background ones
				t.Fatal(err)
			}
		})
	}
}
