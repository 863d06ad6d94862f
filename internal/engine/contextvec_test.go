package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// recordingEmbedder remembers every text it was asked to embed.
type recordingEmbedder struct {
	*embedtest.Embedder
	mu    sync.Mutex
	calls [][]string
}

func (r *recordingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(texts))
	r.mu.Unlock()
	return r.Embedder.Embed(ctx, texts)
}

func (r *recordingEmbedder) take() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// TestContextWithoutReembedding: with WithVectorContext, a memory's vector carries the memories
// written just before it in its scope (a reply is found by its
// question's words), each text is embedded once, alone, and a turn sent
// in one request with its predecessors gets the vector it gets when they
// are sent one by one.
func TestContextWithoutReembedding(t *testing.T) {
	emb := &recordingEmbedder{Embedder: embedtest.New(32, []string{"car", "automobile"})}
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(emb, 1<<20), engine.WithVectorContext())
	_, ctx := owner(t, e)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	turns := []string{"Erin bought an automobile", "Yes it was amazing", "We drove to the coast"}

	one := engram.Scope{UserID: "one"}
	for i, text := range turns {
		if _, err := e.Add(ctx, engram.AddRequest{Content: text, Scope: one, Timestamp: at(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range emb.take() {
		if !slices.Equal(c, turns[i:i+1]) {
			t.Fatalf("add %d embedded %q, want its own text only", i, c)
		}
	}
	batch := engram.Scope{UserID: "batch"}
	msgs := make([]engram.Message, len(turns))
	for i, text := range turns {
		msgs[i] = engram.Message{Role: "user", Content: text}
	}
	if _, err := e.Add(ctx, engram.AddRequest{Messages: msgs, Scope: batch, Timestamp: at(0)}); err != nil {
		t.Fatal(err)
	}
	if c := emb.take(); len(c) != 1 || !slices.Equal(c[0], turns) {
		t.Fatalf("a request of %d turns embedded %q, want one call of the turns", len(turns), c)
	}
	// Hours later: no context across conversations.
	if _, err := e.Add(ctx, engram.AddRequest{Content: "Yes it was amazing too", Scope: one, Timestamp: at(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	zero := 0.0
	scores := func(scope engram.Scope) map[string]float64 {
		t.Helper()
		hits, err := e.Search(ctx, engram.SearchRequest{Query: "car", Scope: scope, Mode: engram.SearchVector, Threshold: &zero, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, h := range hits {
			out[h.Content] = h.Score
		}
		return out
	}
	s1, s2 := scores(one), scores(batch)
	for _, text := range turns {
		if s1[text] <= 0 {
			t.Fatalf("%q is not found by its context's words: %v", text, s1)
		}
		if s1[text] != s2[text] {
			t.Fatalf("%q: one by one %v, in one request %v", text, s1[text], s2[text])
		}
	}
	if !(s1[turns[0]] > s1[turns[1]] && s1[turns[1]] > s1[turns[2]]) {
		t.Fatalf("context should fade with distance: %v", s1)
	}
	if s1["Yes it was amazing too"] > 0 {
		t.Fatalf("context crossed a 3-hour gap: %v", s1)
	}
}

// TestTextContext: by default, with an embedder without pooled states, a
// memory is embedded with the text of the turns before it (at most two,
// within ten minutes).
func TestTextContext(t *testing.T) {
	emb := &recordingEmbedder{Embedder: embedtest.New(32)}
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(emb, 1<<20))
	_, ctx := owner(t, e)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	scope := engram.Scope{UserID: "u"}
	for i, text := range []string{"one", "two", "three", "four"} {
		at := t0.Add(time.Duration(i) * time.Minute)
		if i == 3 {
			at = t0.Add(time.Hour)
		}
		if _, err := e.Add(ctx, engram.AddRequest{Content: text, Scope: scope, Timestamp: &at}); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"one"}, {"one\ntwo"}, {"one\ntwo\nthree"}, {"four"}}
	if got := emb.take(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("embedded %q, want %q", got, want)
	}
}

// TestVectorContextMiss: a prior turn whose own embedding is not in memory
// (a restart, another node) is embedded again, alone, in the same call,
// and the memory gets exactly the vector it gets when it is in memory.
func TestVectorContextMiss(t *testing.T) {
	emb := &recordingEmbedder{Embedder: embedtest.New(32, []string{"car", "automobile"})}
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(emb, 1<<20), engine.WithVectorContext())
	nt, ctx := owner(t, e)
	turns := []string{"Erin bought an automobile", "Yes it was amazing", "We drove to the coast"}
	add := turnAdder(t, e, ctx, turns)
	hit, miss := engram.Scope{UserID: "hit"}, engram.Scope{UserID: "miss"}
	var hitID, missID string
	for i := range turns {
		hitID = add(hit, i)
	}
	add(miss, 0)
	add(miss, 1)
	emb.take()
	engine.ForgetOwnVectors(e)
	missID = add(miss, 2)
	want := [][]string{{turns[2], turns[0], turns[1]}}
	if got := emb.take(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after a restart embedded %q, want %q", got, want)
	}
	if engine.OwnVectors(e, nt.Tenant.ID) != 3 {
		t.Fatalf("%d own embeddings kept, want the two re-embedded and the new one", engine.OwnVectors(e, nt.Tenant.ID))
	}
	if _, err := e.Search(ctx, engram.SearchRequest{Query: "car", Scope: hit, Mode: engram.SearchVector}); err != nil {
		t.Fatal(err) // loads the index
	}
	a, ok1 := engine.IndexedVector(e, nt.Tenant.ID, hitID)
	b, ok2 := engine.IndexedVector(e, nt.Tenant.ID, missID)
	if !ok1 || !ok2 || !slices.Equal(a, b) {
		t.Fatalf("a miss gave another vector than a hit (%v %v)", ok1, ok2)
	}
}

// TestVectorContextErasure: own embeddings kept in memory are derived from
// plaintext; they go with their memory, their user and their tenant, and
// only those.
func TestVectorContextErasure(t *testing.T) {
	emb := embedtest.New(32)
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(emb, 1<<20), engine.WithVectorContext())
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	type tn struct {
		nt  *engram.NewTenant
		ctx context.Context
		ids []string
	}
	var ts []*tn
	for _, name := range []string{"a", "b"} {
		nt, ctx := importTenant(t, e, name)
		x := &tn{nt: nt, ctx: ctx}
		for i, text := range []string{"one", "two", "three"} {
			at := t0.Add(time.Duration(i) * time.Minute)
			r, err := e.Add(ctx, engram.AddRequest{Content: text, Scope: engram.Scope{UserID: "u"}, Timestamp: &at})
			if err != nil {
				t.Fatal(err)
			}
			x.ids = append(x.ids, r[0].ID)
		}
		ts = append(ts, x)
	}
	count := func() [2]int {
		return [2]int{engine.OwnVectors(e, ts[0].nt.Tenant.ID), engine.OwnVectors(e, ts[1].nt.Tenant.ID)}
	}
	if got := count(); got != [2]int{3, 3} {
		t.Fatalf("kept %v, want 3 per tenant", got)
	}
	if err := e.Delete(ts[0].ctx, ts[0].ids[1]); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != [2]int{2, 3} {
		t.Fatalf("after a delete kept %v", got)
	}
	if _, err := e.ForgetUser(ts[0].ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != [2]int{0, 3} {
		t.Fatalf("after erasing a's user kept %v", got)
	}
	if _, err := e.ForgetTenant(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != [2]int{0, 0} {
		t.Fatalf("after erasing tenant b kept %v", got)
	}
}

// turnAdder returns add(scope, i): turns[i] added in scope i minutes after
// 10:00 on 1 May 2026, returning its id.
func turnAdder(t *testing.T, e *engine.Engine, ctx context.Context, turns []string) func(engram.Scope, int) string {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	return func(scope engram.Scope, i int) string {
		t.Helper()
		at := t0.Add(time.Duration(i) * time.Minute)
		r, err := e.Add(ctx, engram.AddRequest{Content: turns[i], Scope: scope, Timestamp: &at})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].ID
	}
}

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

// TestDefaultContextRule: without an option, an engine pools states when
// its embedder has them (the built-in model, also through the batcher),
// and embeds text otherwise; the options override it.
func TestDefaultContextRule(t *testing.T) {
	m, err := uselite.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []engine.Option
		want bool
	}{
		{"built-in", []engine.Option{engine.WithEmbedder(m, 1<<20)}, true},
		{"built-in, batched", []engine.Option{engine.WithEmbedder(batcher.New(m, 0), 1<<20)}, true},
		{"without states", []engine.Option{engine.WithEmbedder(embedtest.New(8), 1<<20)}, false},
		{"without states, batched", []engine.Option{engine.WithEmbedder(batcher.New(embedtest.New(8), 0), 1<<20)}, false},
		{"text chosen", []engine.Option{engine.WithEmbedder(m, 1<<20), engine.WithTextContext()}, false},
		{"vector chosen", []engine.Option{engine.WithEmbedder(embedtest.New(8), 1<<20), engine.WithVectorContext()}, true},
	} {
		e, _ := testserver.NewEngine(t, c.opts...)
		if got := engine.VectorContext(e); got != c.want {
			t.Errorf("%s: vector context %v, want %v", c.name, got, c.want)
		}
	}
}
