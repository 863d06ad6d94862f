package mem0api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// call sends one request the way mem0's clients do (Authorization: Token)
// and returns the status and body.
func call(t *testing.T, s *testserver.Server, key, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Token "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// want checks a status and decodes the body into v (when not nil).
func want(t *testing.T, status int, body []byte, wantStatus int, v any) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
}

// wantProblem checks a problem+json answer with Engram's stable code.
func wantProblem(t *testing.T, status int, body []byte, wantStatus int, code string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	}
	want(t, status, body, wantStatus, &p)
	if p.Code != code || p.Status != wantStatus {
		t.Fatalf("problem %s, want code %q", body, code)
	}
}

type addAnswer struct {
	Status  string `json:"status"`
	Results []struct {
		ID     string `json:"id"`
		Event  string `json:"event"`
		Memory string `json:"memory"`
	} `json:"results"`
}

func addOne(t *testing.T, s *testserver.Server, key, user, text string) string {
	t.Helper()
	code, body := call(t, s, key, http.MethodPost, "/v3/memories/add/", map[string]any{
		"messages": []map[string]string{{"role": "user", "content": text}}, "user_id": user,
	})
	var a addAnswer
	want(t, code, body, http.StatusOK, &a)
	if a.Status != "SUCCEEDED" || len(a.Results) != 1 || a.Results[0].Event != "ADD" {
		t.Fatalf("add: %s", body)
	}
	return a.Results[0].ID
}

// TestTokenScheme: mem0 clients authenticate with "Token KEY"; before, only
// Bearer was accepted and every mem0 call answered 401.
func TestTokenScheme(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	var ping struct {
		Status string `json:"status"`
		OrgID  string `json:"org_id"`
	}
	code, body := call(t, s, key, http.MethodGet, "/v1/ping/", nil)
	want(t, code, body, http.StatusOK, &ping)
	if ping.Status != "ok" || ping.OrgID == "" {
		t.Fatalf("ping: %s", body)
	}
	// Engram's own routes take the Token scheme as well.
	code, body = call(t, s, key, http.MethodGet, "/v1/memories", nil)
	want(t, code, body, http.StatusOK, nil)

	code, body = call(t, s, "", http.MethodGet, "/v1/ping/", nil)
	wantProblem(t, code, body, http.StatusUnauthorized, engram.CodeUnauthenticated)
	code, body = call(t, s, key+"x", http.MethodGet, "/v1/ping/", nil)
	wantProblem(t, code, body, http.StatusUnauthorized, engram.CodeUnauthenticated)
	// /v2 and /v3 are behind the same authentication as /v1.
	code, body = call(t, s, "", http.MethodPost, "/v3/memories/search/", map[string]any{"query": "x"})
	wantProblem(t, code, body, http.StatusUnauthorized, engram.CodeUnauthenticated)
	code, body = call(t, s, "", http.MethodDelete, "/v2/entities/user/alice/", nil)
	wantProblem(t, code, body, http.StatusUnauthorized, engram.CodeUnauthenticated)
}

