package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/engram-memory/engram/internal/testserver"
)

// served fetches the OpenAPI document a running server publishes.
func served(t *testing.T, s *testserver.Server) []byte {
	t.Helper()
	resp, err := http.Get(s.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi: %d %v", resp.StatusCode, err)
	}
	return raw
}

func newValidator(t *testing.T, raw []byte) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi cannot read the document: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	return v
}

// TestOpenAPILint checks the served document against the OpenAPI 3.1
// schema with a real validator (libopenapi-validator), and the promises
// generated clients rely on: a server to call, and for every operation the
// statuses the API really answers — 400 (never huma's 422) and the errors
// any request can meet.
func TestOpenAPILint(t *testing.T) {
	s := testserver.Start(t)
	raw := served(t, s)
	v := newValidator(t, raw)
	if ok, errs := v.ValidateDocument(); !ok {
		for _, e := range errs {
			t.Errorf("document: %s", e.Error())
		}
	}

	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
		Paths   map[string]map[string]struct {
			OperationID string                     `json:"operationId"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %+v, want the relative server /", doc.Servers)
	}
	// Operations where a request can conflict with the state: a reused
	// Idempotency-Key, a legal hold, the hold limit, the last owner key, a
	// write whose user's key changed under it (erasure, rotation).
	conflicts := []string{"addMemory", "updateMemory", "revokeKey", "forgetUser", "createAuditHold",
		"observe", "mergeEntities"}
	for path, methods := range doc.Paths {
		for method, o := range methods {
			name := method + " " + path
			if _, ok := o.Responses["422"]; ok {
				t.Errorf("%s declares 422; the API answers invalid input with 400", name)
			}
			want := []string{"400", "401", "403", "404", "413", "429", "500", "503", "507"}
			if slices.Contains(conflicts, o.OperationID) {
				want = append(want, "409")
			}
			for _, code := range want {
				if _, ok := o.Responses[code]; !ok {
					t.Errorf("%s does not declare %s", name, code)
				}
			}
			var tooMany struct {
				Headers map[string]json.RawMessage `json:"headers"`
			}
			if err := json.Unmarshal(o.Responses["429"], &tooMany); err != nil || tooMany.Headers["Retry-After"] == nil {
				t.Errorf("%s: its 429 does not declare Retry-After", name)
			}
		}
	}
}

// exchange is one request against the running server and what the
// document says about its answer.
type exchange struct {
	name   string
	method string
	path   string
	key    string
	header http.Header
	body   string
	status int
}

// TestResponsesMatchOpenAPI sends real requests, successes and failures,
// and validates every answer (status, content type, body) against the
// served document, so the document cannot drift from what the server says.
func TestResponsesMatchOpenAPI(t *testing.T) {
	s := testserver.Start(t)
	v := newValidator(t, served(t, s))
	nt, err := s.Engine.CreateTenant(t.Context(), "oas")
	if err != nil {
		t.Fatal(err)
	}
	owner := nt.Key.Secret

	do := func(t *testing.T, x exchange) []byte {
		t.Helper()
		var body io.Reader
		if x.body != "" {
			body = strings.NewReader(x.body)
		}
		req, err := http.NewRequest(x.method, s.URL+x.path, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range x.header {
			req.Header[k] = vs
		}
		if x.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if x.key != "" {
			req.Header.Set("Authorization", "Bearer "+x.key)
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
		// The validator reads the bodies again.
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		vreq, _ := http.NewRequest(x.method, s.URL+x.path, nil)
		if ok, errs := v.ValidateHttpResponse(vreq, resp); !ok {
			for _, e := range errs {
				t.Errorf("%s: %d %s: %s", x.name, resp.StatusCode, e.Error(), raw)
			}
		}
		return raw
	}
	idOf := func(t *testing.T, raw []byte) string {
		t.Helper()
		var out struct {
			Results []struct{ ID string } `json:"results"`
			ID      string                `json:"id"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		if out.ID != "" {
			return out.ID
		}
		if len(out.Results) == 0 {
			t.Fatalf("no id in %s", raw)
		}
		return out.Results[0].ID
	}

	// A memory stored without metadata: every answer carrying it must still
	// match the schema (metadata is an object, never null).
	id := idOf(t, do(t, exchange{name: "add", method: "POST", path: "/v1/memories", key: owner,
		body: `{"content": "The deploy window is Tuesday", "user_id": "ops"}`, status: 201}))
	if got := do(t, exchange{name: "get", method: "GET", path: "/v1/memories/" + id, key: owner, status: 200}); !bytes.Contains(got, []byte(`"metadata":{}`)) {
		t.Errorf("metadata of a memory stored without any: %s", got)
	}
	ro := idOf(t, do(t, exchange{name: "create key", method: "POST", path: "/v1/keys", key: owner,
		body: `{"name": "ro", "scopes": ["memories:read"]}`, status: 201}))
	created := do(t, exchange{name: "create key again", method: "POST", path: "/v1/keys", key: owner,
		body: `{"name": "reader", "scopes": ["memories:read"]}`, status: 201})
	var reader struct {
		Secret string `json:"key"`
	}
	if err := json.Unmarshal(created, &reader); err != nil || reader.Secret == "" {
		t.Fatalf("new key: %s", created)
	}

	for _, x := range []exchange{
		{name: "list", method: "GET", path: "/v1/memories?user_id=ops&limit=5", key: owner, status: 200},
		{name: "search", method: "POST", path: "/v1/search", key: owner, body: `{"query": "deploy window", "explain": true}`, status: 200},
		{name: "update", method: "PUT", path: "/v1/memories/" + id, key: owner, body: `{"content": "The deploy window is Wednesday"}`, status: 200},
		{name: "history", method: "GET", path: "/v1/memories/" + id + "/history", key: owner, status: 200},
		{name: "list keys", method: "GET", path: "/v1/keys", key: owner, status: 200},
		{name: "audit", method: "GET", path: "/v1/audit?limit=5", key: owner, status: 200},
		{name: "audit keys", method: "GET", path: "/v1/audit/keys", key: owner, status: 200},
		{name: "audit segments", method: "GET", path: "/v1/audit/segments", key: owner, status: 200},
		{name: "holds", method: "GET", path: "/v1/audit/holds", key: owner, status: 200},
		{name: "rotate", method: "POST", path: "/v1/encryption-keys/rotate", key: owner, status: 200},
		{name: "unknown memory", method: "GET", path: "/v1/memories/mem_0000000000000000000000", key: owner, status: 404},
		{name: "malformed JSON", method: "POST", path: "/v1/memories", key: owner, body: `{"content": `, status: 400},
		{name: "field error", method: "POST", path: "/v1/memories", key: owner, body: `{"content": "x", "user_id": 12}`, status: 400},
		{name: "limit out of range", method: "GET", path: "/v1/memories?limit=1000", key: owner, status: 400},
		{name: "no key", method: "GET", path: "/v1/memories", status: 401},
		{name: "read-only key writes", method: "POST", path: "/v1/memories", key: reader.Secret, body: `{"content": "x"}`, status: 403},
		{name: "body too large", method: "POST", path: "/v1/memories", key: owner,
			body: `{"content": "` + strings.Repeat("a", 2<<20) + `"}`, status: 413},
		{name: "idempotent add", method: "POST", path: "/v1/memories", key: owner, header: http.Header{"Idempotency-Key": {"oas-1"}},
			body: `{"content": "first"}`, status: 201},
		{name: "reused Idempotency-Key", method: "POST", path: "/v1/memories", key: owner, header: http.Header{"Idempotency-Key": {"oas-1"}},
			body: `{"content": "second"}`, status: 409},
		{name: "revoke key", method: "DELETE", path: "/v1/keys/" + ro, key: owner, status: 204},
		{name: "delete", method: "DELETE", path: "/v1/memories/" + id, key: owner, status: 204},
	} {
		do(t, x)
	}

	// Sealed segments, checkpoints, proofs and bundles.
	sealAll(t, s, 1000)
	do(t, exchange{name: "add after the seal", method: "POST", path: "/v1/memories", key: owner, body: `{"content": "later"}`, status: 201})
	sealAll(t, s, 1000)
	for _, x := range []exchange{
		{name: "checkpoint", method: "GET", path: "/v1/audit/checkpoint", key: owner, status: 200},
		{name: "segments after sealing", method: "GET", path: "/v1/audit/segments", key: owner, status: 200},
		{name: "bundle", method: "GET", path: "/v1/audit/segments/1/bundle", key: owner, status: 200},
		{name: "inclusion proof", method: "GET", path: "/v1/audit/proofs/inclusion?seq=1", key: owner, status: 200},
		{name: "consistency proof", method: "GET", path: "/v1/audit/proofs/consistency?from=1", key: owner, status: 200},
		{name: "no such segment", method: "GET", path: "/v1/audit/segments/999999/bundle", key: owner, status: 404},
	} {
		do(t, x)
	}

	hold := idOf(t, do(t, exchange{name: "hold", method: "POST", path: "/v1/audit/holds", key: owner, body: `{"reason_code": "litigation"}`, status: 201}))
	do(t, exchange{name: "forget under a hold", method: "DELETE", path: "/v1/users/ops", key: owner, status: 409})
	do(t, exchange{name: "release hold", method: "DELETE", path: fmt.Sprintf("/v1/audit/holds/%s", hold), key: owner, status: 204})
	do(t, exchange{name: "forget", method: "DELETE", path: "/v1/users/ops", key: owner, status: 200})
}
