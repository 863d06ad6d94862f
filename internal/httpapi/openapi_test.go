package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/testserver"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestOpenAPIGolden pins the wire contract: any change to the API's shape
// shows up as a diff of testdata/openapi.golden.json.
func TestOpenAPIGolden(t *testing.T) {
	s := testserver.Start(t)
	resp, err := http.Get(s.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("openapi: %d %v", resp.StatusCode, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/v1/memories", "/v1/memories/{id}", "/v1/memories/{id}/history", "/v1/search", "/v1/keys", "/v1/keys/{id}"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("path %s missing", p)
		}
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/httpapi -run OpenAPI -update)", err)
	}
	if !bytes.Equal(want, pretty.Bytes()) {
		t.Fatalf("OpenAPI document changed; if intended, run: go test ./internal/httpapi -run OpenAPI -update")
	}
}

// FuzzRequestDecoding throws arbitrary bodies at every JSON endpoint: the
// answer is always a JSON document and never a 500.
func FuzzRequestDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"content":"hello","user_id":"u"}`,
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"query":"tea","filters":{"a":1},"limit":5}`,
		`{"name":"k","scopes":["memories:read"],"expires_at":"2030-01-01T00:00:00Z"}`,
		`{"content":"\u0000"}`, `[]`, `null`, `{"content":1e999}`, `{"metadata":{"":{}}}`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	s := testserver.Start(f)
	nt, err := s.Engine.CreateTenant(context.Background(), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/v1/memories", "/v1/search", "/v1/keys", "/v1/observe", "/v1/facts", "/v1/facts/search", "/v1/graph/create_entities"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			req, _ := http.NewRequest(http.MethodPost, s.URL+p, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+nt.Key.Secret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Fatalf("%s %q: %d %s", p, body, resp.StatusCode, raw)
			}
			if !json.Valid(raw) {
				t.Fatalf("%s %q: not JSON: %s", p, body, raw)
			}
		}
	})
}