// TestRoutesBesideEngram: the trailing-slash mem0 paths and Engram's own
// paths answer in their own shapes, side by side.
func TestRoutesBesideEngram(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	id := addOne(t, s, key, "alice", "Alice likes tea")

	var own map[string]any
	code, body := call(t, s, key, http.MethodGet, "/v1/memories/"+id, nil)
	want(t, code, body, http.StatusOK, &own)
	if own["agent_id"] != "" {
		t.Fatalf("Engram's shape has empty strings for absent ids: %s", body)
	}
	var m0 map[string]any
	code, body = call(t, s, key, http.MethodGet, "/v1/memories/"+id+"/", nil)
	want(t, code, body, http.StatusOK, &m0)
	if v, ok := m0["agent_id"]; !ok || v != nil || m0["user_id"] != "alice" || m0["memory"] != "Alice likes tea" {
		t.Fatalf("mem0's shape has null for absent ids: %s", body)
	}

	var ownHist struct {
		Results []engram.HistoryEntry `json:"results"`
	}
	code, body = call(t, s, key, http.MethodGet, "/v1/memories/"+id+"/history", nil)
	want(t, code, body, http.StatusOK, &ownHist)
	var m0Hist []map[string]any
	code, body = call(t, s, key, http.MethodGet, "/v1/memories/"+id+"/history/", nil)
	want(t, code, body, http.StatusOK, &m0Hist)
	if len(ownHist.Results) != 1 || len(m0Hist) != 1 || m0Hist[0]["event"] != "ADD" || m0Hist[0]["new_memory"] != "Alice likes tea" {
		t.Fatalf("history: %v / %v", ownHist, m0Hist)
	}

	// Update with {text}, and with metadata alone (the text is kept).
	code, body = call(t, s, key, http.MethodPut, "/v1/memories/"+id+"/", map[string]any{"text": "Alice likes green tea"})
	want(t, code, body, http.StatusOK, &m0)
	if m0["memory"] != "Alice likes green tea" {
		t.Fatalf("update: %s", body)
	}
	code, body = call(t, s, key, http.MethodPut, "/v1/memories/"+id+"/", map[string]any{"metadata": map[string]any{"k": "v"}})
	want(t, code, body, http.StatusOK, &m0)
	if m0["memory"] != "Alice likes green tea" || m0["metadata"].(map[string]any)["k"] != "v" {
		t.Fatalf("metadata update: %s", body)
	}

	// A JSON body on delete is accepted.
	code, body = call(t, s, key, http.MethodDelete, "/v1/memories/"+id+"/", map[string]any{"delete_linked": false})
	want(t, code, body, http.StatusOK, nil)
	code, body = call(t, s, key, http.MethodGet, "/v1/memories/"+id, nil)
	wantProblem(t, code, body, http.StatusNotFound, engram.CodeNotFound)
}

// TestReadOnlyKey: a memories:read key reads through the mem0 surface and
// is refused (403 forbidden) on every write, as on Engram's own routes.
func TestReadOnlyKey(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	owner := tenantKey(t, s, "acme")
	reader := readKey(t, s, owner)
	id := addOne(t, s, owner, "alice", "Alice likes tea")

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/v3/memories/add/", map[string]any{"messages": "Alice likes coffee", "user_id": "alice"}},
		{http.MethodPut, "/v1/memories/" + id + "/", map[string]any{"text": "changed"}},
		{http.MethodDelete, "/v1/memories/" + id + "/", nil},
		{http.MethodDelete, "/v1/memories/?user_id=alice", nil},
		{http.MethodDelete, "/v2/entities/user/alice/", nil},
		{http.MethodPut, "/v1/batch/", map[string]any{"memories": []map[string]any{{"memory_id": id, "text": "changed"}}}},
		{http.MethodDelete, "/v1/batch/", map[string]any{"memories": []map[string]any{{"memory_id": id}}}},
	} {
		code, body := call(t, s, reader, c.method, c.path, c.body)
		if code != http.StatusForbidden || !strings.Contains(string(body), `"code":"forbidden"`) {
			t.Errorf("%s %s: %d %s, want 403 forbidden", c.method, c.path, code, body)
		}
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v1/memories/" + id + "/", nil},
		{http.MethodGet, "/v1/memories/" + id + "/history/", nil},
		{http.MethodPost, "/v3/memories/", map[string]any{"filters": map[string]any{"user_id": "alice"}}},
		{http.MethodPost, "/v3/memories/search/", map[string]any{"query": "tea", "filters": map[string]any{"user_id": "alice"}}},
		{http.MethodGet, "/v1/entities/", nil},
	} {
		code, body := call(t, s, reader, c.method, c.path, c.body)
		want(t, code, body, http.StatusOK, nil)
	}
	// Nothing was changed.
	code, body := call(t, s, owner, http.MethodGet, "/v1/memories/"+id+"/", nil)
	var m map[string]any
	want(t, code, body, http.StatusOK, &m)
	if m["memory"] != "Alice likes tea" {
		t.Fatalf("a refused write changed the memory: %s", body)
	}
	// Each refusal is in the audit trail, as a refused REST write is.
	page, err := s.Client(owner).Audit(context.Background(), engram.AuditQuery{Outcome: engram.OutcomeDenied})
	if err != nil {
		t.Fatal(err)
	}
	denied := map[engram.AuditAction]int{}
	for _, e := range page.Entries {
		denied[e.Action]++
	}
	if denied[engram.AuditMemoryCreate] != 1 || denied[engram.AuditMemoryUpdate] != 2 || denied[engram.AuditMemoryDelete] != 4 {
		t.Fatalf("denied entries %v, want 1 create, 2 updates, 4 deletes", denied)
	}
}

