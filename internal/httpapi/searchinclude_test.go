package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestSearchIncludeFacts: POST /v1/search answers memories only by default;
// with "include": ["memories", "facts"] it adds the user's facts, ranked
// and scored, and nobody else's; with ["facts"] alone it ranks no memory.
// A part it does not know is a 400.
func TestSearchIncludeFacts(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	keyOf := func(name string) (string, context.Context) {
		nt, err := s.Engine.CreateTenant(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Engine.Authenticate(ctx, nt.Key.Secret)
		if err != nil {
			t.Fatal(err)
		}
		return nt.Key.Secret, engram.WithPrincipal(ctx, p)
	}
	key, pctx := keyOf("acme")
	otherKey, otherCtx := keyOf("globex")
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	observe := func(ctx context.Context, user, text string) {
		t.Helper()
		if _, err := s.Engine.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: user},
			Messages: []engram.ObserveMessage{{Role: "user", Name: "Alice", Content: text, Timestamp: &at}}}); err != nil {
			t.Fatal(err)
		}
	}
	observe(pctx, "alice", "I work at Zentrix.")
	observe(pctx, "alice", "I live in Lisbon.")
	observe(pctx, "bob", "I work at Initech.")
	observe(otherCtx, "alice", "I work at Hooli.")

	type answer struct {
		Results []struct {
			ID     string `json:"id"`
			Memory string `json:"memory"`
		} `json:"results"`
		Facts *[]struct {
			Fact      string   `json:"fact"`
			Predicate string   `json:"predicate"`
			Score     *float64 `json:"score"`
			Subject   struct {
				Name string `json:"name"`
			} `json:"subject"`
		} `json:"facts"`
	}
	ask := func(key, body string) answer {
		t.Helper()
		status, raw := call(t, s, key, http.MethodPost, "/v1/search", body)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", body, status, raw)
		}
		var a answer
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}

	// Default: memories only, no "facts" key at all.
	a := ask(key, `{"query": "Where does Alice work?", "user_id": "alice", "threshold": 0}`)
	if len(a.Results) == 0 || a.Facts != nil {
		t.Fatalf("default: %+v", a)
	}

	a = ask(key, `{"query": "Where does Alice work?", "user_id": "alice", "threshold": 0, "include": ["memories", "facts"]}`)
	if len(a.Results) == 0 || a.Facts == nil || len(*a.Facts) == 0 {
		t.Fatalf("memories and facts: %+v", a)
	}
	best := (*a.Facts)[0]
	if best.Predicate != "works_at" || !strings.Contains(best.Fact, "Zentrix") || best.Score == nil || *best.Score <= 0 || *best.Score > 1 {
		t.Errorf("best fact: %+v", best)
	}
	for _, f := range *a.Facts {
		if strings.Contains(f.Fact, "Initech") || strings.Contains(f.Fact, "Hooli") {
			t.Errorf("alice's search carries another user's or tenant's fact %q", f.Fact)
		}
	}

	// Facts alone: no memory is ranked.
	a = ask(key, `{"query": "Where does Alice work?", "user_id": "alice", "include": ["facts"]}`)
	if len(a.Results) != 0 || a.Facts == nil || len(*a.Facts) == 0 {
		t.Fatalf("facts only: %+v", a)
	}

	// The other tenant sees its own fact only.
	a = ask(otherKey, `{"query": "Where does Alice work?", "user_id": "alice", "include": ["facts"]}`)
	if a.Facts == nil || len(*a.Facts) != 1 || !strings.Contains((*a.Facts)[0].Fact, "Hooli") {
		t.Fatalf("other tenant: %+v", a)
	}

	// Asked for, nothing matching: an empty list, not an absent key.
	a = ask(key, `{"query": "Where does Carol work?", "user_id": "carol", "include": ["facts"]}`)
	if a.Facts == nil || len(*a.Facts) != 0 {
		t.Fatalf("no facts: %+v", a)
	}

	status, raw := call(t, s, key, http.MethodPost, "/v1/search", `{"query": "x", "include": ["episodes"]}`)
	if status != http.StatusBadRequest || !strings.Contains(raw, `"code":"invalid"`) || strings.Contains(raw, "episodes") {
		t.Fatalf("unknown part: %d %s", status, raw)
	}
}
