// Package client is the Go SDK for Engram's REST API. The CLI and the
// end-to-end tests use it, so it is exercised on every test run.
//
//	c := client.New("http://127.0.0.1:8420", os.Getenv("ENGRAM_API_KEY"))
//	res, err := c.Add(ctx, client.AddRequest{Content: "Alice prefers tea", UserID: "alice"})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/engram-memory/engram"
)

// Client talks to one Engram server with one API key.
type Client struct {
	base string
	key  string
	http *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client (30 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client for the server at baseURL using apiKey.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), key: apiKey, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error is a problem+json answer from the server.
type Error struct {
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Title     string `json:"title"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	// Errors says which fields were invalid and why (validation problems).
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError is one invalid field of a request: where it is (for example
// "body.user_id") and what is wrong with it. The server never sends the
// offending value back, so neither does this.
type FieldError struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

func (e *Error) Error() string {
	s := fmt.Sprintf("engram: %d %s: %s", e.Status, e.Code, e.Detail)
	if f := e.Fields(); f != "" {
		s += " (" + f + ")"
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Fields lists the field errors as "location: message; …" ("" when none).
func (e *Error) Fields() string {
	parts := make([]string, 0, len(e.Errors))
	for _, f := range e.Errors {
		if f.Location != "" {
			parts = append(parts, f.Location+": "+f.Message)
		} else {
			parts = append(parts, f.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// Code returns the problem code of err ("" when err is not an *Error).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (c *Client) do(ctx context.Context, method, path string, header http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// A caller that has a request id (an MCP tool call) passes it on, so the
	// server's access log and audit entry carry the same id.
	if id := engram.OriginFrom(ctx).RequestID; id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(raw, e) != nil || e.Code == "" {
			e.Code, e.Detail = "http_"+strconv.Itoa(resp.StatusCode), http.StatusText(resp.StatusCode)
		}
		return e
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("engram: decode %s %s: %w", method, path, err)
	}
	return nil
}

// AddRequest is the body of POST /v1/memories.
type AddRequest struct {
	Content        string           `json:"content,omitempty"`
	Messages       []engram.Message `json:"messages,omitempty"`
	UserID         string           `json:"user_id,omitempty"`
	AgentID        string           `json:"agent_id,omitempty"`
	RunID          string           `json:"run_id,omitempty"`
	Metadata       map[string]any   `json:"metadata,omitempty"`
	Timestamp      *time.Time       `json:"timestamp,omitempty"`
	IdempotencyKey string           `json:"-"`
	// Visibility: shared (default, when empty) or private.
	Visibility engram.Visibility `json:"visibility,omitempty"`
	// ExpirationDate: an RFC 3339 date (kept through that day, UTC) or
	// date-time after which the memory expires (empty: never).
	ExpirationDate string `json:"expiration_date,omitempty"`
}

// Add stores a memory (or one per message).
func (c *Client) Add(ctx context.Context, req AddRequest) ([]engram.AddResult, error) {
	var h http.Header
	if req.IdempotencyKey != "" {
		h = http.Header{"Idempotency-Key": {req.IdempotencyKey}}
	}
	var out struct {
		Results []engram.AddResult `json:"results"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/memories", h, req, &out)
	return out.Results, err
}

// Get returns one memory.
func (c *Client) Get(ctx context.Context, id string) (*engram.Memory, error) {
	var m engram.Memory
	if err := c.do(ctx, http.MethodGet, "/v1/memories/"+url.PathEscape(id), nil, nil, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ListRequest selects a page of memories.
type ListRequest struct {
	engram.Scope
	Limit  int
	Cursor string
}

// ListResult is one page; NextCursor is empty on the last page.
type ListResult struct {
	Results    []engram.Memory `json:"results"`
	NextCursor string          `json:"next_cursor"`
}

// List returns a page of memories, newest first.
func (c *Client) List(ctx context.Context, req ListRequest) (*ListResult, error) {
	q := url.Values{}
	for k, v := range map[string]string{"user_id": req.UserID, "agent_id": req.AgentID, "run_id": req.RunID, "cursor": req.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	path := "/v1/memories"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out ListResult
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update replaces a memory's content (and metadata when non-nil).
func (c *Client) Update(ctx context.Context, id, content string, metadata map[string]any) (*engram.Memory, error) {
	return c.UpdateMemory(ctx, id, engram.UpdateRequest{Content: content, Metadata: metadata})
}

// UpdateMemory is Update with every field of req: metadata when non-nil,
// visibility and expiration_date when set.
func (c *Client) UpdateMemory(ctx context.Context, id string, req engram.UpdateRequest) (*engram.Memory, error) {
	body := map[string]any{"content": req.Content}
	if req.Metadata != nil {
		body["metadata"] = req.Metadata
	}
	if req.Visibility != "" {
		body["visibility"] = req.Visibility
	}
	if req.ExpirationDate != "" {
		body["expiration_date"] = req.ExpirationDate
	}
	var m engram.Memory
	if err := c.do(ctx, http.MethodPut, "/v1/memories/"+url.PathEscape(id), nil, body, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Delete removes a memory.
func (c *Client) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/memories/"+url.PathEscape(id), nil, nil, nil)
}

// History returns a memory's changes, oldest first.
func (c *Client) History(ctx context.Context, id string) ([]engram.HistoryEntry, error) {
	var out struct {
		Results []engram.HistoryEntry `json:"results"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/memories/"+url.PathEscape(id)+"/history", nil, nil, &out)
	return out.Results, err
}

// SearchRequest is the body of POST /v1/search.
type SearchRequest struct {
	Query   string         `json:"query"`
	UserID  string         `json:"user_id,omitempty"`
	AgentID string         `json:"agent_id,omitempty"`
	RunID   string         `json:"run_id,omitempty"`
	Filters map[string]any `json:"filters,omitempty"`
	Limit   int            `json:"limit,omitempty"`
	Mode    string         `json:"mode,omitempty"` // hybrid (default), bm25, vector
	Explain bool           `json:"explain,omitempty"`
	// Threshold drops results scoring below it; nil asks for the
	// server's default (engram.DefaultSearchThreshold), Threshold(0) for
	// every result.
	Threshold *float64 `json:"threshold,omitempty"`
}

// Threshold returns a pointer to t, for SearchRequest.Threshold.
func Threshold(t float64) *float64 { return &t }

// Search returns the best-matching memories, best first.
func (c *Client) Search(ctx context.Context, req SearchRequest) ([]engram.SearchHit, error) {
	var out struct {
		Results []engram.SearchHit `json:"results"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/search", nil, req, &out)
	return out.Results, err
}

// CreateKeyRequest is the body of POST /v1/keys.
type CreateKeyRequest struct {
	Name      string              `json:"name"`
	Scopes    []engram.Permission `json:"scopes,omitempty"`
	ExpiresAt *time.Time          `json:"expires_at,omitempty"`
}

// CreateKey makes an API key; the returned Secret is shown only once.
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (*engram.NewAPIKey, error) {
	var k engram.NewAPIKey
	if err := c.do(ctx, http.MethodPost, "/v1/keys", nil, req, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListKeys lists the tenant's keys (without secrets).
func (c *Client) ListKeys(ctx context.Context) ([]engram.APIKey, error) {
	var out struct {
		Results []engram.APIKey `json:"results"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/keys", nil, nil, &out)
	return out.Results, err
}

// RevokeKey revokes a key by id.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil, nil, nil)
}

// Health calls GET /healthz.
func (c *Client) Health(ctx context.Context) (map[string]string, error) {
	var out map[string]string
	err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, &out)
	return out, err
}

// ForgetUser erases an end user (DELETE /v1/users/{user_id}) and returns
// the receipt.
func (c *Client) ForgetUser(ctx context.Context, userID string) (*engram.Erasure, error) {
	var r engram.Erasure
	if err := c.do(ctx, http.MethodDelete, "/v1/users/"+url.PathEscape(userID), nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// RotateKeys rotates the tenant's encryption keys (owner keys only).
func (c *Client) RotateKeys(ctx context.Context) (*engram.KeyRotation, error) {
	var r engram.KeyRotation
	if err := c.do(ctx, http.MethodPost, "/v1/encryption-keys/rotate", nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Audit returns a page of the tenant's audit trail, newest first (GET
// /v1/audit; needs the audit:read scope). Filters left empty match every
// entry; q.Cursor is the previous page's NextCursor.
func (c *Client) Audit(ctx context.Context, q engram.AuditQuery) (*engram.AuditPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"actor": q.Actor, "action": string(q.Action), "target_type": q.TargetType,
		"target_id": q.TargetID, "outcome": string(q.Outcome), "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Since != nil {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Until != nil {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/v1/audit"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out engram.AuditPage
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
