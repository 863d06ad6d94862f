package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// wantProblem checks a problem+json answer with status and code that holds
// none of echo.
func wantProblem(t *testing.T, name string, status int, body string, wantStatus int, code string, echo ...string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	}
	if status != wantStatus || json.Unmarshal([]byte(body), &p) != nil || p.Code != code || p.Status != wantStatus {
		t.Errorf("%s: got %d %s, want %d %s", name, status, body, wantStatus, code)
	}
	for _, e := range echo {
		if strings.Contains(body, e) {
			t.Errorf("%s: the problem echoes the input: %s", name, body)
		}
	}
}

// mutate changes an id's last character: the same shape, no such record.
func mutate(id string) string {
	last := id[len(id)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return id[:len(id)-1] + string(repl)
}

// TestObserveBadInput: every kind of bad request gets problem+json with a
// stable code, and none echoes what was sent.
func TestObserveBadInput(t *testing.T) {
	s := testserver.Start(t)
	key, c := tenant(t, s, "acme")
	ep := observe(t, c, "mira", lifeBefore())
	mira := entityNamed(t, c, "mira", "Mira")
	fact := ep.Facts[0].ID

	turn := func(name, content string) string {
		b, _ := json.Marshal(map[string]string{"role": "user", "name": name, "content": content})
		return string(b)
	}
	many := make([]string, engram.MaxMessages+1)
	for i := range many {
		many[i] = turn("", "hello there")
	}
	secret := "Zanzibar-7731"
	longName := strings.Repeat("N", engram.MaxNameBytes+1)
	// Under the limit in characters, over it in bytes: only the engine sees it.
	wideName := strings.Repeat("é", engram.MaxNameBytes/2+1)

	for _, x := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown episode", "GET", "/v1/episodes/" + mutate(ep.ID), "", 404, engram.CodeNotFound},
		{"unknown entity", "GET", "/v1/entities/" + mutate(mira.ID), "", 404, engram.CodeNotFound},
		{"forget an unknown entity", "DELETE", "/v1/entities/" + mutate(mira.ID), "", 404, engram.CodeNotFound},
		{"merge an unknown entity", "POST", "/v1/entities/" + mira.ID + "/merge", `{"other_id": "` + mutate(mira.ID) + `"}`, 404, engram.CodeNotFound},
		{"merge into itself", "POST", "/v1/entities/" + mira.ID + "/merge", `{"other_id": "` + mira.ID + `"}`, 400, engram.CodeInvalid},
		{"unknown fact", "GET", "/v1/facts/" + mutate(fact), "", 404, engram.CodeNotFound},
		{"delete an unknown fact", "DELETE", "/v1/facts/" + mutate(fact), "", 404, engram.CodeNotFound},
		{"bad as_of", "GET", "/v1/facts?as_of=" + secret, "", 400, engram.CodeInvalid},
		{"bad as_of in a search", "POST", "/v1/facts/search", `{"query": "x", "as_of": "` + secret + `"}`, 400, engram.CodeInvalid},
		{"fact limit over the maximum", "GET", "/v1/facts?limit=201", "", 400, engram.CodeInvalid},
		{"entity limit over the maximum", "GET", "/v1/entities?limit=101", "", 400, engram.CodeInvalid},
		{"no messages", "POST", "/v1/observe", `{"messages": []}`, 400, engram.CodeInvalid},
		{"too many messages", "POST", "/v1/observe", `{"messages": [` + strings.Join(many, ",") + `]}`, 400, engram.CodeInvalid},
		{"oversize speaker name", "POST", "/v1/observe", `{"messages": [` + turn(longName, "I live in "+secret) + `]}`, 400, engram.CodeInvalid},
		{"speaker name over the limit in bytes", "POST", "/v1/observe", `{"messages": [` + turn(wideName, "I live in "+secret) + `]}`, 400, engram.CodeInvalid},
		{"oversize subject", "POST", "/v1/facts", `{"subject": "` + longName + `", "predicate": "likes", "value": "` + secret + `"}`, 400, engram.CodeInvalid},
		{"subject over the limit in bytes", "POST", "/v1/facts", `{"subject": "` + wideName + `", "predicate": "likes", "value": "` + secret + `"}`, 400, engram.CodeInvalid},
		{"predicate with a control character", "POST", "/v1/facts", `{"subject": "Mira", "predicate": "lives\u0007in", "value": "` + secret + `"}`, 400, engram.CodeInvalid},
		{"oversize predicate", "POST", "/v1/facts", `{"subject": "Mira", "predicate": "` + strings.Repeat("p", engram.MaxPredicateBytes+1) + `", "value": "` + secret + `"}`, 400, engram.CodeInvalid},
		{"blank predicate", "POST", "/v1/facts", `{"subject": "Mira", "predicate": "  ", "value": "` + secret + `"}`, 400, engram.CodeInvalid},
		{"neither object nor value", "POST", "/v1/facts", `{"subject": "Mira", "predicate": "likes"}`, 400, engram.CodeInvalid},
		{"field of the wrong type", "POST", "/v1/observe", `{"messages": [{"role": "user", "content": 7}]}`, 400, engram.CodeInvalid},
		{"unknown field", "POST", "/v1/facts", `{"subject": "Mira", "predicate": "likes", "value": "tea", "tenant_id": "other"}`, 400, engram.CodeInvalid},
		{"graph call on an unknown entity", "POST", "/v1/graph/add_observations", `{"observations": [{"entityName": "` + secret + `", "contents": ["x"]}]}`, 404, engram.CodeNotFound},
		{"too many graph names", "POST", "/v1/graph/open_nodes", `{"names": [` + strings.TrimSuffix(strings.Repeat(`"a",`, engram.MaxGraphNames+1), ",") + `]}`, 400, engram.CodeInvalid},
	} {
		status, body := call(t, s, key, x.method, x.path, x.body)
		wantProblem(t, x.name, status, body, x.status, x.code, secret, longName, wideName)
	}

	// No key: 401 on every new route, before anything is read.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/facts", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("no key: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestObserveTenantIsolation: three tenants observe the same names at the
// same time; none sees another's entities, facts or episodes, by id or by
// listing.
func TestObserveTenantIsolation(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	type tenantView struct {
		key      string
		episode  string
		entities []string
		facts    []string
	}
	views := make([]*tenantView, 3)
	var wg sync.WaitGroup
	errs := make(chan error, len(views))
	for i := range views {
		key, c := tenant(t, s, fmt.Sprintf("t%d", i))
		views[i] = &tenantView{key: key}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The same people and places; a different job in each tenant.
			msgs := []engram.ObserveMessage{{Role: "user", Name: "Mira", Content: fmt.Sprintf("I live in Lyon and I work at %s.", []string{"Renault", "Michelin", "Danone"}[i])}}
			ep, err := c.Observe(ctx, engram.ObserveRequest{Messages: msgs, Scope: engram.Scope{UserID: "mira"}})
			if err != nil {
				errs <- err
				return
			}
			views[i].episode = ep.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for i, v := range views {
		c := s.Client(v.key)
		l, err := c.ListEntities(ctx, engram.EntityQuery{UserID: "mira"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range l.Results {
			names = append(names, e.Name)
			v.entities = append(v.entities, e.ID)
		}
		slices.Sort(names)
		job := []string{"Renault", "Michelin", "Danone"}[i]
		if want := []string{"Lyon", "Mira", job}; !slices.Equal(names, slices.Sorted(slices.Values(want))) {
			t.Errorf("tenant %d lists entities %v, want %v", i, names, want)
		}
		fs, err := c.Facts(ctx, engram.FactQuery{IncludeInvalid: true})
		if err != nil {
			t.Fatal(err)
		}
		if g, w := triples(fs), []string{"lives_in Lyon", "works_at " + job}; !slices.Equal(g, w) {
			t.Errorf("tenant %d lists facts %v, want %v", i, g, w)
		}
		for _, f := range fs {
			v.facts = append(v.facts, f.ID)
		}
		hits, err := c.SearchFacts(ctx, engram.FactSearch{Query: "Where does Mira work?"})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if !slices.Contains(v.facts, h.ID) {
				t.Errorf("tenant %d's search finds another tenant's fact %s", i, h.Fact)
			}
		}
	}

	// Every id of one tenant is unknown to the others, for reads and for
	// writes.
	for i, v := range views {
		for j, o := range views {
			if i == j {
				continue
			}
			for _, id := range o.entities {
				if slices.Contains(v.entities, id) {
					t.Fatalf("tenants %d and %d share entity id %s", i, j, id)
				}
				for _, x := range [][2]string{{"GET", "/v1/entities/" + id}, {"DELETE", "/v1/entities/" + id}} {
					status, body := call(t, s, v.key, x[0], x[1], "")
					wantProblem(t, fmt.Sprintf("tenant %d: %s another's entity", i, x[0]), status, body, 404, engram.CodeNotFound)
				}
				status, body := call(t, s, v.key, "POST", "/v1/entities/"+v.entities[0]+"/merge", `{"other_id": "`+id+`"}`)
				wantProblem(t, fmt.Sprintf("tenant %d merges another's entity", i), status, body, 404, engram.CodeNotFound)
				status, body = call(t, s, v.key, "GET", "/v1/facts?entity_id="+id, "")
				if status != http.StatusOK && status != http.StatusNotFound || strings.Contains(body, `"fact":`) {
					t.Errorf("tenant %d reads facts of another's entity: %d %s", i, status, body)
				}
			}
			for _, id := range o.facts {
				for _, x := range [][2]string{{"GET", "/v1/facts/" + id}, {"DELETE", "/v1/facts/" + id}} {
					status, body := call(t, s, v.key, x[0], x[1], "")
					wantProblem(t, fmt.Sprintf("tenant %d: %s another's fact", i, x[0]), status, body, 404, engram.CodeNotFound)
				}
			}
			status, body := call(t, s, v.key, "GET", "/v1/episodes/"+o.episode, "")
			wantProblem(t, fmt.Sprintf("tenant %d reads another's episode", i), status, body, 404, engram.CodeNotFound)
		}
	}
	// Nothing was deleted by the refused calls.
	for i, v := range views {
		fs, err := s.Client(v.key).Facts(ctx, engram.FactQuery{IncludeInvalid: true})
		if err != nil || len(fs) != len(v.facts) {
			t.Errorf("tenant %d has %d facts after the others' attempts, want %d (%v)", i, len(fs), len(v.facts), err)
		}
	}
}

// TestGraphREST walks the MCP memory server's nine operations through the
// Go client.
func TestGraphREST(t *testing.T) {
	s := testserver.Start(t)
	_, c := tenant(t, s, "acme")
	ctx := context.Background()
	scope := engram.Scope{UserID: "mira"}

	created, err := c.CreateEntities(ctx, scope, []engram.GraphEntity{
		{Name: "Mira", EntityType: "person", Observations: []string{"Speaks French"}},
		{Name: "Zalando", EntityType: "organisation"},
	})
	if err != nil || len(created) != 2 {
		t.Fatalf("create: %+v %v", created, err)
	}
	again, err := c.CreateEntities(ctx, scope, []engram.GraphEntity{{Name: "Mira", EntityType: "person"}})
	if err != nil || len(again) != 0 {
		t.Fatalf("create an existing name: %+v %v", again, err)
	}
	rels, err := c.CreateRelations(ctx, scope, []engram.GraphRelation{{From: "Mira", To: "Zalando", RelationType: "works_at"}})
	if err != nil || len(rels) != 1 {
		t.Fatalf("relations: %+v %v", rels, err)
	}
	_, err = c.CreateRelations(ctx, scope, []engram.GraphRelation{{From: "Mira", To: "Nobody", RelationType: "knows"}})
	wantCode(t, err, engram.CodeNotFound)
	added, err := c.AddObservations(ctx, scope, []engram.GraphObservations{{EntityName: "Mira", Contents: []string{"Speaks French", "Plays the piano"}}})
	if err != nil || len(added) != 1 || !slices.Equal(added[0].AddedObservations, []string{"Plays the piano"}) {
		t.Fatalf("add observations: %+v %v", added, err)
	}

	g, err := c.ReadGraph(ctx, scope)
	if err != nil || len(g.Entities) != 2 || len(g.Relations) != 1 {
		t.Fatalf("read: %+v %v", g, err)
	}
	g, err = c.SearchNodes(ctx, scope, "piano")
	if err != nil || len(g.Entities) != 1 || g.Entities[0].Name != "Mira" {
		t.Fatalf("search: %+v %v", g, err)
	}
	g, err = c.OpenNodes(ctx, scope, []string{"Mira", "Zalando"})
	if err != nil || len(g.Entities) != 2 || len(g.Relations) != 1 || g.Relations[0] != (engram.GraphRelation{From: "Mira", To: "Zalando", RelationType: "works_at"}) {
		t.Fatalf("open: %+v %v", g, err)
	}
	// Another scope of the same tenant has its own graph.
	if g, err := c.ReadGraph(ctx, engram.Scope{UserID: "noor"}); err != nil || len(g.Entities) != 0 {
		t.Fatalf("another scope: %+v %v", g, err)
	}

	if err := c.DeleteObservations(ctx, scope, []engram.GraphObservations{{EntityName: "Mira", Observations: []string{"Speaks French"}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRelations(ctx, scope, rels); err != nil {
		t.Fatal(err)
	}
	g, err = c.OpenNodes(ctx, scope, []string{"Mira"})
	if err != nil || len(g.Entities) != 1 || !slices.Equal(g.Entities[0].Observations, []string{"Plays the piano"}) || len(g.Relations) != 0 {
		t.Fatalf("after deletions: %+v %v", g, err)
	}
	if err := c.DeleteEntities(ctx, scope, []string{"Mira", "Nobody"}); err != nil {
		t.Fatal(err)
	}
	g, err = c.ReadGraph(ctx, scope)
	if err != nil || len(g.Entities) != 1 || g.Entities[0].Name != "Zalando" {
		t.Fatalf("after delete_entities: %+v %v", g, err)
	}
}

// TestObserveScopes: reading needs memories:read, writing memories:write;
// a write-only key may observe but learns nothing stored, and cannot state
// or merge facts (their answers read the store).
func TestObserveScopes(t *testing.T) {
	s := testserver.Start(t)
	_, owner := tenant(t, s, "acme")
	ctx := context.Background()
	ep := observe(t, owner, "mira", lifeBefore())
	keyWith := func(scopes ...engram.Permission) string {
		k, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: string(scopes[0]), Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return k.Secret
	}
	reader, writer := keyWith(engram.PermMemoriesRead), keyWith(engram.PermMemoriesWrite)
	observeBody := `{"messages": [{"role": "user", "name": "Mira", "content": "I live in Lyon."}], "user_id": "mira"}`
	factBody := `{"subject": "Mira", "predicate": "likes", "value": "tea", "user_id": "mira"}`
	for _, x := range []struct {
		name, key, method, path, body string
		status                        int
	}{
		{"reader lists facts", reader, "GET", "/v1/facts?user_id=mira", "", 200},
		{"reader reads an episode", reader, "GET", "/v1/episodes/" + ep.ID, "", 200},
		{"reader lists entities", reader, "GET", "/v1/entities", "", 200},
		{"reader reads the graph", reader, "POST", "/v1/graph/read_graph", `{"user_id": "mira"}`, 200},
		{"reader observes", reader, "POST", "/v1/observe", observeBody, 403},
		{"reader states a fact", reader, "POST", "/v1/facts", factBody, 403},
		{"reader deletes a fact", reader, "DELETE", "/v1/facts/" + ep.Facts[0].ID, "", 403},
		{"reader forgets an entity", reader, "DELETE", "/v1/entities/" + ep.Entities[0].ID, "", 403},
		{"reader creates graph entities", reader, "POST", "/v1/graph/create_entities", `{"entities": [{"name": "X", "entityType": "person"}]}`, 403},
		{"writer lists facts", writer, "GET", "/v1/facts", "", 403},
		{"writer states a fact", writer, "POST", "/v1/facts", factBody, 403},
		{"writer merges", writer, "POST", "/v1/entities/" + ep.Entities[0].ID + "/merge", `{"other_id": "` + ep.Entities[1].ID + `"}`, 403},
		{"writer observes", writer, "POST", "/v1/observe", observeBody, 201},
	} {
		status, body := call(t, s, x.key, x.method, x.path, x.body)
		if status != x.status {
			t.Errorf("%s: %d %s, want %d", x.name, status, body, x.status)
		}
		if x.name == "writer observes" && (strings.Contains(body, "Lyon") || strings.Contains(body, "Mira")) {
			t.Errorf("a write-only key reads stored text back: %s", body)
		}
	}
}
