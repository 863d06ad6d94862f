package engine_test

import (
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestNumericFilters: numeric filters compare JSON numbers, whatever Go
// type a caller of the engine used (int, float64); a number stored as the
// string "5" is a string and matches string filters only (docs/API.md).
func TestNumericFilters(t *testing.T) {
	e, _ := testserver.NewEngine(t)
	_, ctx := owner(t, e)
	num, err := e.Add(ctx, engram.AddRequest{Content: "morning run by the river", Metadata: map[string]any{"km": 5}})
	if err != nil {
		t.Fatal(err)
	}
	str, err := e.Add(ctx, engram.AddRequest{Content: "evening run in the park", Metadata: map[string]any{"km": "5"}})
	if err != nil {
		t.Fatal(err)
	}
	none := 0.0
	for _, tc := range []struct {
		filter map[string]any
		want   string
	}{
		{map[string]any{"km": map[string]any{"gte": 3}}, num[0].ID},
		{map[string]any{"km": map[string]any{"gt": 4.5, "lte": int64(5)}}, num[0].ID},
		{map[string]any{"km": 5}, num[0].ID},
		{map[string]any{"km": map[string]any{"in": []int{4, 5}}}, num[0].ID},
		{map[string]any{"km": "5"}, str[0].ID},
	} {
		hits, err := e.Search(ctx, engram.SearchRequest{Query: "run", Filters: tc.filter, Threshold: &none})
		if err != nil {
			t.Fatalf("%v: %v", tc.filter, err)
		}
		if len(hits) != 1 || hits[0].ID != tc.want {
			t.Fatalf("%v: %d hits", tc.filter, len(hits))
		}
	}
}
