package main_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestServeMem0 checks that `engram serve` wires the mem0-compatible
// surface completely (entities and delete-all need the engine's
// ScopeService): the calls a mem0 client makes, with `Token` auth.
func TestServeMem0(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	key := ownerKey(t, data)
	do := func(method, path, body string) map[string]any {
		t.Helper()
		req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Token "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	if out := do(http.MethodGet, "/v1/ping/", ""); out["status"] != "ok" {
		t.Fatalf("ping: %v", out)
	}
	do(http.MethodPost, "/v3/memories/add/", `{"messages":[{"role":"user","content":"Alice likes tea"}],"user_id":"alice"}`)
	if out := do(http.MethodGet, "/v1/entities/", ""); out["count"] != float64(1) {
		t.Fatalf("entities: %v", out)
	}
	if out := do(http.MethodDelete, "/v1/memories/?user_id=alice", ""); out["deleted"] != float64(1) {
		t.Fatalf("delete all: %v", out)
	}
	s.stop(t)
}
