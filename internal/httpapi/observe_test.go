package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// The life-changes story of issue 12: Mira lives in Lyon, works at Renault
// and loves climbing (10 Jan 2026); on 15 Mar she says she moved to Berlin
// last week, joined Zalando two days ago and took up the piano.
var (
	firstDay  = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	secondDay = time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)
)

func lifeBefore() []engram.ObserveMessage {
	return []engram.ObserveMessage{
		{Role: "user", Name: "Mira", Content: "I live in Lyon and I work at Renault. I love climbing.", Timestamp: &firstDay},
		{Role: "assistant", Content: "Nice! How is Lyon?", Timestamp: &firstDay},
	}
}

func lifeAfter() []engram.ObserveMessage {
	return []engram.ObserveMessage{
		{Role: "user", Name: "Mira", Content: "Big news: I moved to Berlin last week and I joined Zalando two days ago. I also took up the piano.", Timestamp: &secondDay},
	}
}

// what is a fact's object name or literal value.
func what(f engram.Fact) string {
	if f.Object != nil {
		return f.Object.Name
	}
	return f.Value
}

// triples renders facts as sorted "predicate what" strings.
func triples(fs []engram.Fact) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Predicate + " " + what(f)
	}
	slices.Sort(out)
	return out
}

// tenant creates a tenant; its owner key for raw calls and a client.
func tenant(t *testing.T, s *testserver.Server, name string) (string, *client.Client) {
	t.Helper()
	nt, err := s.Engine.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return nt.Key.Secret, s.Client(nt.Key.Secret)
}

func observe(t *testing.T, c *client.Client, user string, msgs []engram.ObserveMessage) *engram.Episode {
	t.Helper()
	ep, err := c.Observe(context.Background(), engram.ObserveRequest{Messages: msgs, Scope: engram.Scope{UserID: user}})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Status != engram.EpisodeDone || ep.ID == "" {
		t.Fatalf("observe: %+v", ep)
	}
	return ep
}