// TestCrossTenant: another tenant's memory is not found, whatever the call.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	a := tenantKey(t, s, "acme")
	b := tenantKey(t, s, "globex")
	id := addOne(t, s, a, "alice", "Alice likes tea")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v1/memories/" + id + "/", nil},
		{http.MethodGet, "/v1/memories/" + id + "/history/", nil},
		{http.MethodPut, "/v1/memories/" + id + "/", map[string]any{"text": "changed"}},
		{http.MethodDelete, "/v1/memories/" + id + "/", nil},
		{http.MethodPut, "/v1/batch/", map[string]any{"memories": []map[string]any{{"memory_id": id, "text": "changed"}}}},
		{http.MethodDelete, "/v1/batch/", map[string]any{"memories": []map[string]any{{"memory_id": id}}}},
	} {
		code, body := call(t, s, b, c.method, c.path, c.body)
		wantProblem(t, code, body, http.StatusNotFound, engram.CodeNotFound)
	}
	// Delete-all and entities of the other tenant see nothing of acme's.
	var del struct{ Deleted int }
	code, body := call(t, s, b, http.MethodDelete, "/v1/memories/?user_id=alice", nil)
	want(t, code, body, http.StatusOK, &del)
	var ents struct{ Count int }
	code, body = call(t, s, b, http.MethodGet, "/v1/entities/", nil)
	want(t, code, body, http.StatusOK, &ents)
	if del.Deleted != 0 || ents.Count != 0 {
		t.Fatalf("globex saw acme's memories: deleted %d, entities %d", del.Deleted, ents.Count)
	}
	code, body = call(t, s, a, http.MethodGet, "/v1/memories/"+id+"/", nil)
	want(t, code, body, http.StatusOK, nil)
}

// TestAudit: calls through the mem0 surface are recorded with the same
// actions, targets and transport as Engram's own REST routes; a delete-all
// records one memory.delete per memory.
func TestAudit(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	id := addOne(t, s, key, "alice", "Alice likes tea")
	other := addOne(t, s, key, "alice", "Alice plays chess")
	steps := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/v3/memories/search/", map[string]any{"query": "tea", "filters": map[string]any{"user_id": "alice"}}},
		{http.MethodPost, "/v3/memories/", map[string]any{"filters": map[string]any{"user_id": "alice"}}},
		{http.MethodGet, "/v1/memories/" + id + "/", nil},
		{http.MethodPut, "/v1/memories/" + id + "/", map[string]any{"text": "Alice likes green tea"}},
		{http.MethodGet, "/v1/memories/" + id + "/history/", nil},
		{http.MethodDelete, "/v1/memories/?user_id=alice", nil},
	}
	for _, c := range steps {
		code, body := call(t, s, key, c.method, c.path, c.body)
		want(t, code, body, http.StatusOK, nil)
	}
	page, err := s.Client(key).Audit(context.Background(), engram.AuditQuery{Limit: engram.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range page.Entries {
		if e.Transport != "rest" || e.Outcome != engram.OutcomeSuccess {
			t.Errorf("entry %+v: want a successful rest entry", e.AuditEntry)
		}
		got[string(e.Action)+" "+e.TargetID]++
	}
	for _, w := range []string{
		"memory.create " + id, "memory.create " + other, "memory.search ", "memory.list ",
		"memory.read " + id, "memory.update " + id, "memory.history " + id,
		"memory.delete " + id, "memory.delete " + other,
	} {
		if got[w] != 1 {
			t.Errorf("want one %q entry, got %d (all: %v)", w, got[w], got)
		}
	}
}

// TestNotServed: mem0 endpoints Engram has no equivalent for answer 501
// with a stable code instead of a bare 404.
func TestNotServed(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	for _, p := range []string{"/v1/feedback/", "/v1/exports/", "/v1/event/0196a4f2-0000-7000-8000-000000000000/", "/v2/profiles/settings/", "/api/v1/webhooks/projects/p/"} {
		code, body := call(t, s, key, http.MethodPost, p, map[string]any{})
		wantProblem(t, code, body, http.StatusNotImplemented, engram.CodeNotImplemented)
	}
}

// TestBadInput: what Engram cannot honour is refused with 400 invalid, and
// the answer never echoes the input.
func TestBadInput(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	const secret = "s3cr3t-value-never-echoed"
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/v3/memories/add/", map[string]any{"messages": secret, "app_id": "shop"}},
		{http.MethodPost, "/v3/memories/add/", map[string]any{"messages": secret, "user_id": "a", "enable_graph": true}},
		{http.MethodPost, "/v3/memories/add/", map[string]any{"messages": "x", "user_id": "a", "expiration_date": secret}},
		{http.MethodPost, "/v3/memories/add/", map[string]any{"messages": []map[string]any{{"role": "user", "content": map[string]any{"type": "image_url", "image_url": map[string]string{"url": secret}}}}, "user_id": "a"}},
		{http.MethodPost, "/v3/memories/add/", secret},
		{http.MethodPost, "/v3/memories/search/", map[string]any{"query": "x", "filters": map[string]any{"AND": []any{map[string]any{"user_id": "a"}, map[string]any{"user_id": secret}}}}},
		{http.MethodPost, "/v3/memories/search/", map[string]any{"query": "x", "filters": map[string]any{"categories": map[string]any{"in": []string{secret}}}}},
		{http.MethodPost, "/v3/memories/", map[string]any{"filters": map[string]any{"user_id": "a", "metadata": map[string]any{"k": secret}}}},
		{http.MethodPost, "/v3/memories/?page=0", map[string]any{}},
		{http.MethodPost, "/v3/memories/search/", map[string]any{"query": "x", "filters": map[string]any{"metadata": map[string]any{"user_id": secret}}}},
		{http.MethodDelete, "/v1/memories/", nil},
		{http.MethodPut, "/v1/batch/", map[string]any{"memories": []any{}}},
	} {
		code, body := call(t, s, key, c.method, c.path, c.body)
		wantProblem(t, code, body, http.StatusBadRequest, engram.CodeInvalid)
		if strings.Contains(string(body), secret) {
			t.Errorf("%s %s echoed its input: %s", c.method, c.path, body)
		}
	}
}

