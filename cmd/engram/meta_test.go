package main_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/engram-memory/engram/client"
)

// TestAddMetaTypes: `engram add --meta km=5` stores the number 5, so a
// numeric filter finds it; true/false are booleans, a JSON-quoted value and
// anything not a JSON number stay strings. `engram search --threshold`
// reaches the server.
func TestAddMetaTypes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServerWith(t, data, nil, "--embedder", "none")
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	key := strings.TrimSpace(string(raw))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + key}

	out := mustEngram(t, env, "add", "Morning run along the river", "--user", "ann",
		"--meta", "km=5", "--meta", "pace=5.25", "--meta", "outdoor=true", "--meta", `zip="02134"`,
		"--meta", "code=02134", "--meta", "big=9007199254740993", "--meta", "note=null")
	id := strings.Fields(out)[1]

	c := client.New(s.url, key)
	ctx := context.Background()
	m, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"km": 5.0, "pace": 5.25, "outdoor": true, "zip": "02134",
		"code": "02134", "big": "9007199254740993", "note": "null"}
	if !reflect.DeepEqual(m.Metadata, want) {
		t.Fatalf("metadata %#v, want %#v", m.Metadata, want)
	}
	for _, f := range []map[string]any{
		{"km": map[string]any{"gte": 3}},
		{"km": 5},
		{"outdoor": true},
		{"pace": map[string]any{"lt": 6, "gt": 5}},
	} {
		hits, err := c.Search(ctx, client.SearchRequest{Query: "morning run", UserID: "ann", Filters: f, Threshold: client.Threshold(0)})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].ID != id {
			t.Fatalf("filter %v: %d hits", f, len(hits))
		}
	}
	// --threshold reaches the server: 0 keeps a weak match the default drops.
	if out := mustEngram(t, env, "search", "morning weather forecast", "--user", "ann"); strings.Contains(out, id) {
		t.Fatalf("default threshold kept a weak match: %q", out)
	}
	if out := mustEngram(t, env, "search", "morning weather forecast", "--user", "ann", "--threshold", "0"); !strings.Contains(out, id) {
		t.Fatalf("--threshold 0: %q", out)
	}
}
