package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/engram-memory/engram"
)

// TestObserveIdempotentRetry: a retried Observe with the same
// Idempotency-Key answers its first episode again, and stores no second
// one (which would add its id to every fact, inflating patterns); the key
// with another conversation is a conflict; a write-only key's replay holds
// no more than its first answer.
func TestObserveIdempotentRetry(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	observe(t, e, ctx, "alice", "My friend Ivo Lind lives in Oslo.", "2023-12-01")
	req := engram.ObserveRequest{Scope: engram.Scope{UserID: "alice"}, IdempotencyKey: "k-1", Metadata: map[string]any{"src": "chat"},
		Messages: []engram.ObserveMessage{{Role: "user", Content: "I live in Oslo. Ivo Lind works at Acme.", Timestamp: day("2024-01-01")},
			{Role: "assistant", Content: "Good to know."}}}
	first, err := e.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Facts) != 2 {
		t.Fatalf("first answer: %d facts", len(first.Facts))
	}
	again, err := e.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Errorf("the retry answers\n%s\nnot the first answer\n%s", b, a)
	}
	eps, _, err := e.Episodes(ctx, engram.Scope{UserID: "alice"}, "", 10)
	if err != nil || len(eps) != 2 {
		t.Errorf("%d episodes after a retry, want 2 (%v)", len(eps), err)
	}
	fs, err := e.Facts(ctx, engram.FactQuery{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if len(f.Episodes) != 1 {
			t.Errorf("fact %q rests on %d episodes after a retry, want 1", f.Fact, len(f.Episodes))
		}
	}
	other := req
	other.Messages = []engram.ObserveMessage{{Role: "user", Content: "I live in Bergen.", Timestamp: day("2024-01-01")}}
	_, err = e.Observe(ctx, other)
	obsWantCode(t, err, engram.CodeConflict)
	other = req
	other.Metadata = map[string]any{"src": "mail"}
	_, err = e.Observe(ctx, other)
	obsWantCode(t, err, engram.CodeConflict)

	wo := keyCtx(t, e, ctx, "writer", engram.PermMemoriesWrite)
	req.IdempotencyKey = "k-2"
	req.Messages[0].Content = "I work at Initech."
	w1, err := e.Observe(wo, req)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := e.Observe(wo, req)
	if err != nil {
		t.Fatal(err)
	}
	a, _ = json.Marshal(w1)
	b, _ = json.Marshal(w2)
	if string(a) != string(b) || len(w2.Entities)+len(w2.Facts) != 0 {
		t.Errorf("write-only retry answers\n%s\nnot\n%s", b, a)
	}
	// Another key's same Idempotency-Key is its own request.
	if w3, err := e.Observe(ctx, req); err != nil || w3.ID == w1.ID {
		t.Errorf("another key replayed the writer's episode: %v", err)
	}
}
