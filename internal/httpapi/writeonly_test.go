package httpapi_test

import (
	"context"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestIdempotencyPerPrincipal: an Idempotency-Key belongs to the key that
// used it, and a replay shows only what the first answer showed. Before,
// any key of the tenant replaying another's Idempotency-Key (and body) got
// the memory's current decrypted text.
func TestIdempotencyPerPrincipal(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "acme")
	writer := writeOnlyKey(t, s, owner, "ingest")
	other := writeOnlyKey(t, s, owner, "intruder")

	req := client.AddRequest{Content: "Board meets Tuesday", UserID: "alice", IdempotencyKey: "k1"}
	first, err := writer.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	id := first[0].ID
	if _, err := owner.Update(ctx, id, "Board moved to the Zurich office, codeword Heron", nil); err != nil {
		t.Fatal(err)
	}

	// The same key retrying gets its first answer: same id and event, and
	// the text it sent, not the text stored now.
	again, err := writer.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0] != first[0] {
		t.Fatalf("replay = %+v, want the first answer %+v", again, first)
	}

	// Another key sending the same header and body is a fresh request in
	// its own key space: a new memory, not a replay of someone else's.
	stolen, err := other.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(stolen) != 1 || stolen[0].ID == id || stolen[0].Event != engram.EventAdd || stolen[0].Content != req.Content {
		t.Fatalf("another key's replay = %+v, want a fresh ADD", stolen)
	}
	// And with another body it is no conflict either: the key space is
	// not shared, so a 409 cannot tell which keys others used.
	third := writeOnlyKey(t, s, owner, "third")
	if _, err := third.Add(ctx, client.AddRequest{Content: "unrelated", IdempotencyKey: "k1"}); err != nil {
		t.Fatalf("another key reusing k1 with another body: %v", err)
	}
	// The first key's own record still conflicts on a different body.
	_, err = writer.Add(ctx, client.AddRequest{Content: "unrelated", IdempotencyKey: "k1"})
	wantCode(t, err, engram.CodeConflict)
}

// TestWriteOnlyKeyLearnsNothing: a key without memories:read gets back
// ids, events and what it sent, never anything read from the store.
func TestWriteOnlyKeyLearnsNothing(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner := s.Tenant(t, "acme")
	writer := writeOnlyKey(t, s, owner, "ingest")

	stored, err := owner.Add(ctx, client.AddRequest{Content: "Alice's PIN is 4512", UserID: "alice", AgentID: "bank",
		Metadata: map[string]any{"label": "private"}})
	if err != nil {
		t.Fatal(err)
	}
	id := stored[0].ID

	// A duplicate add is not an oracle: the write-only key's add stores
	// and answers ADD with a fresh id, exactly as for an unknown text.
	guess, err := writer.Add(ctx, client.AddRequest{Content: "Alice's PIN is 4512", UserID: "alice", AgentID: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	if guess[0].Event != engram.EventAdd || guess[0].ID == id {
		t.Fatalf("write-only duplicate add = %+v: confirms the stored text", guess[0])
	}
	// A key that may read still gets deduplication.
	dup, err := owner.Add(ctx, client.AddRequest{Content: "Alice's PIN is 4512", UserID: "alice", AgentID: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	if dup[0].Event != engram.EventNone || dup[0].ID != id {
		t.Fatalf("reader's duplicate add = %+v, want NONE with %s", dup[0], id)
	}

	// PUT answers the id and what was sent: not the old metadata, not the
	// scope, not the stored times.
	m, err := writer.Update(ctx, id, "Alice's PIN changed", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := engram.Memory{ID: id, Content: "Alice's PIN changed"}
	if m.ID != want.ID || m.Content != want.Content || m.UserID != "" || m.AgentID != "" || m.RunID != "" ||
		m.Metadata != nil || !m.CreatedAt.IsZero() || !m.UpdatedAt.IsZero() {
		t.Fatalf("write-only PUT answered %+v, want only %+v", m, want)
	}
	m, err = writer.Update(ctx, id, "Alice's PIN changed again", map[string]any{"label": "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Metadata["label"] != "mine" || m.UserID != "" {
		t.Fatalf("write-only PUT with metadata answered %+v", m)
	}
	// The update itself happened, scope and all.
	got, err := owner.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Content != "Alice's PIN changed again" || got.UserID != "alice" || got.AgentID != "bank" {
		t.Fatalf("stored after write-only PUT: %+v", got)
	}
	// A key that may read still gets the whole memory.
	m, err = owner.Update(ctx, id, "Alice's PIN changed at last", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.UserID != "alice" || m.Metadata["label"] != "mine" || m.CreatedAt.IsZero() {
		t.Fatalf("reader's PUT answered %+v", m)
	}
}

func writeOnlyKey(t *testing.T, s *testserver.Server, owner *client.Client, name string) *client.Client {
	t.Helper()
	k, err := owner.CreateKey(context.Background(), client.CreateKeyRequest{Name: name, Scopes: []engram.Permission{engram.PermMemoriesWrite}})
	if err != nil {
		t.Fatal(err)
	}
	return s.Client(k.Secret)
}
