package engine_test

import (
	"context"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// turn is one message of the graph tests' conversation.
type turn struct{ speaker, text, day string }

// graphTurns: Alice names Quill (a person) once and a quill pen once, and
// says where she works; Bob joins her employer. The
// first memory is the oldest, so ties go against it.
var graphTurns = []turn{
	{"Alice", "Quill phoned me at the market today.", "2024-03-01"},
	{"Alice", "I bought a quill pen at the market.", "2024-03-02"},
	{"Alice", "I work at Zentrix.", "2024-03-03"},
	{"Bob", "I got a job at Zentrix.", "2024-03-04"},
}

// seed writes graphTurns in scope, through Observe when observe is set,
// else as plain memories (no entities), and returns the memories' ids.
func seed(t *testing.T, e *engine.Engine, ctx context.Context, scope engram.Scope, observe bool) []string {
	t.Helper()
	var ids []string
	for _, tu := range graphTurns {
		if observe {
			ep, err := e.Observe(ctx, engram.ObserveRequest{Scope: scope,
				Messages: []engram.ObserveMessage{{Role: "user", Name: tu.speaker, Content: tu.text, Timestamp: day(tu.day)}}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ep.Memories[0].ID)
			continue
		}
		rs, err := e.Add(ctx, engram.AddRequest{Content: tu.text, Scope: scope, Timestamp: day(tu.day)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rs[0].ID)
	}
	return ids
}

func search(t *testing.T, e *engine.Engine, ctx context.Context, scope engram.Scope, q string) []engram.SearchHit {
	t.Helper()
	zero := 0.0
	hits, err := e.Search(ctx, engram.SearchRequest{Query: q, Scope: scope, Limit: 10, Explain: true, Threshold: &zero})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func rankOf(hits []engram.SearchHit, id string) int {
	for i, h := range hits {
		if h.ID == id {
			return i + 1
		}
	}
	return 0
}

// TestSearchGraphSignal: the same memories, written as plain memories in
// one tenant and through Observe in another. A query naming Quill ranks
// the memory that mentions the person above the one about a quill pen only
// with the graph; a query naming Alice finds Bob's memory about her
// employer (one hop: Alice works at Zentrix) only with the graph. The
// graph orders hits and leaves Score alone.
func TestSearchGraphSignal(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	scope := engram.Scope{UserID: "u1"}
	plainCtx, obsCtx := tenantCtx(t, e, "plain"), tenantCtx(t, e, "observed")
	plain := seed(t, e, plainCtx, scope, false)
	obs := seed(t, e, obsCtx, scope, true)

	const q = "What did Quill say?"
	without, with := search(t, e, plainCtx, scope, q), search(t, e, obsCtx, scope, q)
	if r := rankOf(without, plain[0]); r < 2 {
		t.Fatalf("without the graph the Quill memory ranks %d: the test needs it behind the quill pen (%+v)", r, without)
	}
	if r := rankOf(with, obs[0]); r != 1 {
		t.Fatalf("with the graph the Quill memory ranks %d, want 1", r)
	}
	if x := with[0].Explain; x.Graph <= 0 {
		t.Errorf("explain of the Quill memory: graph %v", x.Graph)
	}
	for _, h := range with {
		if h.ID == obs[1] && h.Explain.Graph != 0 {
			t.Errorf("the quill pen memory got graph %v", h.Explain.Graph)
		}
		for _, w := range without {
			if w.Content == h.Content && w.Score != h.Score {
				t.Errorf("%q: score %v with the graph, %v without", h.Content, h.Score, w.Score)
			}
		}
	}

	const hop = "Where does Alice work these days?"
	without, with = search(t, e, plainCtx, scope, hop), search(t, e, obsCtx, scope, hop)
	if r := rankOf(without, plain[3]); r != 0 {
		t.Fatalf("without the graph the Zentrix memory is found (rank %d): the test needs it out of reach", r)
	}
	r := rankOf(with, obs[3])
	if r == 0 {
		t.Fatalf("with the graph the one-hop memory is not found: %+v", with)
	}
	if x := with[r-1].Explain; x.Graph <= 0 || x.BM25 != 0 {
		t.Errorf("one-hop memory explain: %+v", x)
	}
	// A neighbour counts less than the entity named: Alice's own
	// statement outranks Bob's.
	if r2 := rankOf(with, obs[2]); r2 == 0 || r2 > r {
		t.Errorf("Alice's own memory ranks %d, the one-hop memory %d", r2, r)
	}
}

// TestSearchGraphIsolation: the graph signal never crosses tenants, users,
// or the scope's agent and run.
func TestSearchGraphIsolation(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	ctx := tenantCtx(t, e, "one")
	other := tenantCtx(t, e, "two")
	u1 := engram.Scope{UserID: "u1", AgentID: "a1"}
	obs := seed(t, e, ctx, u1, true)
	// Tenant two and user u2 hold the same text without entities.
	seed(t, e, other, u1, false)
	u2 := engram.Scope{UserID: "u2"}
	seed(t, e, ctx, u2, false)

	const q = "What did Quill say to Alice?"
	noGraph := func(name string, hits []engram.SearchHit, scope engram.Scope) {
		t.Helper()
		for _, h := range hits {
			if h.Explain.Graph != 0 {
				t.Errorf("%s: %q has graph %v", name, h.Content, h.Explain.Graph)
			}
			if (scope.UserID != "" && h.UserID != scope.UserID) || (scope.AgentID != "" && h.AgentID != scope.AgentID) {
				t.Errorf("%s: hit of %s/%s outside the scope", name, h.UserID, h.AgentID)
			}
		}
	}
	// The observing user's own search uses the graph.
	if hits := search(t, e, ctx, u1, q); rankOf(hits, obs[0]) != 1 || hits[0].Explain.Graph <= 0 {
		t.Fatalf("u1: %+v", hits)
	}
	noGraph("tenant two", search(t, e, other, u1, q), u1)
	noGraph("user u2", search(t, e, ctx, u2, q), u2)
	// Unscoped: the tenant's shared entities (user ""), of which there are none.
	noGraph("whole tenant", search(t, e, ctx, engram.Scope{}, q), engram.Scope{})
	// u1's entities, searched as another agent (which has a memory of its
	// own, so the search has candidates to add the graph's to): none of
	// a1's memories come back.
	a2 := engram.Scope{UserID: "u1", AgentID: "a2"}
	if _, err := e.Add(ctx, engram.AddRequest{Content: "Say hello to Alice for me.", Scope: a2}); err != nil {
		t.Fatal(err)
	}
	hits := search(t, e, ctx, a2, q)
	if len(hits) != 1 || hits[0].AgentID != "a2" {
		t.Errorf("agent a2: %+v", hits)
	}
}
