package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/engram-memory/engram"
)

func TestFilters(t *testing.T) {
	m := &engram.Memory{
		UserID:    "alice",
		CreatedAt: time.Date(2023, 5, 8, 13, 56, 0, 0, time.UTC),
		Metadata:  map[string]any{"source": "chat", "n": 3.0, "tags": []any{"food", "travel"}, "title": "Trip to Lisbon"},
	}
	cases := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"source": "chat"}`, true},
		{`{"source": "email"}`, false},
		{`{"missing": "x"}`, false},
		{`{"source": {"ne": "email"}}`, true},
		{`{"missing": {"ne": "x"}}`, true},
		{`{"source": {"in": ["email", "chat"]}}`, true},
		{`{"source": {"nin": ["email", "chat"]}}`, false},
		{`{"n": {"gt": 2}}`, true},
		{`{"n": {"gte": 3, "lt": 3}}`, false},
		{`{"n": {"lte": 3}}`, true},
		{`{"n": {"gt": "2"}}`, false},
		{`{"title": {"contains": "lisbon"}}`, true},
		{`{"tags": {"contains": "travel"}}`, true},
		{`{"tags": {"contains": "work"}}`, false},
		{`{"created_at": {"gte": "2023-05-01", "lt": "2023-06-01"}}`, true},
		{`{"created_at": {"gt": "2023-05-08T14:00:00Z"}}`, false},
		{`{"user_id": "alice"}`, true},
		{`{"OR": [{"source": "email"}, {"n": 3}]}`, true},
		{`{"AND": [{"source": "chat"}, {"n": 4}]}`, false},
		{`{"NOT": {"source": "chat"}}`, false},
	}
	for _, tc := range cases {
		var f map[string]any
		if err := json.Unmarshal([]byte(tc.filter), &f); err != nil {
			t.Fatal(err)
		}
		p, err := compileFilters(f)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		if got := p(m); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.filter, got, tc.want)
		}
	}
	for _, bad := range []string{
		`{"n": {"between": [1, 2]}}`, `{"n": {"in": 3}}`, `{"n": {"gt": true}}`, `{"OR": []}`, `{"OR": [1]}`,
		`{"NOT": 3}`, `{"created_at": {"gt": "yesterday"}}`, `{"n": {}}`,
		`{"AND": [{"AND": [{"AND": [{"AND": [{"AND": [{"a": 1}]}]}]}]}]}`,
	} {
		var f map[string]any
		if err := json.Unmarshal([]byte(bad), &f); err != nil {
			t.Fatal(err)
		}
		if _, err := compileFilters(f); engram.ErrorCode(err) != engram.CodeInvalid {
			t.Errorf("%s: want invalid, got %v", bad, err)
		}
	}
}