// TestObserveFactsOverTime observes the two conversations and reads the
// facts back: the current ones, all of them with the ended ones' invalid_at,
// and the world as it was on 1 Feb.
func TestObserveFactsOverTime(t *testing.T) {
	s := testserver.Start(t)
	key, c := tenant(t, s, "acme")
	ctx := context.Background()

	ep1 := observe(t, c, "mira", lifeBefore())
	if len(ep1.Memories) == 0 || len(ep1.Facts) != 3 || len(ep1.Entities) < 3 {
		t.Fatalf("first episode: %+v", ep1)
	}
	for _, f := range ep1.Facts {
		if f.Event != engram.FactAdd || f.ID == "" || f.Fact == "" {
			t.Errorf("first episode fact: %+v", f)
		}
	}
	ep2 := observe(t, c, "mira", lifeAfter())
	events := map[string]int{}
	for _, f := range ep2.Facts {
		events[f.Event]++
	}
	if events[engram.FactAdd] != 3 || events[engram.FactInvalidate] != 2 {
		t.Errorf("second episode's fact events %v: %+v", events, ep2.Facts)
	}

	got, err := c.Episode(ctx, ep2.ID)
	if err != nil || got.ID != ep2.ID || got.Status != engram.EpisodeDone || got.UserID != "mira" {
		t.Fatalf("episode: %+v %v", got, err)
	}
	eps, next, err := c.Episodes(ctx, engram.Scope{UserID: "mira"}, "", 1)
	if err != nil || len(eps) != 1 || next == "" {
		t.Fatalf("episodes page 1: %+v %q %v", eps, next, err)
	}
	eps2, next2, err := c.Episodes(ctx, engram.Scope{UserID: "mira"}, next, 1)
	if err != nil || len(eps2) != 1 || next2 != "" || eps2[0].ID == eps[0].ID {
		t.Fatalf("episodes page 2: %+v %q %v", eps2, next2, err)
	}

	current, err := c.Facts(ctx, engram.FactQuery{UserID: "mira"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hobby piano", "likes climbing", "lives_in Berlin", "works_at Zalando"}
	if g := triples(current); !slices.Equal(g, want) {
		t.Fatalf("current facts %v, want %v", g, want)
	}
	for _, f := range current {
		if f.InvalidAt != nil || f.Subject.Name != "Mira" || f.UserID != "mira" || len(f.Episodes) == 0 {
			t.Errorf("current fact: %+v", f)
		}
	}

	all, err := c.Facts(ctx, engram.FactQuery{UserID: "mira", IncludeInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"hobby piano", "likes climbing", "lives_in Berlin", "lives_in Lyon", "works_at Renault", "works_at Zalando"}
	if g := triples(all); !slices.Equal(g, want) {
		t.Fatalf("all facts %v, want %v", g, want)
	}
	ended := map[string]time.Time{"Lyon": time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC), "Renault": time.Date(2026, 3, 13, 0, 0, 0, 0, time.UTC)}
	for _, f := range all {
		end, old := ended[what(f)]
		switch {
		case old && (f.InvalidAt == nil || !f.InvalidAt.Equal(end)):
			t.Errorf("%s ended at %v, want %v", f.Fact, f.InvalidAt, end)
		case !old && f.InvalidAt != nil:
			t.Errorf("%s is still true, but invalid_at %v", f.Fact, f.InvalidAt)
		}
	}

	// Time travel: on 1 Feb she lived in Lyon and worked at Renault.
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	then, err := c.Facts(ctx, engram.FactQuery{UserID: "mira", AsOf: &feb})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := triples(then), []string{"likes climbing", "lives_in Lyon", "works_at Renault"}; !slices.Equal(g, w) {
		t.Fatalf("facts as of 1 Feb %v, want %v", g, w)
	}
	// The same over raw REST, with the query string a person would type.
	status, body := call(t, s, key, http.MethodGet, "/v1/facts?user_id=mira&predicate=lives_in&as_of=2026-02-01T00:00:00Z", "")
	if status != http.StatusOK || !strings.Contains(body, `"Lyon"`) || strings.Contains(body, "Berlin") {
		t.Fatalf("as_of over REST: %d %s", status, body)
	}
	byPred, err := c.Facts(ctx, engram.FactQuery{UserID: "mira", Predicate: "works_at", IncludeInvalid: true})
	if err != nil || len(byPred) != 2 {
		t.Fatalf("works_at facts: %+v %v", byPred, err)
	}

	hits, err := c.SearchFacts(ctx, engram.FactSearch{Query: "Where does Mira live?", UserID: "mira"})
	if err != nil || len(hits) == 0 || what(hits[0]) != "Berlin" || hits[0].Score == nil {
		t.Fatalf("search: %+v %v", hits, err)
	}
	if _, err := c.Topics(ctx, "mira"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patterns(ctx, "mira"); err != nil {
		t.Fatal(err)
	}
}

// TestObserveAnswerShape checks the 201 body over raw HTTP: the lists are
// arrays and the events the contract names.
func TestObserveAnswerShape(t *testing.T) {
	s := testserver.Start(t)
	key := ownerKey(t, s)
	body := `{"messages": [{"role": "user", "name": "Mira", "content": "I live in Lyon and I work at Renault.", "timestamp": "2026-01-10T09:00:00Z"}], "user_id": "mira"}`
	status, raw := call(t, s, key, http.MethodPost, "/v1/observe", body)
	if status != http.StatusCreated {
		t.Fatalf("observe: %d %s", status, raw)
	}
	var ep struct {
		ID       string            `json:"episode_id"`
		Status   string            `json:"status"`
		Memories []json.RawMessage `json:"memories"`
		Entities []struct{ ID, Name, Type, Event string }
		Facts    []struct{ ID, Fact, Event string }
	}
	if err := json.Unmarshal([]byte(raw), &ep); err != nil {
		t.Fatal(err)
	}
	if ep.ID == "" || ep.Status != "done" || len(ep.Memories) != 1 || len(ep.Facts) != 2 {
		t.Fatalf("answer: %s", raw)
	}
	names := map[string]string{}
	for _, e := range ep.Entities {
		if e.ID == "" || e.Event != engram.EntityAdd {
			t.Errorf("entity: %+v", e)
		}
		names[e.Name] = e.Type
	}
	if names["Mira"] != engram.EntityPerson || names["Lyon"] != engram.EntityPlace || names["Renault"] != engram.EntityOrganisation {
		t.Errorf("entities %v", names)
	}
}

// TestObserveIdempotency: a retried observe with the same Idempotency-Key
// replays the first answer's episode and stores nothing twice; the key
// reused with another conversation is refused.
func TestObserveIdempotency(t *testing.T) {
	s := testserver.Start(t)
	_, c := tenant(t, s, "acme")
	ctx := context.Background()
	req := engram.ObserveRequest{Messages: lifeBefore(), Scope: engram.Scope{UserID: "mira"}, IdempotencyKey: "obs-1"}
	a, err := c.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != a.ID {
		t.Errorf("retry answered episode %s, first %s", b.ID, a.ID)
	}
	for i := range a.Memories {
		if b.Memories[i].ID != a.Memories[i].ID {
			t.Errorf("memory %d stored again: %s, first %s", i, b.Memories[i].ID, a.Memories[i].ID)
		}
	}
	for i, f := range b.Facts {
		if f.ID != a.Facts[i].ID {
			t.Errorf("fact %d of the retry: %+v, first %+v", i, f, a.Facts[i])
		}
	}
	mems, err := c.List(ctx, client.ListRequest{Scope: engram.Scope{UserID: "mira"}})
	if err != nil || len(mems.Results) != len(lifeBefore()) {
		t.Fatalf("memories after a retry: %d %v", len(mems.Results), err)
	}
	fs, err := c.Facts(ctx, engram.FactQuery{UserID: "mira", IncludeInvalid: true})
	if err != nil || len(fs) != 3 {
		t.Fatalf("facts after a retry: %v %v", triples(fs), err)
	}
	eps, _, err := c.Episodes(ctx, engram.Scope{UserID: "mira"}, "", 10)
	if err != nil || len(eps) != 1 {
		t.Fatalf("episodes after a retry: %d %v", len(eps), err)
	}
	req.Messages = lifeAfter()
	_, err = c.Observe(ctx, req)
	wantCode(t, err, engram.CodeConflict)
}

func entityNamed(t *testing.T, c *client.Client, user, name string) engram.Entity {
	t.Helper()
	l, err := c.ListEntities(context.Background(), engram.EntityQuery{UserID: user, Query: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Results {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entity %q in %+v", name, l.Results)
	return engram.Entity{}
}

// TestEntitiesREST lists, reads, merges and forgets entities.
func TestEntitiesREST(t *testing.T) {
	s := testserver.Start(t)
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	observe(t, c, "mira", lifeBefore())

	l, err := c.ListEntities(ctx, engram.EntityQuery{UserID: "mira", Limit: 2})
	if err != nil || len(l.Results) != 2 || l.NextCursor == "" {
		t.Fatalf("page 1: %+v %v", l, err)
	}
	l2, err := c.ListEntities(ctx, engram.EntityQuery{UserID: "mira", Limit: 2, Cursor: l.NextCursor})
	if err != nil || len(l2.Results) == 0 || l2.Results[0].ID == l.Results[0].ID {
		t.Fatalf("page 2: %+v %v", l2, err)
	}
	places, err := c.ListEntities(ctx, engram.EntityQuery{UserID: "mira", Type: engram.EntityPlace})
	if err != nil || len(places.Results) != 1 || places.Results[0].Name != "Lyon" {
		t.Fatalf("places: %+v %v", places, err)
	}

	mira := entityNamed(t, c, "mira", "Mira")
	got, err := c.GetEntity(ctx, mira.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Mira" || got.Type != engram.EntityPerson || got.UserID != "mira" {
		t.Fatalf("entity: %+v", got)
	}
	if g, w := triples(got.Facts), []string{"likes climbing", "lives_in Lyon", "works_at Renault"}; !slices.Equal(g, w) {
		t.Fatalf("entity facts %v, want %v", g, w)
	}

	// A fact stated by hand about "Mira Klein" makes a second entity; merging
	// it into Mira moves its fact over and keeps the name as an alias.
	f, err := c.AddFact(ctx, engram.NewFact{Subject: "Mira Klein", Predicate: "speaks", Value: "German", UserID: "mira"})
	if err != nil {
		t.Fatal(err)
	}
	other := f.Subject.ID
	if other == mira.ID {
		t.Fatal("Mira Klein was resolved to Mira; the test needs two entities")
	}
	merged, err := c.MergeEntities(ctx, mira.ID, other)
	if err != nil {
		t.Fatal(err)
	}
	if merged.ID != mira.ID || !slices.Contains(merged.Aliases, "Mira Klein") {
		t.Fatalf("merged: %+v", merged)
	}
	if _, err := c.GetEntity(ctx, other); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("the merged-away entity: %v", err)
	}
	fs, err := c.Facts(ctx, engram.FactQuery{UserID: "mira", EntityID: mira.ID})
	if err != nil || !slices.Contains(triples(fs), "speaks German") {
		t.Fatalf("facts after the merge: %v %v", triples(fs), err)
	}

	r, err := c.ForgetEntity(ctx, mira.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.EntityID != mira.ID || r.Facts < 4 || r.Keys < 1 || r.CompletedAt.IsZero() {
		t.Fatalf("receipt: %+v", r)
	}
	_, err = c.GetEntity(ctx, mira.ID)
	wantCode(t, err, engram.CodeNotFound)
	fs, err = c.Facts(ctx, engram.FactQuery{UserID: "mira", IncludeInvalid: true})
	if err != nil || len(fs) != 0 {
		t.Fatalf("facts of a forgotten entity remain: %v %v", triples(fs), err)
	}
	if _, err := c.ForgetEntity(ctx, mira.ID); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("forget twice: %v", err)
	}
}

// TestFactsREST adds, reads, searches and deletes a fact by hand.
func TestFactsREST(t *testing.T) {
	s := testserver.Start(t)
	key, c := tenant(t, s, "acme")
	ctx := context.Background()

	since := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f, err := c.AddFact(ctx, engram.NewFact{Subject: "Noor", Predicate: "works_at", Object: "Globex", ValidAt: &since, UserID: "noor"})
	if err != nil {
		t.Fatal(err)
	}
	if f.ID == "" || f.Subject.Name != "Noor" || f.Object == nil || f.Object.Name != "Globex" || !f.ValidAt.Equal(since) || f.InvalidAt != nil || f.Fact == "" {
		t.Fatalf("added: %+v", f)
	}
	v, err := c.AddFact(ctx, engram.NewFact{Subject: "Noor", Predicate: "job_title", Value: "pilot", UserID: "noor"})
	if err != nil || v.Object != nil || v.Value != "pilot" {
		t.Fatalf("literal fact: %+v %v", v, err)
	}
	// A literal-valued fact says "object": null on the wire.
	status, body := call(t, s, key, http.MethodGet, "/v1/facts/"+v.ID, "")
	if status != http.StatusOK || !strings.Contains(body, `"object":null`) {
		t.Fatalf("get over REST: %d %s", status, body)
	}

	got, err := c.GetFact(ctx, f.ID)
	if err != nil || got.ID != f.ID || what(*got) != "Globex" {
		t.Fatalf("get: %+v %v", got, err)
	}
	hits, err := c.SearchFacts(ctx, engram.FactSearch{Query: "Globex", UserID: "noor", Limit: 1})
	if err != nil || len(hits) != 1 || hits[0].ID != f.ID {
		t.Fatalf("search: %+v %v", hits, err)
	}
	if err := c.DeleteFact(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFact(ctx, f.ID)
	wantCode(t, err, engram.CodeNotFound)
	// The client's errors are also the service's: code and message for
	// code written against engram.ObserveService (the stdio MCP tools).
	if engram.ErrorCode(err) != engram.CodeNotFound || engram.ErrorMessage(err) == "internal error" {
		t.Errorf("as a service error: %q %q", engram.ErrorCode(err), engram.ErrorMessage(err))
	}
	wantCode(t, c.DeleteFact(ctx, f.ID), engram.CodeNotFound)
	fs, err := c.Facts(ctx, engram.FactQuery{UserID: "noor", IncludeInvalid: true})
	if err != nil || len(fs) != 1 || fs[0].ID != v.ID {
		t.Fatalf("facts after the delete: %v %v", triples(fs), err)
	}
}
