package engine

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/engram-memory/engram"
)

// predicate reports whether a memory passes a search's filters.
type predicate func(m *engram.Memory) bool

// maxFilterDepth bounds AND/OR/NOT nesting.
const maxFilterDepth = 4

// compileFilters turns a filters object into a predicate. A key is a
// metadata key, or one of created_at, updated_at (times), user_id,
// agent_id, run_id; a value is either a JSON scalar (equality) or an object
// of operators: eq, ne, in, nin, gt, gte, lt, lte, contains. "AND" and "OR"
// take a list of filter objects, "NOT" one. Metadata is sealed, so filters
// run after decryption; that is why they are compiled once per search.
func compileFilters(f map[string]any) (predicate, error) { return compileAt(f, 0) }

func compileAt(f map[string]any, depth int) (predicate, error) {
	if depth > maxFilterDepth {
		return nil, invalid("filters nest deeper than %d levels", maxFilterDepth)
	}
	var preds []predicate
	for key, val := range f {
		p, err := compileKey(key, val, depth)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p)
	}
	return func(m *engram.Memory) bool {
		for _, p := range preds {
			if !p(m) {
				return false
			}
		}
		return true
	}, nil
}

func compileKey(key string, val any, depth int) (predicate, error) {
	switch key {
	case "AND", "OR":
		list, ok := val.([]any)
		if !ok || len(list) == 0 {
			return nil, invalid("filters: %s takes a non-empty list of filter objects", key)
		}
		var subs []predicate
		for _, item := range list {
			obj, ok := item.(map[string]any)
			if !ok {
				return nil, invalid("filters: %s takes a list of filter objects", key)
			}
			p, err := compileAt(obj, depth+1)
			if err != nil {
				return nil, err
			}
			subs = append(subs, p)
		}
		any := key == "OR"
		return func(m *engram.Memory) bool {
			for _, p := range subs {
				if p(m) == any {
					return any
				}
			}
			return !any
		}, nil
	case "NOT":
		obj, ok := val.(map[string]any)
		if !ok {
			return nil, invalid("filters: NOT takes a filter object")
		}
		p, err := compileAt(obj, depth+1)
		if err != nil {
			return nil, err
		}
		return func(m *engram.Memory) bool { return !p(m) }, nil
	}
	get := fieldGetter(key)
	if key == "user_id" || key == "agent_id" || key == "run_id" {
		val = nfcValues(val) // stored scope ids are NFC (scopeid.go)
	}
	ops, isOps := val.(map[string]any)
	if !isOps {
		ops = map[string]any{"eq": val}
	}
	if len(ops) == 0 {
		return nil, invalid("filters: %q has no operator", key)
	}
	var tests []func(v any, ok bool) bool
	for op, arg := range ops {
		t, err := operator(key, op, arg)
		if err != nil {
			return nil, err
		}
		tests = append(tests, t)
	}
	return func(m *engram.Memory) bool {
		v, ok := get(m)
		for _, t := range tests {
			if !t(v, ok) {
				return false
			}
		}
		return true
	}, nil
}

func fieldGetter(key string) func(m *engram.Memory) (any, bool) {
	switch key {
	case "created_at":
		return func(m *engram.Memory) (any, bool) { return m.CreatedAt, true }
	case "updated_at":
		return func(m *engram.Memory) (any, bool) { return m.UpdatedAt, true }
	case "user_id":
		return func(m *engram.Memory) (any, bool) { return m.UserID, true }
	case "agent_id":
		return func(m *engram.Memory) (any, bool) { return m.AgentID, true }
	case "run_id":
		return func(m *engram.Memory) (any, bool) { return m.RunID, true }
	}
	return func(m *engram.Memory) (any, bool) {
		v, ok := m.Metadata[key]
		return v, ok
	}
}

func operator(key, op string, arg any) (func(v any, ok bool) bool, error) {
	if key == "created_at" || key == "updated_at" {
		args := []any{arg}
		if list, ok := arg.([]any); ok {
			args = list
		}
		for _, a := range args {
			s, ok := a.(string)
			t, err := parseFilterTime(s)
			if !ok || err != nil {
				return nil, invalid("filters: %q compares with RFC 3339 times or YYYY-MM-DD dates", key)
			}
			if err := checkTime("filters: "+key, t); err != nil {
				return nil, err
			}
		}
	}
	switch op {
	case "eq":
		return func(v any, ok bool) bool { return ok && equal(v, arg) }, nil
	case "ne":
		return func(v any, ok bool) bool { return !ok || !equal(v, arg) }, nil
	case "in", "nin":
		list, isList := arg.([]any)
		if !isList {
			return nil, invalid("filters: %q %s takes a list", key, op)
		}
		want := op == "in"
		return func(v any, ok bool) bool {
			for _, a := range list {
				if ok && equal(v, a) {
					return want
				}
			}
			return !want
		}, nil
	case "gt", "gte", "lt", "lte":
		if !comparable(arg) {
			return nil, invalid("filters: %q %s takes a number, a string or a date", key, op)
		}
		return func(v any, ok bool) bool {
			c, cmpOK := compare(v, arg)
			if !ok || !cmpOK {
				return false
			}
			switch op {
			case "gt":
				return c > 0
			case "gte":
				return c >= 0
			case "lt":
				return c < 0
			}
			return c <= 0
		}, nil
	case "contains":
		return func(v any, ok bool) bool {
			switch x := v.(type) {
			case string:
				s, isStr := arg.(string)
				return ok && isStr && strings.Contains(strings.ToLower(x), strings.ToLower(s))
			case []any:
				for _, e := range x {
					if equal(e, arg) {
						return true
					}
				}
			}
			return false
		}, nil
	}
	return nil, invalid("filters: unknown operator %q (use eq, ne, in, nin, gt, gte, lt, lte, contains)", op)
}

func comparable(a any) bool {
	switch a.(type) {
	case float64, string:
		return true
	}
	return false
}

// equal compares JSON values; a time field compares with a date string.
func equal(v, arg any) bool {
	if t, ok := v.(time.Time); ok {
		c, ok := compare(t, arg)
		return ok && c == 0
	}
	return reflect.DeepEqual(v, arg)
}

// compare orders v against arg: numbers with numbers, strings with
// strings, times with RFC 3339 timestamps or YYYY-MM-DD dates.
func compare(v, arg any) (int, bool) {
	switch x := v.(type) {
	case float64:
		y, ok := arg.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := arg.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	case time.Time:
		s, ok := arg.(string)
		if !ok {
			return 0, false
		}
		y, err := parseFilterTime(s)
		if err != nil {
			return 0, false
		}
		return x.Compare(y), true
	}
	return 0, false
}

func parseFilterTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a date: %q", s)
}
