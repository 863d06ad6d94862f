package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
)

// TestObserveWriteOnlyKey: a key that may write but not read observes,
// and its answer holds ids and events of its own turns only: no entity
// name, fact sentence or stored text, whether the names were known or new,
// so it cannot probe what the tenant knows. It cannot read episodes,
// entities or facts back. A read-only key cannot observe or change facts.
func TestObserveWriteOnlyKey(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	wo := keyCtx(t, e, ctx, "writer", engram.PermMemoriesWrite)
	ro := keyCtx(t, e, ctx, "reader", engram.PermMemoriesRead)
	friend, city := marker(t), marker(t)
	// The owner teaches the tenant the names first.
	known := observe(t, e, ctx, "alice", "My friend "+friend+" lives in "+city+".", "2024-01-10")
	if len(known.Entities) == 0 || len(known.Facts) == 0 {
		t.Fatal("the owner's observation found nothing")
	}
	text := "My friend " + friend + " lives in " + city + ". Also " + marker(t) + " works at " + marker(t) + "."
	var answers []string
	for range 2 {
		ep, err := e.Observe(wo, engram.ObserveRequest{Scope: engram.Scope{UserID: "alice"},
			Messages: []engram.ObserveMessage{{Role: "user", Name: "Alice", Content: text, Timestamp: day("2024-02-10")}}})
		if err != nil {
			t.Fatal(err)
		}
		if ep.ID == "" || ep.Status != engram.EpisodeDone || len(ep.Memories) != 1 || ep.Memories[0].ID == "" {
			t.Fatalf("write-only answer lacks its ids: %+v", ep)
		}
		if len(ep.Entities) != 0 || len(ep.Facts) != 0 || len(ep.Messages) != 0 {
			t.Errorf("write-only answer tells %d entities, %d facts, %d messages", len(ep.Entities), len(ep.Facts), len(ep.Messages))
		}
		if ep.Memories[0].Event != engram.EventAdd || ep.Memories[0].Content != "" {
			t.Errorf("write-only memory result: event %q, content %d bytes", ep.Memories[0].Event, len(ep.Memories[0].Content))
		}
		raw, _ := json.Marshal(ep)
		low := strings.ToLower(string(raw))
		for _, s := range []string{friend, city, "lives in", "works at", "lives_in"} {
			if strings.Contains(low, strings.ToLower(s)) {
				t.Errorf("write-only answer holds %q", s)
			}
		}
		// Only the ids differ between the two answers: nothing says the
		// second time that the names, facts or text were already known.
		ep.Memories[0].ID = ""
		raw, _ = json.Marshal(struct {
			S, U, X string
			M       []engram.AddResult
			E       []engram.EntityRef
			F       []engram.FactRef
		}{ep.Status, ep.UserID, ep.Extractor, ep.Memories, ep.Entities, ep.Facts})
		answers = append(answers, string(raw))
	}
	if answers[0] != answers[1] {
		t.Errorf("the write-only answers differ: %s / %s", answers[0], answers[1])
	}
	// It was understood all the same: the owner sees the new facts.
	fs, err := e.Facts(ctx, engram.FactQuery{UserID: "alice"})
	if err != nil || len(fs) < 2 {
		t.Fatalf("facts after the write-only observations: %d %v", len(fs), err)
	}

	forbidden := func(who string, err error) {
		t.Helper()
		if engram.ErrorCode(err) != engram.CodeForbidden {
			t.Errorf("%s: %v, want forbidden", who, err)
		}
	}
	en := entityNamed(t, e, ctx, "alice", friend)
	_, err = e.Episode(wo, known.ID)
	forbidden("write-only episode", err)
	_, _, err = e.Episodes(wo, engram.Scope{UserID: "alice"}, "", 10)
	forbidden("write-only episodes", err)
	_, err = e.GetEntity(wo, en.ID)
	forbidden("write-only entity", err)
	_, err = e.ListEntities(wo, engram.EntityQuery{UserID: "alice", Query: friend})
	forbidden("write-only entity query", err)
	_, err = e.Facts(wo, engram.FactQuery{UserID: "alice"})
	forbidden("write-only facts", err)
	_, err = e.GetFact(wo, fs[0].ID)
	forbidden("write-only fact", err)
	_, err = e.SearchFacts(wo, engram.FactSearch{UserID: "alice", Query: city})
	forbidden("write-only fact search", err)
	_, err = e.Topics(wo, "alice")
	forbidden("write-only topics", err)
	_, err = e.Patterns(wo, "alice")
	forbidden("write-only patterns", err)
	_, err = e.ReadGraph(wo, engram.Scope{UserID: "alice"})
	forbidden("write-only graph", err)
	_, err = e.SearchNodes(wo, engram.Scope{UserID: "alice"}, friend)
	forbidden("write-only node search", err)
	// A fact by hand answers the stored fact, and a merge the merged
	// entity: both read.
	_, err = e.AddFact(wo, engram.NewFact{UserID: "alice", Subject: friend, Predicate: "likes", Value: "tea"})
	forbidden("write-only fact by hand", err)
	_, err = e.MergeEntities(wo, en.ID, entityNamed(t, e, ctx, "alice", city).ID)
	forbidden("write-only merge", err)
	// The MCP graph's writes answer what already existed (a name skipped,
	// an unknown entity): they need the read scope too.
	_, err = e.CreateEntities(wo, engram.Scope{UserID: "alice"}, []engram.GraphEntity{{Name: friend}})
	forbidden("write-only create entities", err)
	_, err = e.AddObservations(wo, engram.Scope{UserID: "alice"}, []engram.GraphObservations{{EntityName: friend, Contents: []string{"x"}}})
	forbidden("write-only add observations", err)
	_, err = e.CreateRelations(wo, engram.Scope{UserID: "alice"}, []engram.GraphRelation{{From: friend, To: city, RelationType: "knows"}})
	forbidden("write-only create relations", err)

	_, err = e.Observe(ro, engram.ObserveRequest{Scope: engram.Scope{UserID: "alice"},
		Messages: []engram.ObserveMessage{{Role: "user", Content: "I live in Oslo."}}})
	forbidden("read-only observe", err)
	_, err = e.AddFact(ro, engram.NewFact{UserID: "alice", Subject: friend, Predicate: "likes", Value: "tea"})
	forbidden("read-only fact by hand", err)
	forbidden("read-only fact delete", e.DeleteFact(ro, fs[0].ID))
	_, err = e.ForgetEntity(ro, en.ID)
	forbidden("read-only forget", err)
	_, err = e.CreateEntities(ro, engram.Scope{UserID: "alice"}, []engram.GraphEntity{{Name: "Nobody"}})
	forbidden("read-only create entities", err)
	forbidden("read-only delete entities", e.DeleteEntities(ro, engram.Scope{UserID: "alice"}, []string{friend}))
	// The reader reads.
	if _, err := e.GetEntity(ro, en.ID); err != nil {
		t.Errorf("read-only entity: %v", err)
	}
	if n, err := e.Facts(ro, engram.FactQuery{UserID: "alice"}); err != nil || len(n) != len(fs) {
		t.Errorf("read-only facts: %d %v", len(n), err)
	}
	if _, err := e.GetEntity(ctx, en.ID); err != nil {
		t.Errorf("the refused calls changed the entity: %v", err)
	}
}
