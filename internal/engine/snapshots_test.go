package engine_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// snapEngine opens an engine with semantic search on dir, snapshotting
// tenants of any size (min 0: snapshots off, so every load reads the
// memories), and authenticates as the key's owner.
func snapEngine(t *testing.T, dir, secret string, min int) (*engine.Engine, context.Context) {
	t.Helper()
	e := testserver.OpenEngine(t, dir, nil, engine.WithEmbedder(embedtest.New(64), 1<<30))
	engine.SetSnapshotMin(e, min)
	if secret == "" {
		return e, nil
	}
	p, err := e.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return e, engram.WithPrincipal(context.Background(), p)
}

var snapQueries = []string{"coffee in lisbon", "river", "the museum at night", "train", "garden party", "a"}

// results runs every query in vector and hybrid mode in each scope and
// returns ids and scores, in order.
func results(t *testing.T, e *engine.Engine, ctx context.Context) []string {
	t.Helper()
	var out []string
	for _, scope := range []engram.Scope{{}, {UserID: "u0"}, {UserID: "u1"}} {
		for _, q := range snapQueries {
			for _, mode := range []string{engram.SearchVector, engram.SearchHybrid} {
				zero := 0.0
				hits, err := e.Search(ctx, engram.SearchRequest{Query: q, Scope: scope, Mode: mode, Limit: 20, Threshold: &zero})
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range hits {
					out = append(out, fmt.Sprintf("%s %s %s %.6f", mode, q, h.ID, h.Score))
				}
			}
		}
	}
	return out
}

func addN(t *testing.T, e *engine.Engine, ctx context.Context, r *rand.Rand, n int, user string) []string {
	t.Helper()
	msgs := make([]engram.Message, n)
	for i := range msgs {
		msgs[i] = engram.Message{Role: "user", Content: fmt.Sprintf("%s %d", text(r, 10), r.IntN(1000))}
	}
	res, err := e.Add(ctx, engram.AddRequest{Messages: msgs, Scope: engram.Scope{UserID: user}})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(res))
	for i := range res {
		ids[i] = res[i].ID
	}
	return ids
}

