package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
)

type ScopeFields struct {
	UserID  string `json:"user_id,omitempty" maxLength:"256" doc:"The end user the memory is about."`
	AgentID string `json:"agent_id,omitempty" maxLength:"256" doc:"The agent that learned it."`
	RunID   string `json:"run_id,omitempty" maxLength:"256" doc:"The conversation or run it came from."`
}

func (s ScopeFields) scope() engram.Scope {
	return engram.Scope{UserID: s.UserID, AgentID: s.AgentID, RunID: s.RunID}
}

type messageBody struct {
	Role    string `json:"role" maxLength:"32" doc:"Who said it: user, assistant, …"`
	Content string `json:"content" maxLength:"65536"`
}

type addInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"128" doc:"Retries with the same key and body return the first result instead of writing again (24 hours)."`
	Body           struct {
		Content   string         `json:"content,omitempty" maxLength:"65536" doc:"The memory text. Give content or messages."`
		Messages  []messageBody  `json:"messages,omitempty" maxItems:"100" doc:"Conversation turns; each non-empty turn is stored as one memory with its role in metadata."`
		Metadata  map[string]any `json:"metadata,omitempty" doc:"Free-form JSON object, encrypted at rest (at most 64 keys, 16 KiB)."`
		Timestamp *time.Time     `json:"timestamp,omitempty" doc:"When this happened (RFC 3339), e.g. an imported conversation's date; becomes created_at and feeds time-aware ranking. Default: now."`
		// A string, not engram.Visibility: the engine answers an unknown
		// value with the same problem whichever transport sent it.
		Visibility string `json:"visibility,omitempty" enum:"shared,private" doc:"shared (default): every member of the tenant reads it; private: only you (and the tenant's owners)."`
		// A string, not a time: a date alone is valid, and the engine
		// answers a malformed one (invalid) whichever transport sent it.
		ExpirationDate string `json:"expiration_date,omitempty" maxLength:"64" doc:"When the memory expires: an RFC 3339 date (it lives through that day, UTC) or date-time. An expired memory is invisible at once and deleted by the next retention sweep. Default: never."`
		ScopeFields
	}
}

type resultsBody[T any] struct {
	Body struct {
		Results []T `json:"results"`
	}
}

type memoryOutput struct{ Body *engram.Memory }

type idInput struct {
	ID string `path:"id" maxLength:"64" doc:"Memory id."`
}

type listInput struct {
	UserID  string `query:"user_id" maxLength:"256"`
	AgentID string `query:"agent_id" maxLength:"256"`
	RunID   string `query:"run_id" maxLength:"256"`
	Limit   int    `query:"limit" minimum:"1" maximum:"100" doc:"Page size (default 20)."`
	Cursor  string `query:"cursor" maxLength:"128" doc:"next_cursor of the previous page."`
}

type listOutput struct {
	Body struct {
		Results    []engram.Memory `json:"results"`
		NextCursor string          `json:"next_cursor,omitempty" doc:"Absent on the last page."`
	}
}

type updateInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Content        string         `json:"content" minLength:"1" maxLength:"65536"`
		Metadata       map[string]any `json:"metadata,omitempty" doc:"Replaces the metadata when present."`
		Visibility     string         `json:"visibility,omitempty" enum:"shared,private" doc:"Changes the visibility when present (only the memory's author, or an owner)."`
		ExpirationDate string         `json:"expiration_date,omitempty" maxLength:"64" doc:"Changes the expiry when present (RFC 3339 date or date-time)."`
	}
}

type searchInput struct {
	Body struct {
		Query   string         `json:"query" minLength:"1" maxLength:"4096"`
		Filters map[string]any `json:"filters,omitempty" doc:"Filters on metadata keys and created_at/updated_at: a value means equality; an object of operators (eq, ne, in, nin, gt, gte, lt, lte, contains); AND/OR lists and NOT."`
		Limit   int            `json:"limit,omitempty" minimum:"1" maximum:"100" doc:"Results to return (default 10)."`
		Mode    string         `json:"mode,omitempty" enum:"hybrid,bm25,vector" doc:"hybrid (default): keyword + semantic + time; bm25: keyword only; vector: semantic only."`
		Explain bool           `json:"explain,omitempty" doc:"Add each signal's contribution to every result."`
		// A pointer: absent means the default, 0 means none.
		Threshold *float64 `json:"threshold,omitempty" minimum:"0" maximum:"1" doc:"Drop results whose score is below this (scores are absolute, in [0, 1]). Absent: the default, 0.25; 0 keeps every result."`
		Include   []string `json:"include,omitempty" maxItems:"2" enum:"memories,facts" doc:"What the answer carries: memories (results) and facts (the user's current facts, ranked as POST /v1/facts/search ranks them). Default: memories."`
		ScopeFields
	}
}

type searchOutput struct {
	Body struct {
		Results []engram.SearchHit `json:"results" doc:"Memories, best first; empty when include leaves memories out."`
		// omitzero: absent unless asked for, [] when asked and none match.
		Facts []engram.Fact `json:"facts,omitzero" doc:"With include facts: the facts of user_id (the tenant's shared facts without one), best first, each with its score."`
	}
}

// registerMemories registers the memory routes; obs (nil: none) answers
// the facts of a search with include facts.
func registerMemories(api huma.API, svc engram.MemoryService, obs engram.ObserveService) {
	add := op("addMemory", http.MethodPost, "/v1/memories", "Store memories", http.StatusCreated, "memories")
	add.Errors = append(add.Errors, http.StatusConflict) // an Idempotency-Key reused with a different request
	huma.Register(api, add,
		func(ctx context.Context, in *addInput) (*resultsBody[engram.AddResult], error) {
			msgs := make([]engram.Message, len(in.Body.Messages))
			for i, m := range in.Body.Messages {
				msgs[i] = engram.Message{Role: m.Role, Content: m.Content}
			}
			res, err := svc.Add(ctx, engram.AddRequest{
				Content: in.Body.Content, Messages: msgs, Scope: in.Body.scope(),
				Metadata: in.Body.Metadata, IdempotencyKey: in.IdempotencyKey, Timestamp: in.Body.Timestamp,
				Visibility: engram.Visibility(in.Body.Visibility), ExpirationDate: in.Body.ExpirationDate,
			})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.AddResult]{}
			out.Body.Results = res
			return out, nil
		})

	huma.Register(api, op("listMemories", http.MethodGet, "/v1/memories", "List memories, newest first", http.StatusOK, "memories"),
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			res, err := svc.List(ctx, engram.ListRequest{
				Scope: engram.Scope{UserID: in.UserID, AgentID: in.AgentID, RunID: in.RunID},
				Limit: in.Limit, Cursor: in.Cursor,
			})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &listOutput{}
			out.Body.Results, out.Body.NextCursor = res.Memories, res.NextCursor
			return out, nil
		})

	huma.Register(api, op("getMemory", http.MethodGet, "/v1/memories/{id}", "Get a memory", http.StatusOK, "memories"),
		func(ctx context.Context, in *idInput) (*memoryOutput, error) {
			m, err := svc.Get(ctx, in.ID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &memoryOutput{Body: m}, nil
		})

	huma.Register(api, withConflict(op("updateMemory", http.MethodPut, "/v1/memories/{id}", "Replace a memory's text", http.StatusOK, "memories")),
		func(ctx context.Context, in *updateInput) (*memoryOutput, error) {
			m, err := svc.Update(ctx, in.ID, engram.UpdateRequest{Content: in.Body.Content, Metadata: in.Body.Metadata, Visibility: engram.Visibility(in.Body.Visibility),
				ExpirationDate: in.Body.ExpirationDate})
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			return &memoryOutput{Body: m}, nil
		})

	huma.Register(api, op("deleteMemory", http.MethodDelete, "/v1/memories/{id}", "Delete a memory", http.StatusNoContent, "memories"),
		func(ctx context.Context, in *idInput) (*struct{}, error) {
			if err := svc.Delete(ctx, in.ID); err != nil {
				return nil, problemOf(ctx, err)
			}
			return nil, nil
		})

	huma.Register(api, op("memoryHistory", http.MethodGet, "/v1/memories/{id}/history", "A memory's changes, oldest first", http.StatusOK, "memories"),
		func(ctx context.Context, in *idInput) (*resultsBody[engram.HistoryEntry], error) {
			h, err := svc.History(ctx, in.ID)
			if err != nil {
				return nil, problemOf(ctx, err)
			}
			out := &resultsBody[engram.HistoryEntry]{}
			out.Body.Results = h
			return out, nil
		})

	huma.Register(api, op("searchMemories", http.MethodPost, "/v1/search", "Search memories", http.StatusOK, "memories"),
		func(ctx context.Context, in *searchInput) (*searchOutput, error) {
			req := engram.SearchRequest{Query: in.Body.Query, Scope: in.Body.scope(), Filters: in.Body.Filters,
				Limit: in.Body.Limit, Mode: in.Body.Mode, Explain: in.Body.Explain, Threshold: in.Body.Threshold,
				Include: in.Body.Include}
			out := &searchOutput{}
			out.Body.Results = []engram.SearchHit{}
			if req.Includes(engram.SearchIncludeMemories) {
				hits, err := svc.Search(ctx, req)
				if err != nil {
					return nil, problemOf(ctx, err)
				}
				out.Body.Results = hits
			}
			if req.Includes(engram.SearchIncludeFacts) {
				if obs == nil {
					return nil, problemOf(ctx, engram.Errorf(engram.CodeNotImplemented, "this server does not keep facts"))
				}
				facts, err := obs.SearchFacts(ctx, engram.FactSearch{Query: req.Query, UserID: req.Scope.UserID, Limit: req.Limit})
				if err != nil {
					return nil, problemOf(ctx, err)
				}
				out.Body.Facts = facts
			}
			return out, nil
		})
}
