package mem0api

import (
	"net/http"
	"net/url"

	"github.com/engram-memory/engram"
)

// entities lists the users, agents and runs that have memories, in pages
// (page, page_size) as mem0 does.
func (s *server) entities(w http.ResponseWriter, r *http.Request) error {
	if s.scopes == nil {
		return notServed(w, r)
	}
	q := r.URL.Query()
	num, err := intParam(q, "page", 1, 1, 1<<20)
	if err != nil {
		return err
	}
	size, err := intParam(q, "page_size", 100, 1, 1000)
	if err != nil {
		return err
	}
	all, err := s.scopes.Entities(r.Context())
	if err != nil {
		return err
	}
	out := page[entity]{Count: len(all), Results: []entity{}}
	lo := min((num-1)*size, len(all))
	hi := min(lo+size, len(all))
	for _, e := range all[lo:hi] {
		out.Results = append(out.Results, entity{
			ID: e.ID, Name: e.ID, Type: e.Kind, TotalMemories: e.Memories, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		})
	}
	if hi < len(all) {
		out.Next = pageURL(r, num+1, size)
	}
	if num > 1 {
		out.Previous = pageURL(r, num-1, size)
	}
	return reply(w, http.StatusOK, out)
}

// deleteAll answers DELETE /v1/memories/?user_id=…: it deletes every
// memory of the scope (not erasure: see docs/MEM0.md). The ids come from
// the query, or from a JSON body when the query has none.
func (s *server) deleteAll(w http.ResponseWriter, r *http.Request) error {
	if s.scopes == nil {
		return notServed(w, r)
	}
	ids := scopeQuery(r.URL.Query())
	if ids == (entityFields{}) {
		if err := decode(r, &ids); err != nil {
			return err
		}
	}
	scope, err := ids.scope()
	if err != nil {
		return err
	}
	n, err := s.scopes.DeleteAll(r.Context(), scope)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"message": "Memories deleted successfully!", "deleted": n})
}

func scopeQuery(q url.Values) entityFields {
	return entityFields{UserID: q.Get("user_id"), AgentID: q.Get("agent_id"), AppID: q.Get("app_id"), RunID: q.Get("run_id")}
}

// deleteEntity answers DELETE /v2/entities/{kind}/{id}/ (and its v1 form):
// every memory of that user, agent or run is deleted.
func (s *server) deleteEntity(w http.ResponseWriter, r *http.Request) error {
	if s.scopes == nil {
		return notServed(w, r)
	}
	var ids entityFields
	id := r.PathValue("id")
	switch r.PathValue("kind") {
	case engram.ScopeUser:
		ids.UserID = id
	case engram.ScopeAgent:
		ids.AgentID = id
	case engram.ScopeRun:
		ids.RunID = id
	case "app":
		ids.AppID = id
	default:
		return engram.Errorf(engram.CodeNotFound, "entity type must be user, agent or run")
	}
	scope, err := ids.scope()
	if err != nil {
		return err
	}
	if _, err := s.scopes.DeleteAll(r.Context(), scope); err != nil {
		return err
	}
	return reply(w, http.StatusOK, message{"Entity deleted successfully."})
}