// TestVectorSnapshotNeverStale: a snapshot loaded after a restart never
// answers stale. Writes, an update and a deletion after it (by the engine
// that took it, which then stops without another snapshot) are replayed
// from the change log after the next engine loads it; results always
// equal a rebuild from the memories, and a fresh snapshot is then used,
// with the same results.
func TestVectorSnapshotNeverStale(t *testing.T) {
	dir := t.TempDir()
	a, _ := snapEngine(t, dir, "", 1)
	nt, ctx := owner(t, a)
	secret := nt.Key.Secret
	r := rand.New(rand.NewPCG(7, 8))
	var ids []string
	for i := range 6 {
		ids = append(ids, addN(t, a, ctx, r, 20, fmt.Sprint("u", i%3))...)
	}
	before := results(t, a, ctx) // loads the index from the memories
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Entries != len(ids) {
		t.Fatalf("snapshot holds %d entries, want %d", snap.Entries, len(ids))
	}

	// A restart with nothing changed: the snapshot is used, same results.
	b, bctx := snapEngine(t, dir, secret, 1)
	if got := results(t, b, bctx); !slices.Equal(got, before) {
		t.Fatalf("from the snapshot: results differ from the rebuild")
	}
	if n := engine.VectorSnapshotLoads(b); n != 1 {
		t.Fatalf("snapshot loads = %d, want 1", n)
	}

	// Changes after the snapshot, then a restart.
	addN(t, a, ctx, r, 15, "u1")
	if err := a.Delete(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Update(ctx, ids[10], engram.UpdateRequest{Content: "a river cruise at night past the museum"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Update(ctx, ids[11], engram.UpdateRequest{Content: "a garden party by the train station", Visibility: engram.VisibilityPrivate}); err != nil {
		t.Fatal(err)
	}
	rebuild, rctx := snapEngine(t, dir, secret, 0)
	want := results(t, rebuild, rctx)
	c, cctx := snapEngine(t, dir, secret, 1)
	if got := results(t, c, cctx); !slices.Equal(got, want) {
		t.Fatalf("after changes: results differ from a rebuild")
	}
	if n := engine.VectorSnapshotLoads(c); n != 1 {
		t.Fatalf("snapshot loads = %d, want 1 (the older snapshot, replayed)", n)
	}
	// c replayed the changes; its snapshot is current and used next.
	if err := engine.SaveIndexSnapshots(c, cctx); err != nil {
		t.Fatal(err)
	}
	d, dctx := snapEngine(t, dir, secret, 1)
	if got := results(t, d, dctx); !slices.Equal(got, want) {
		t.Fatalf("from the new snapshot: results differ from a rebuild")
	}
	if n := engine.VectorSnapshotLoads(d); n != 1 {
		t.Fatalf("snapshot loads = %d, want 1", n)
	}

	// Changes by d itself after its load are snapshotted at its shutdown.
	addN(t, d, dctx, r, 5, "u0")
	if err := d.Delete(dctx, ids[20]); err != nil {
		t.Fatal(err)
	}
	if err := engine.SaveIndexSnapshots(d, dctx); err != nil {
		t.Fatal(err)
	}
	rebuild2, r2ctx := snapEngine(t, dir, secret, 0)
	want = results(t, rebuild2, r2ctx)
	f, fctx := snapEngine(t, dir, secret, 1)
	if got := results(t, f, fctx); !slices.Equal(got, want) {
		t.Fatalf("from the shutdown snapshot: results differ from a rebuild")
	}
	if n := engine.VectorSnapshotLoads(f); n != 1 {
		t.Fatalf("snapshot loads = %d, want 1", n)
	}
	// An eviction reloads from the snapshot too.
	engine.DropVectorIndex(f, nt.Tenant.ID)
	if got := results(t, f, fctx); !slices.Equal(got, want) {
		t.Fatalf("after an eviction: results differ from a rebuild")
	}
	if n := engine.VectorSnapshotLoads(f); n != 2 {
		t.Fatalf("snapshot loads = %d, want 2", n)
	}
}

// TestVectorSnapshotForgetUser: erasing a user deletes the tenant's
// snapshots in the erasing transaction, and no later load brings the
// user's vectors back.
func TestVectorSnapshotForgetUser(t *testing.T) {
	dir := t.TempDir()
	a, _ := snapEngine(t, dir, "", 1)
	nt, ctx := owner(t, a)
	r := rand.New(rand.NewPCG(3, 4))
	gone := addN(t, a, ctx, r, 30, "u1")
	addN(t, a, ctx, r, 30, "u2")
	results(t, a, ctx)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ForgetUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("snapshot after ForgetUser: %v, want none", err)
	}
	b, bctx := snapEngine(t, dir, nt.Key.Secret, 1)
	for _, q := range snapQueries {
		zero := 0.0
		hits, err := b.Search(bctx, engram.SearchRequest{Query: q, Mode: engram.SearchVector, Limit: 100, Threshold: &zero})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if slices.Contains(gone, h.ID) || h.UserID == "u1" {
				t.Fatalf("a forgotten user's memory %s was found", h.ID)
			}
		}
	}
	if n := engine.VectorSnapshotLoads(b); n != 0 {
		t.Fatalf("snapshot loads = %d, want 0", n)
	}
	// The engine that erased dropped its index: its next snapshot holds
	// only u2.
	results(t, a, ctx)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	snap, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Entries != 30 {
		t.Fatalf("snapshot after the erasure holds %d entries, want 30", snap.Entries)
	}
}

// TestVectorSnapshotSealed: neither a snapshot's plaintext header nor a
// plaintext vector is anywhere in the database files.
func TestVectorSnapshotSealed(t *testing.T) {
	dir := t.TempDir()
	a, _ := snapEngine(t, dir, "", 1)
	_, ctx := owner(t, a)
	const content = "a lighthouse keeper named Odile paints the harbour at dawn"
	if _, err := a.Add(ctx, engram.AddRequest{Messages: []engram.Message{{Role: "user", Content: content}}, Scope: engram.Scope{UserID: "marker"}}); err != nil {
		t.Fatal(err)
	}
	addN(t, a, ctx, rand.New(rand.NewPCG(5, 6)), 20, "u0")
	results(t, a, ctx)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	vs, err := embedtest.New(64).Embed(ctx, []string{content})
	if err != nil {
		t.Fatal(err)
	}
	vec := make([]byte, 0, 4*len(vs[0]))
	for _, f := range vs[0] {
		vec = binary.LittleEndian.AppendUint32(vec, math.Float32bits(f))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "engram.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, marker := range [][]byte{[]byte("EGVS\x01"), vec[:64]} {
			if bytes.Contains(b, marker) {
				t.Fatalf("%s holds snapshot plaintext %q", filepath.Base(f), marker[:8])
			}
		}
	}
	// The marker test must bite: the snapshot is there, sealed.
	if _, err := engine.VectorSnapshot(a, ctx, engram.PrincipalFrom(ctx).TenantID); err != nil {
		t.Fatal(err)
	}
}

// TestVectorSnapshotTooOld: a snapshot more changes behind the store than
// a catch-up replays is not loaded: the index is rebuilt from the
// memories, with the same results.
func TestVectorSnapshotTooOld(t *testing.T) {
	dir := t.TempDir()
	a, _ := snapEngine(t, dir, "", 1)
	nt, ctx := owner(t, a)
	r := rand.New(rand.NewPCG(9, 10))
	addN(t, a, ctx, r, 10, "u0")
	results(t, a, ctx)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	if snap, err := engine.VectorSnapshot(a, ctx, nt.Tenant.ID); err != nil || snap.Entries != 10 {
		t.Fatalf("snapshot: %v %v", snap, err)
	}
	// No newer snapshot from a; 2,100 changes: more than a catch-up replays.
	engine.SetSnapshotMin(a, 0)
	for range 21 {
		addN(t, a, ctx, r, 100, "u1")
	}
	rebuild, rctx := snapEngine(t, dir, nt.Key.Secret, 0)
	want := results(t, rebuild, rctx)
	b, bctx := snapEngine(t, dir, nt.Key.Secret, 1)
	if got := results(t, b, bctx); !slices.Equal(got, want) {
		t.Fatalf("results differ from a rebuild")
	}
	if n := engine.VectorSnapshotLoads(b); n != 0 {
		t.Fatalf("a snapshot 2,100 changes old was loaded (%d)", n)
	}
}
