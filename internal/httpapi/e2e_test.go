package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := client.Code(err); got != code {
		t.Fatalf("want error code %q, got %v", code, err)
	}
}

// TestMemoryLifecycle walks every memory endpoint through the Go client.
func TestMemoryLifecycle(t *testing.T) {
	s := testserver.Start(t)
	c := s.Tenant(t, "acme")
	ctx := context.Background()

	res, err := c.Add(ctx, client.AddRequest{Content: "Alice prefers green tea in the morning", UserID: "alice", AgentID: "planner", Metadata: map[string]any{"source": "chat", "n": 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Event != engram.EventAdd || res[0].ID == "" {
		t.Fatalf("add: %+v", res)
	}
	id := res[0].ID

	// An exact duplicate in the same scope is not stored again.
	dup, err := c.Add(ctx, client.AddRequest{Content: "Alice prefers green tea in the morning", UserID: "alice", AgentID: "planner"})
	if err != nil {
		t.Fatal(err)
	}
	if dup[0].Event != engram.EventNone || dup[0].ID != id {
		t.Fatalf("duplicate: %+v", dup)
	}
	// The same text in another scope is a new memory.
	other, err := c.Add(ctx, client.AddRequest{Content: "Alice prefers green tea in the morning", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if other[0].Event != engram.EventAdd || other[0].ID == id {
		t.Fatalf("other scope: %+v", other)
	}

	m, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Content != "Alice prefers green tea in the morning" || m.UserID != "alice" || m.AgentID != "planner" || m.Metadata["source"] != "chat" || m.Metadata["n"] != float64(3) {
		t.Fatalf("get: %+v", m)
	}

	hits, err := c.Search(ctx, client.SearchRequest{Query: "What tea does Alice like?", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].ID != id || hits[0].Score <= 0 {
		t.Fatalf("search: %+v", hits)
	}
	if hits, _ = c.Search(ctx, client.SearchRequest{Query: "tea", Filters: map[string]any{"source": "email"}}); len(hits) != 0 {
		t.Fatalf("filter should exclude: %+v", hits)
	}
	if hits, _ = c.Search(ctx, client.SearchRequest{Query: "tea", Filters: map[string]any{"source": "chat"}}); len(hits) != 1 {
		t.Fatalf("filter should include: %+v", hits)
	}

	up, err := c.Update(ctx, id, "Alice now prefers coffee", nil)
	if err != nil {
		t.Fatal(err)
	}
	if up.Content != "Alice now prefers coffee" || up.Metadata["source"] != "chat" || !up.UpdatedAt.After(up.CreatedAt) && !up.UpdatedAt.Equal(up.CreatedAt) {
		t.Fatalf("update: %+v", up)
	}
	if hits, _ = c.Search(ctx, client.SearchRequest{Query: "green tea", UserID: "alice"}); len(hits) != 0 {
		t.Fatalf("old text still indexed: %+v", hits)
	}
	if hits, _ = c.Search(ctx, client.SearchRequest{Query: "coffee", UserID: "alice"}); len(hits) != 1 {
		t.Fatalf("new text not indexed: %+v", hits)
	}

	if err := c.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, id)
	wantCode(t, err, engram.CodeNotFound)
	wantCode(t, c.Delete(ctx, id), engram.CodeNotFound)
	if hits, _ = c.Search(ctx, client.SearchRequest{Query: "coffee"}); len(hits) != 0 {
		t.Fatalf("deleted memory still found: %+v", hits)
	}

	h, err := c.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ev       engram.Event
		old, new string
	}{
		{engram.EventAdd, "", "Alice prefers green tea in the morning"},
		{engram.EventUpdate, "Alice prefers green tea in the morning", "Alice now prefers coffee"},
		{engram.EventDelete, "Alice now prefers coffee", ""},
	}
	if len(h) != len(want) {
		t.Fatalf("history: %+v", h)
	}
	for i, w := range want {
		if h[i].Event != w.ev || h[i].OldMemory != w.old || h[i].NewMemory != w.new {
			t.Errorf("history[%d] = %+v, want %+v", i, h[i], w)
		}
	}
}

func TestAddMessages(t *testing.T) {
	s := testserver.Start(t)
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	res, err := c.Add(ctx, client.AddRequest{UserID: "u1", RunID: "r1", Messages: []engram.Message{
		{Role: "user", Content: "I moved to Lisbon last spring"},
		{Role: "assistant", Content: "   "},
		{Role: "assistant", Content: "Noted: you live in Lisbon"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("blank turns are skipped: want 2 results, got %+v", res)
	}
	_, err = c.Add(ctx, client.AddRequest{Messages: []engram.Message{{Role: "user", Content: " "}}})
	wantCode(t, err, engram.CodeInvalid)
	m, err := c.Get(ctx, res[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Metadata["role"] != "user" || m.RunID != "r1" {
		t.Fatalf("message memory: %+v", m)
	}
}

func TestListPagination(t *testing.T) {
	s := testserver.Start(t)
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	var ids []string
	for i := range 25 {
		user := "even"
		if i%2 == 1 {
			user = "odd"
		}
		r, err := c.Add(ctx, client.AddRequest{Content: fmt.Sprintf("fact number %d", i), UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r[0].ID)
	}
	var got []string
	cursor := ""
	for {
		page, err := c.List(ctx, client.ListRequest{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Results {
			got = append(got, m.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(got) != 25 {
		t.Fatalf("paged %d memories, want 25", len(got))
	}
	for i := range got {
		if got[i] != ids[len(ids)-1-i] {
			t.Fatalf("order: position %d is %s, want %s (newest first)", i, got[i], ids[len(ids)-1-i])
		}
	}
	odd, err := c.List(ctx, client.ListRequest{Scope: engram.Scope{UserID: "odd"}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(odd.Results) != 12 {
		t.Fatalf("odd: %d", len(odd.Results))
	}
	for _, m := range odd.Results {
		if m.UserID != "odd" {
			t.Fatalf("scope filter leaked %+v", m)
		}
	}
	_, err = c.List(ctx, client.ListRequest{Cursor: "not-a-cursor"})
	wantCode(t, err, engram.CodeInvalid)
	_, err = c.List(ctx, client.ListRequest{Limit: 101})
	wantCode(t, err, engram.CodeInvalid)
}

func TestIdempotencyKey(t *testing.T) {
	s := testserver.Start(t)
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	req := client.AddRequest{Content: "The deploy window is Tuesday", UserID: "ops", IdempotencyKey: "retry-1"}
	first, err := c.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].ID != first[0].ID || again[0].Event != engram.EventAdd || again[0].Content != req.Content {
		t.Fatalf("replay = %+v, want %+v", again, first)
	}
	req.Content = "Something else"
	_, err = c.Add(ctx, req)
	wantCode(t, err, engram.CodeConflict)
	list, _ := c.List(ctx, client.ListRequest{})
	if len(list.Results) != 1 {
		t.Fatalf("retries wrote %d memories", len(list.Results))
	}
	// After the retention window the key may be reused.
	s.Clock.Advance(25 * time.Hour)
	if _, err := c.Add(ctx, req); err != nil {
		t.Fatalf("expired idempotency key: %v", err)
	}
}

func TestValidation(t *testing.T) {
	s := testserver.Start(t)
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	cases := []struct {
		name string
		req  client.AddRequest
	}{
		{"empty", client.AddRequest{}},
		{"blank", client.AddRequest{Content: " \n\t "}},
		{"both", client.AddRequest{Content: "x", Messages: []engram.Message{{Role: "user", Content: "y"}}}},
		{"too long", client.AddRequest{Content: strings.Repeat("a", engram.MaxContentBytes+1)}},
		{"user id too long", client.AddRequest{Content: "x", UserID: strings.Repeat("u", 257)}},
		{"control char in id", client.AddRequest{Content: "x", UserID: "a\x00b"}},
		{"too much metadata", client.AddRequest{Content: "x", Metadata: map[string]any{"k": strings.Repeat("v", engram.MaxMetadataBytes)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Add(ctx, tc.req)
			wantCode(t, err, engram.CodeInvalid)
		})
	}
	list, _ := c.List(ctx, client.ListRequest{})
	if len(list.Results) != 0 {
		t.Fatalf("invalid requests wrote %d memories", len(list.Results))
	}
	_, err := c.Get(ctx, "../../etc/passwd")
	if client.Code(err) != engram.CodeNotFound && client.Code(err) != "http_404" {
		t.Fatalf("bad id: %v", err)
	}
	_, err = c.Search(ctx, client.SearchRequest{Query: ""})
	wantCode(t, err, engram.CodeInvalid)
	_, err = c.Search(ctx, client.SearchRequest{Query: "x", Limit: 1000})
	wantCode(t, err, engram.CodeInvalid)
	_, err = c.Update(ctx, "01a21117-e730-763b-aeef-3a2f3d9b32ab", "text", nil)
	wantCode(t, err, engram.CodeNotFound)
	// Stop words only: a valid query with nothing to match.
	hits, err := c.Search(ctx, client.SearchRequest{Query: "the and of"})
	if err != nil || len(hits) != 0 {
		t.Fatalf("stop-word query: %v %v", hits, err)
	}
	if _, err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	_ = http.StatusOK
}
