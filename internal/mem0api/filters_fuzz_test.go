package mem0api

import (
	"encoding/json"
	"testing"
)

// FuzzSplitFilters: any JSON object either is refused with an *Error or
// comes out with mem0-only keys gone and plain scope ids lifted.
func FuzzSplitFilters(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"alice"}`,
		`{"AND":[{"user_id":"alice"},{"created_at":{"gte":"2024-01-01"}},{"metadata":{"k":"v"}}]}`,
		`{"OR":[{"user_id":"*"},{"NOT":{"agent_id":"a"}}]}`,
		`{"user_id":"a","AND":[{"user_id":"b"}]}`,
		`{"app_id":"x"}`, `{"AND":"x"}`, `{"metadata":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var filters map[string]any
		if json.Unmarshal([]byte(in), &filters) != nil {
			return
		}
		scope, out, err := splitFilters(filters)
		if err != nil {
			return
		}
		for _, k := range []string{"metadata", "app_id", "categories"} {
			if _, ok := out[k]; ok {
				t.Fatalf("%s left in %v", k, out)
			}
		}
		if id, ok := out["user_id"].(string); ok && scope.UserID != "" && id != scope.UserID {
			t.Fatalf("user_id %q left beside scope %q", id, scope.UserID)
		}
	})
}