// TestEntitiesAndPages: entities count each scope id's memories; list pages
// walk the scope newest first without overlap.
func TestEntitiesAndPages(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	var ids []string
	for _, text := range []string{"one fact", "two facts", "three facts", "four facts", "five facts"} {
		ids = append(ids, addOne(t, s, key, "alice", text))
	}
	code, body := call(t, s, key, http.MethodPost, "/v3/memories/add/", map[string]any{"messages": "bob's fact", "user_id": "bob", "run_id": "r1"})
	want(t, code, body, http.StatusOK, nil)

	var ents struct {
		Count   int
		Results []struct {
			Name, Type    string
			TotalMemories int `json:"total_memories"`
		}
	}
	code, body = call(t, s, key, http.MethodGet, "/v1/entities/", nil)
	want(t, code, body, http.StatusOK, &ents)
	got := map[string]int{}
	for _, e := range ents.Results {
		got[e.Type+":"+e.Name] = e.TotalMemories
	}
	if ents.Count != 3 || got["user:alice"] != 5 || got["user:bob"] != 1 || got["run:r1"] != 1 {
		t.Fatalf("entities: %s", body)
	}

	var seen []string
	for num := 1; num <= 3; num++ {
		var p struct {
			Count    int
			Next     *string
			Previous *string
			Results  []struct{ ID string }
		}
		code, body := call(t, s, key, http.MethodPost, "/v3/memories/?page_size=2&page="+string(rune('0'+num)), map[string]any{"filters": map[string]any{"user_id": "alice"}})
		want(t, code, body, http.StatusOK, &p)
		if (p.Next == nil) != (num == 3) || (p.Previous == nil) != (num == 1) {
			t.Fatalf("page %d links: %s", num, body)
		}
		for _, r := range p.Results {
			seen = append(seen, r.ID)
		}
		if num == 3 && p.Count != 5 {
			t.Fatalf("last page count %d, want 5", p.Count)
		}
	}
	for i, id := range seen {
		if id != ids[len(ids)-1-i] {
			t.Fatalf("pages %v, want newest first %v", seen, ids)
		}
	}
}
