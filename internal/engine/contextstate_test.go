package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestVectorContextStates: with an embedder of pooled states (the
// built-in model, through the batcher), the vector rule stores the
// model's final layer over a turn's tokens pooled with those of the two
// turns before it (weights 1, 1); the result is the same one by one, in
// one request, and after the kept states are lost (a restart: the prior
// turns are embedded again), and the states are kept per tenant and go
// with their memory.
func TestVectorContextStates(t *testing.T) {
	m, err := uselite.New()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(batcher.New(m, 0), 1<<20), engine.WithVectorContext())
	nt, ctx := owner(t, e)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	turns := []string{"Erin bought a red car last week", "Yes it was amazing", "We drove to the coast"}
	add := turnAdder(t, e, ctx, turns)
	one, miss, batch := engram.Scope{UserID: "one"}, engram.Scope{UserID: "miss"}, engram.Scope{UserID: "batch"}
	var ids []string
	for i := range turns {
		ids = append(ids, add(one, i))
	}
	add(miss, 0)
	add(miss, 1)
	if got := engine.OwnVectors(e, nt.Tenant.ID); got != 5 {
		t.Fatalf("%d states kept, want 5", got)
	}
	engine.ForgetOwnVectors(e)
	missID := add(miss, 2)
	at := t0
	msgs := make([]engram.Message, len(turns))
	for i, text := range turns {
		msgs[i] = engram.Message{Role: "user", Content: text}
	}
	r, err := e.Add(ctx, engram.AddRequest{Messages: msgs, Scope: batch, Timestamp: &at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Search(ctx, engram.SearchRequest{Query: "car", Scope: one, Mode: engram.SearchVector}); err != nil {
		t.Fatal(err) // loads the index
	}
	vec := func(id string) []float32 {
		t.Helper()
		v, ok := engine.IndexedVector(e, nt.Tenant.ID, id)
		if !ok {
			t.Fatalf("%s is not indexed", id)
		}
		return v
	}
	sts, err := m.EmbedStates(context.Background(), turns)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := m.Embed(context.Background(), turns)
	want := [][]float32{own[0], m.Mix(sts[1], sts[:1], []float32{1}), m.Mix(sts[2], []embed.State{sts[1], sts[0]}, []float32{1, 1})}
	for i, id := range ids {
		if !slices.Equal(vec(id), want[i]) {
			t.Errorf("turn %d: stored vector is not the pooled rule's", i)
		}
		if !slices.Equal(vec(r[i].ID), want[i]) {
			t.Errorf("turn %d: one request gives another vector than one by one", i)
		}
	}
	if !slices.Equal(vec(missID), want[2]) {
		t.Error("after the states were lost, the prior turns embedded again give another vector")
	}
	if got := engine.OwnVectors(e, nt.Tenant.ID); got != 6 {
		t.Fatalf("%d states kept, want 6 (2 embedded again, 1 added, 3 of the request)", got)
	}
	if err := e.Delete(ctx, missID); err != nil {
		t.Fatal(err)
	}
	if got := engine.OwnVectors(e, nt.Tenant.ID); got != 5 {
		t.Fatalf("%d states kept after a delete, want 5", got)
	}
}
