package mem0api

import (
	"github.com/engram-memory/engram"
)

// maxFilterDepth bounds the recursion over a client's filters; the engine
// applies its own (smaller) bound to what it receives.
const maxFilterDepth = 8

// splitFilters turns mem0 filters into an Engram scope and Engram filters.
// mem0's filters mostly are Engram's already (AND/OR/NOT lists, created_at
// and updated_at operators, user_id/agent_id/run_id); what differs:
//   - "metadata": {k: v} names metadata keys, which Engram filters name
//     directly;
//   - an id of "*" means any, so the clause is dropped;
//   - a plain user_id/agent_id/run_id at the top level or directly inside
//     the top-level AND becomes the search's scope, which narrows the
//     candidates before anything is decrypted;
//   - app_id and categories have no Engram equivalent and are refused.
func splitFilters(f map[string]any) (engram.Scope, map[string]any, error) {
	var scope engram.Scope
	norm, err := normalize(f, 0)
	if err != nil {
		return scope, nil, err
	}
	if err := lift(&scope, norm); err != nil {
		return scope, nil, err
	}
	if and, ok := norm["AND"].([]any); ok {
		kept := and[:0]
		for _, item := range and {
			obj, _ := item.(map[string]any)
			if err := lift(&scope, obj); err != nil {
				return scope, nil, err
			}
			if len(obj) > 0 {
				kept = append(kept, obj)
			}
		}
		if len(kept) == 0 {
			delete(norm, "AND")
		} else {
			norm["AND"] = kept
		}
	}
	return scope, norm, nil
}

// lift moves plain scope ids out of obj into scope.
func lift(scope *engram.Scope, obj map[string]any) error {
	for key, field := range map[string]*string{"user_id": &scope.UserID, "agent_id": &scope.AgentID, "run_id": &scope.RunID} {
		id, ok := obj[key].(string)
		if !ok {
			continue
		}
		if *field != "" && *field != id {
			// Two different ids ANDed: nothing matches, and saying so
			// beats an empty answer the caller cannot explain.
			return invalid("filters name two different %s values that must both hold", key)
		}
		*field = id
		delete(obj, key)
	}
	return nil
}

// reserved are the filter keys that do not name a metadata key in
// Engram's filters.
var reserved = map[string]bool{"AND": true, "OR": true, "NOT": true, "user_id": true, "agent_id": true, "run_id": true, "created_at": true, "updated_at": true}

// normalize rewrites one filter object as described at splitFilters.
func normalize(f map[string]any, depth int) (map[string]any, error) {
	if depth > maxFilterDepth {
		return nil, invalid("filters nest too deeply")
	}
	out := make(map[string]any, len(f))
	for key, val := range f {
		switch key {
		case "AND", "OR":
			list, ok := val.([]any)
			if !ok {
				return nil, invalid("filters: %s takes a list of filter objects", key)
			}
			items := make([]any, 0, len(list))
			for _, item := range list {
				obj, ok := item.(map[string]any)
				if !ok {
					return nil, invalid("filters: %s takes a list of filter objects", key)
				}
				n, err := normalize(obj, depth+1)
				if err != nil {
					return nil, err
				}
				items = append(items, n)
			}
			out[key] = items
		case "NOT":
			obj, ok := val.(map[string]any)
			if !ok {
				return nil, invalid("filters: NOT takes a filter object")
			}
			n, err := normalize(obj, depth+1)
			if err != nil {
				return nil, err
			}
			out[key] = n
		case "metadata":
			md, ok := val.(map[string]any)
			if !ok {
				return nil, invalid("filters: metadata takes an object of metadata keys")
			}
			for k, v := range md {
				if reserved[k] {
					// Engram's filters name metadata keys directly; these
					// names mean something else there.
					return nil, invalid("filters: a metadata key named %q cannot be filtered on", k)
				}
				out[k] = v
			}
		case "user_id", "agent_id", "run_id":
			if val == "*" {
				continue
			}
			out[key] = val
		case "app_id":
			return nil, invalid("app_id is not supported: Engram scopes memories by user_id, agent_id and run_id")
		case "categories":
			return nil, invalid("categories are not supported: Engram does not categorise memories")
		default:
			out[key] = val
		}
	}
	return out, nil
}
