package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

func day(s string) *time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return &t
}

func observeOne(t *testing.T, e interface {
	Observe(context.Context, engram.ObserveRequest) (*engram.Episode, error)
}, ctx context.Context, user, text, when string) *engram.Episode {
	t.Helper()
	ep, err := e.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: user},
		Messages: []engram.ObserveMessage{{Role: "user", Name: "Alice", Content: text, Timestamp: day(when)}}})
	if err != nil {
		t.Fatalf("observe %q: %v", when, err)
	}
	if ep.Status != engram.EpisodeDone || len(ep.Memories) != 1 {
		t.Fatalf("observe %q: status %s, %d memories", when, ep.Status, len(ep.Memories))
	}
	return ep
}

// valueOf is a fact's object name or literal value, lower case.
func valueOf(f engram.Fact) string {
	if f.Object != nil {
		return strings.ToLower(f.Object.Name)
	}
	return strings.ToLower(f.Value)
}

func factSet(fs []engram.Fact) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Predicate+"="+valueOf(f))
	}
	slices.Sort(out)
	return out
}

// TestObserveMoveJobHobby is issue 12's "done when": someone moves city,
// changes job and adds a hobby; the current facts are the new ones, the old
// ones are invalidated at the new facts' dates, the hobby accumulates.
func TestObserveMoveJobHobby(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	_, ctx := owner(t, e)
	observeOne(t, e, ctx, "alice", "I live in Paris and I work at Acme. I play the cello.", "2024-01-10")
	observeOne(t, e, ctx, "alice", "I moved to Berlin last month.", "2024-06-01")
	observeOne(t, e, ctx, "alice", "I joined Globex in September.", "2024-09-15")
	observeOne(t, e, ctx, "alice", "I took up climbing.", "2024-10-01")

	cur, err := e.Facts(ctx, engram.FactQuery{UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	got := factSet(cur)
	for _, want := range []string{"lives_in=berlin", "works_at=globex", "plays=cello"} {
		if !slices.Contains(got, want) {
			t.Errorf("current facts %v lack %s", got, want)
		}
	}
	for _, gone := range []string{"lives_in=paris", "works_at=acme"} {
		if slices.Contains(got, gone) {
			t.Errorf("current facts %v still hold %s", got, gone)
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "climbing") }) {
		t.Errorf("current facts %v lack the new hobby", got)
	}
	all, err := e.Facts(ctx, engram.FactQuery{UserID: "alice", IncludeInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		switch f.Predicate + "=" + valueOf(f) {
		case "lives_in=paris":
			if f.InvalidAt == nil || !f.InvalidAt.Equal(*day("2024-05-01")) {
				t.Errorf("Paris invalid_at = %v, want 2024-05-01", f.InvalidAt)
			}
		case "works_at=acme":
			if f.InvalidAt == nil || !f.InvalidAt.Equal(*day("2024-09-01")) {
				t.Errorf("Acme invalid_at = %v, want 2024-09-01", f.InvalidAt)
			}
		}
	}
	past, err := e.Facts(ctx, engram.FactQuery{UserID: "alice", AsOf: day("2024-03-01")})
	if err != nil {
		t.Fatal(err)
	}
	got = factSet(past)
	for _, want := range []string{"lives_in=paris", "works_at=acme", "plays=cello"} {
		if !slices.Contains(got, want) {
			t.Errorf("facts as of March %v lack %s", got, want)
		}
	}
	// One Alice, however many times she is mentioned.
	list, err := e.ListEntities(ctx, engram.EntityQuery{UserID: "alice", Query: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Results) != 1 {
		t.Fatalf("entities named Alice: %d", len(list.Results))
	}
	full, err := e.GetEntity(ctx, list.Results[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Facts) < 5 {
		t.Errorf("Alice has %d facts, want at least 5", len(full.Facts))
	}
	hits, err := e.SearchFacts(ctx, engram.FactSearch{Query: "where does Alice live", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].Predicate != "lives_in" {
		t.Errorf("fact search: %v", factSet(hits))
	}
}

// TestObserveIdempotent: a retried observe with the same Idempotency-Key
// answers the first episode and stores nothing again; the same key with
// another conversation is a conflict.
func TestObserveIdempotent(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	_, ctx := owner(t, e)
	req := engram.ObserveRequest{Scope: engram.Scope{UserID: "u"}, IdempotencyKey: "k1",
		Messages: []engram.ObserveMessage{{Role: "user", Name: "Alice", Content: "I live in Paris.", Timestamp: day("2024-01-10")}}}
	first, err := e.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || len(again.Facts) != len(first.Facts) {
		t.Fatalf("replay answered episode %s with %d facts; first was %s with %d", again.ID, len(again.Facts), first.ID, len(first.Facts))
	}
	eps, _, err := e.Episodes(ctx, engram.Scope{UserID: "u"}, "", 10)
	if err != nil || len(eps) != 1 {
		t.Fatalf("episodes after a replay: %d (%v), want 1", len(eps), err)
	}
	req.Messages[0].Content = "I live in Rome."
	if _, err := e.Observe(ctx, req); engram.ErrorCode(err) != engram.CodeConflict {
		t.Fatalf("same key, other conversation: %v, want conflict", err)
	}
}
