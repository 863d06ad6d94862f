package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
)

// TestObserveMarkersNeverAtRest feeds Observe, facts by hand and the MCP
// graph operations unique marker words in every place that holds text
// (entity names, speaker names, fact objects and values, topic-bearing
// text, a preference repeated into a pattern, entity labels, observations,
// relation types, queries), checks they really were understood, then scans
// every file of the data directory, with the store open (WAL and shm) and
// after it is closed: no marker may appear in any spelling.
func TestObserveMarkersNeverAtRest(t *testing.T) {
	e, dir, st := observeEngine(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	_, ctx := owner(t, e)
	mk := map[string]string{}
	for _, role := range []string{"friend", "city", "employer", "liked", "played", "pet", "speaker", "hobby",
		"subject", "object", "value", "sentence", "graphname", "label", "observation", "relation", "other", "query", "meta"} {
		mk[role] = marker(t)
	}
	lower := func(r string) string { return strings.ToLower(mk[r]) }
	convo := []string{
		fmt.Sprintf("My friend %s lives in %s. I work at %s and I love %s.", mk["friend"], mk["city"], mk["employer"], mk["liked"]),
		fmt.Sprintf("I love %s. Every Monday I play %s with %s. I went hiking and my doctor says my health is fine.", mk["liked"], mk["played"], mk["friend"]),
		fmt.Sprintf("I love %s. I adopted a dog named %s.", mk["liked"], mk["pet"]),
		fmt.Sprintf("I love %s. I took up %s.", mk["liked"], lower("hobby")),
	}
	for i, text := range convo {
		_, err := e.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: "alice"},
			Metadata: map[string]any{"note": mk["meta"]},
			Messages: []engram.ObserveMessage{{Role: "user", Name: mk["speaker"], Content: text, Timestamp: day(fmt.Sprintf("2024-0%d-10", i+1))},
				{Role: "assistant", Content: "Noted, " + mk["speaker"] + "."}}})
		if err != nil {
			t.Fatalf("observe %d: %v", i, err)
		}
	}
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "alice", Subject: mk["subject"], Predicate: "works_at", Object: mk["object"],
		Sentence: mk["sentence"] + " works somewhere"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "alice", Subject: mk["subject"], Predicate: "likes", Value: lower("value")}); err != nil {
		t.Fatal(err)
	}
	alice := engram.Scope{UserID: "alice"}
	if _, err := e.CreateEntities(ctx, alice, []engram.GraphEntity{{Name: mk["graphname"], EntityType: lower("label"),
		Observations: []string{"speaks of " + mk["observation"]}}, {Name: mk["other"], EntityType: "person"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddObservations(ctx, alice, []engram.GraphObservations{{EntityName: mk["other"],
		Contents: []string{"knows " + mk["observation"] + " well"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateRelations(ctx, alice, []engram.GraphRelation{{From: mk["graphname"], To: mk["other"],
		RelationType: lower("relation")}}); err != nil {
		t.Fatal(err)
	}
	// Reads with markers in their queries (the audit trail must not keep them).
	if _, err := e.SearchFacts(ctx, engram.FactSearch{UserID: "alice", Query: "where is " + mk["query"]}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SearchNodes(ctx, alice, mk["query"]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ListEntities(ctx, engram.EntityQuery{UserID: "alice", Query: mk["query"]}); err != nil {
		t.Fatal(err)
	}

	// The markers were understood: otherwise the scan below proves nothing.
	ents, err := e.ListEntities(ctx, engram.EntityQuery{UserID: "alice", Limit: engram.MaxEntityLimit})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range ents.Results {
		names = append(names, strings.ToLower(en.Name))
	}
	for _, r := range []string{"friend", "city", "employer", "pet", "speaker", "subject", "object", "graphname", "other"} {
		if !slices.Contains(names, lower(r)) {
			t.Errorf("no entity named after the %s marker among %d entities", r, len(names))
		}
	}
	fs, err := e.Facts(ctx, engram.FactQuery{UserID: "alice", Limit: engram.MaxFactLimit})
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, f := range fs {
		text = append(text, strings.ToLower(f.Fact+" "+f.Predicate+" "+valueOf(f)))
	}
	all := strings.Join(text, "\n")
	for _, r := range []string{"liked", "played", "hobby", "value", "sentence", "observation", "relation", "city", "employer"} {
		if !strings.Contains(all, lower(r)) {
			t.Errorf("no fact holds the %s marker", r)
		}
	}
	ps, err := e.Patterns(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ps, func(p engram.Pattern) bool { return p.Object != nil && p.Object.Name == mk["liked"] }) {
		t.Errorf("the preference stated four times is no pattern: %d patterns", len(ps))
	}
	ts, err := e.Topics(ctx, "alice")
	if err != nil || len(ts) < 3 {
		t.Errorf("topics: %d, %v", len(ts), err)
	}

	needles := map[string][]byte{}
	for r, m := range mk {
		for i, s := range spellings(m) {
			needles[fmt.Sprintf("%s marker (form %d)", r, i)] = s
		}
	}
	leak := func(file, name string) { t.Errorf("%s holds the %s in clear", file, name) }
	scanDataDir(t, dir, needles, leak) // the WAL still holds the recent pages
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	scanDataDir(t, dir, needles, leak)
}
