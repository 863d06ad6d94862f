package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/engram-memory/engram"
)

// The Observe methods make *Client an engram.ObserveService, so that code
// written against the service (the MCP tools of `engram mcp`) runs
// unchanged against a remote server. The server authenticates the client's
// key; a principal in ctx is ignored. Errors carry both the *engram.Error
// the service contract promises (engram.ErrorCode works) and this
// package's *Error (Code works, with the status and request id).
var _ engram.ObserveService = (*Client)(nil)

// remoteError is a service error whose chain also holds the server's
// problem.
type remoteError struct {
	svc error
	raw *Error
}

func (e *remoteError) Error() string   { return e.raw.Error() }
func (e *remoteError) Unwrap() []error { return []error{e.svc, e.raw} }

// svcError is serviceError (memories.go) keeping the *Error in the chain.
func svcError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	s := serviceError(ctx, err)
	var e *Error
	if errors.As(err, &e) {
		return &remoteError{svc: s, raw: e}
	}
	return s
}

// call is do with the service's errors.
func (c *Client) call(ctx context.Context, method, path string, header http.Header, in, out any) error {
	return svcError(ctx, c.do(ctx, method, path, header, in, out))
}

// query builds "path?k=v…" from the non-empty values.
func query(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func itoa(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func timeParam(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// observeBody is the body of POST /v1/observe.
type observeBody struct {
	Messages  []engram.ObserveMessage `json:"messages"`
	UserID    string                  `json:"user_id,omitempty"`
	AgentID   string                  `json:"agent_id,omitempty"`
	RunID     string                  `json:"run_id,omitempty"`
	Timestamp *time.Time              `json:"timestamp,omitempty"`
	Metadata  map[string]any          `json:"metadata,omitempty"`
}

// Observe stores a conversation and extracts entities and facts from it.
// When the server extracts asynchronously, the episode comes back with
// Status engram.EpisodePending and only its ID; Episode(ID) tells when it
// is done.
func (c *Client) Observe(ctx context.Context, req engram.ObserveRequest) (*engram.Episode, error) {
	var h http.Header
	if req.IdempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {req.IdempotencyKey}}
	}
	var ep engram.Episode
	err := c.call(ctx, http.MethodPost, "/v1/observe", h, observeBody{
		Messages: req.Messages, UserID: req.Scope.UserID, AgentID: req.Scope.AgentID, RunID: req.Scope.RunID,
		Timestamp: req.Timestamp, Metadata: req.Metadata,
	}, &ep)
	if err != nil {
		return nil, err
	}
	return &ep, nil
}

// Episode returns one episode and what extraction made of it.
func (c *Client) Episode(ctx context.Context, id string) (*engram.Episode, error) {
	var ep engram.Episode
	if err := c.call(ctx, http.MethodGet, "/v1/episodes/"+url.PathEscape(id), nil, nil, &ep); err != nil {
		return nil, err
	}
	return &ep, nil
}

// Episodes returns a page of a scope's episodes, newest first, and the
// cursor of the next page ("" on the last).
func (c *Client) Episodes(ctx context.Context, scope engram.Scope, cursor string, limit int) ([]engram.Episode, string, error) {
	var out struct {
		Results    []engram.Episode `json:"results"`
		NextCursor string           `json:"next_cursor"`
	}
	path := query("/v1/episodes", "user_id", scope.UserID, "agent_id", scope.AgentID, "run_id", scope.RunID,
		"cursor", cursor, "limit", itoa(limit))
	if err := c.call(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, "", err
	}
	return out.Results, out.NextCursor, nil
}

// ListEntities returns a page of entities.
func (c *Client) ListEntities(ctx context.Context, q engram.EntityQuery) (*engram.EntityList, error) {
	var out engram.EntityList
	path := query("/v1/entities", "user_id", q.UserID, "type", q.Type, "query", q.Query, "cursor", q.Cursor, "limit", itoa(q.Limit))
	if err := c.call(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetEntity returns one entity with its facts and observations.
func (c *Client) GetEntity(ctx context.Context, id string) (*engram.Entity, error) {
	var e engram.Entity
	if err := c.call(ctx, http.MethodGet, "/v1/entities/"+url.PathEscape(id), nil, nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// MergeEntities merges other into id and returns id's entity.
func (c *Client) MergeEntities(ctx context.Context, id, other string) (*engram.Entity, error) {
	var e engram.Entity
	body := map[string]string{"other_id": other}
	if err := c.call(ctx, http.MethodPost, "/v1/entities/"+url.PathEscape(id)+"/merge", nil, body, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ForgetEntity erases an entity (its key destroyed) and returns the
// receipt.
func (c *Client) ForgetEntity(ctx context.Context, id string) (*engram.EntityErasure, error) {
	var r engram.EntityErasure
	if err := c.call(ctx, http.MethodDelete, "/v1/entities/"+url.PathEscape(id), nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Facts lists facts: the current ones unless q.AsOf or q.IncludeInvalid.
func (c *Client) Facts(ctx context.Context, q engram.FactQuery) ([]engram.Fact, error) {
	inv := ""
	if q.IncludeInvalid {
		inv = "true"
	}
	path := query("/v1/facts", "user_id", q.UserID, "entity_id", q.EntityID, "predicate", q.Predicate,
		"as_of", timeParam(q.AsOf), "include_invalid", inv, "limit", itoa(q.Limit))
	var out struct {
		Results []engram.Fact `json:"results"`
	}
	err := c.call(ctx, http.MethodGet, path, nil, nil, &out)
	return out.Results, err
}

// SearchFacts ranks facts against a query, best first.
func (c *Client) SearchFacts(ctx context.Context, q engram.FactSearch) ([]engram.Fact, error) {
	body := struct {
		Query  string     `json:"query"`
		UserID string     `json:"user_id,omitempty"`
		AsOf   *time.Time `json:"as_of,omitempty"`
		Limit  int        `json:"limit,omitempty"`
	}{q.Query, q.UserID, q.AsOf, q.Limit}
	var out struct {
		Results []engram.Fact `json:"results"`
	}
	err := c.call(ctx, http.MethodPost, "/v1/facts/search", nil, body, &out)
	return out.Results, err
}

// AddFact states a fact by hand.
func (c *Client) AddFact(ctx context.Context, f engram.NewFact) (*engram.Fact, error) {
	var out engram.Fact
	if err := c.call(ctx, http.MethodPost, "/v1/facts", nil, f, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetFact returns one fact.
func (c *Client) GetFact(ctx context.Context, id string) (*engram.Fact, error) {
	var out engram.Fact
	if err := c.call(ctx, http.MethodGet, "/v1/facts/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteFact deletes a fact.
func (c *Client) DeleteFact(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/facts/"+url.PathEscape(id), nil, nil, nil)
}

// Topics returns the topics of a user's memories with their counts.
func (c *Client) Topics(ctx context.Context, userID string) ([]engram.TopicCount, error) {
	var out struct {
		Results []engram.TopicCount `json:"results"`
	}
	err := c.call(ctx, http.MethodGet, query("/v1/topics", "user_id", userID), nil, nil, &out)
	return out.Results, err
}

// Patterns returns what recurs across a user's episodes.
func (c *Client) Patterns(ctx context.Context, userID string) ([]engram.Pattern, error) {
	var out struct {
		Results []engram.Pattern `json:"results"`
	}
	err := c.call(ctx, http.MethodGet, query("/v1/patterns", "user_id", userID), nil, nil, &out)
	return out.Results, err
}
