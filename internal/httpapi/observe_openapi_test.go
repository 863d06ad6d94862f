package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	validator "github.com/pb33f/libopenapi-validator"

	"github.com/engram-memory/engram/internal/testserver"
)

// exchangeValid sends one request and validates the answer (status, content
// type, body) against the served document; it returns the body.
func exchangeValid(t *testing.T, v validator.Validator, s *testserver.Server, key string, x exchange) []byte {
	t.Helper()
	var body io.Reader
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	req, err := http.NewRequest(x.method, s.URL+x.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if x.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range x.header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != x.status {
		t.Fatalf("%s: status %d, want %d: %s", x.name, resp.StatusCode, x.status, raw)
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	vreq, _ := http.NewRequest(x.method, s.URL+x.path, nil)
	if ok, errs := v.ValidateHttpResponse(vreq, resp); !ok {
		for _, e := range errs {
			t.Errorf("%s: %d %s: %s", x.name, resp.StatusCode, e.Error(), raw)
		}
	}
	return raw
}

// TestObserveResponsesMatchOpenAPI is TestResponsesMatchOpenAPI for the
// Observe, entity, fact and graph routes.
func TestObserveResponsesMatchOpenAPI(t *testing.T) {
	s := testserver.Start(t)
	v := newValidator(t, served(t, s))
	key, _ := tenant(t, s, "oas")
	do := func(x exchange) []byte { t.Helper(); return exchangeValid(t, v, s, key, x) }

	var ep struct {
		ID       string `json:"episode_id"`
		Entities []struct{ ID, Name string }
		Facts    []struct{ ID string }
	}
	raw := do(exchange{name: "observe", method: "POST", path: "/v1/observe", header: http.Header{"Idempotency-Key": {"oas-obs"}}, status: 201,
		body: `{"messages": [{"role": "user", "name": "Mira", "content": "I live in Lyon and I work at Renault.", "timestamp": "2026-01-10T09:00:00Z"}], "user_id": "mira", "metadata": {"source": "chat"}}`})
	if err := json.Unmarshal(raw, &ep); err != nil || len(ep.Entities) < 2 || len(ep.Facts) < 2 {
		t.Fatalf("observe: %v %s", err, raw)
	}
	var lit struct {
		ID      string
		Subject struct{ ID string }
	}
	if err := json.Unmarshal(do(exchange{name: "add fact", method: "POST", path: "/v1/facts", status: 201,
		body: `{"subject": "Mira Klein", "predicate": "job_title", "value": "engineer", "user_id": "mira"}`}), &lit); err != nil {
		t.Fatal(err)
	}
	mira := ""
	for _, e := range ep.Entities {
		if e.Name == "Mira" {
			mira = e.ID
		}
	}
	for _, x := range []exchange{
		{name: "observe replayed", method: "POST", path: "/v1/observe", header: http.Header{"Idempotency-Key": {"oas-obs"}}, status: 201,
			body: `{"messages": [{"role": "user", "name": "Mira", "content": "I live in Lyon and I work at Renault.", "timestamp": "2026-01-10T09:00:00Z"}], "user_id": "mira", "metadata": {"source": "chat"}}`},
		{name: "observe, key reused", method: "POST", path: "/v1/observe", header: http.Header{"Idempotency-Key": {"oas-obs"}}, status: 409,
			body: `{"messages": [{"role": "user", "content": "Something else"}]}`},
		{name: "episodes", method: "GET", path: "/v1/episodes?user_id=mira&limit=5", status: 200},
		{name: "episode", method: "GET", path: "/v1/episodes/" + ep.ID, status: 200},
		{name: "entities", method: "GET", path: "/v1/entities?user_id=mira&limit=1", status: 200},
		{name: "entity", method: "GET", path: "/v1/entities/" + ep.Entities[0].ID, status: 200},
		{name: "facts", method: "GET", path: "/v1/facts?user_id=mira&include_invalid=true", status: 200},
		{name: "facts as of", method: "GET", path: "/v1/facts?user_id=mira&as_of=2026-02-01T00:00:00Z", status: 200},
		{name: "fact", method: "GET", path: "/v1/facts/" + ep.Facts[0].ID, status: 200},
		{name: "literal fact", method: "GET", path: "/v1/facts/" + lit.ID, status: 200},
		{name: "search facts", method: "POST", path: "/v1/facts/search", body: `{"query": "Lyon", "user_id": "mira"}`, status: 200},
		{name: "topics", method: "GET", path: "/v1/topics?user_id=mira", status: 200},
		{name: "patterns", method: "GET", path: "/v1/patterns?user_id=mira", status: 200},
		{name: "graph create", method: "POST", path: "/v1/graph/create_entities", body: `{"entities": [{"name": "Zalando", "entityType": "organisation", "observations": ["Berlin"]}]}`, status: 200},
		{name: "graph relate", method: "POST", path: "/v1/graph/create_relations", body: `{"relations": [{"from": "Zalando", "to": "Zalando", "relationType": "owns"}]}`, status: 200},
		{name: "graph observe", method: "POST", path: "/v1/graph/add_observations", body: `{"observations": [{"entityName": "Zalando", "contents": ["Fashion"]}]}`, status: 200},
		{name: "graph read", method: "POST", path: "/v1/graph/read_graph", status: 200},
		{name: "graph search", method: "POST", path: "/v1/graph/search_nodes", body: `{"query": "fashion"}`, status: 200},
		{name: "graph open", method: "POST", path: "/v1/graph/open_nodes", body: `{"names": ["Zalando"]}`, status: 200},
		{name: "graph unobserve", method: "POST", path: "/v1/graph/delete_observations", body: `{"deletions": [{"entityName": "Zalando", "observations": ["Fashion"]}]}`, status: 204},
		{name: "graph unrelate", method: "POST", path: "/v1/graph/delete_relations", body: `{"relations": [{"from": "Zalando", "to": "Zalando", "relationType": "owns"}]}`, status: 204},
		{name: "graph delete", method: "POST", path: "/v1/graph/delete_entities", body: `{"entityNames": ["Zalando"]}`, status: 204},
		{name: "unknown entity", method: "GET", path: "/v1/entities/" + mutate(ep.Entities[0].ID), status: 404},
		{name: "bad as_of", method: "GET", path: "/v1/facts?as_of=soon", status: 400},
		{name: "bad predicate", method: "POST", path: "/v1/facts", body: `{"subject": "Mira", "predicate": "lives\u0007in", "value": "x"}`, status: 400},
		{name: "merge", method: "POST", path: "/v1/entities/" + mira + "/merge", body: `{"other_id": "` + lit.Subject.ID + `"}`, status: 200},
		{name: "delete fact", method: "DELETE", path: "/v1/facts/" + lit.ID, status: 204},
		{name: "forget entity", method: "DELETE", path: "/v1/entities/" + mira, status: 200},
	} {
		do(x)
	}

	// The 202 of an asynchronous node, against the same document (both
	// nodes serve the same routes; the validator is built once).
	as := asyncServer(t)
	akey, _ := tenant(t, as, "oas")
	exchangeValid(t, v, as, akey, exchange{name: "observe, asynchronous", method: "POST", path: "/v1/observe", status: 202,
		body: `{"messages": [{"role": "user", "name": "Mira", "content": "I moved to Berlin."}], "user_id": "mira"}`})
}
