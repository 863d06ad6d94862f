package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/engram-memory/engram"
)

// Memories is c as an engram.MemoryService, so that code written against
// the service (the MCP tools of `engram mcp`) runs unchanged against a
// remote server. The server authenticates the client's key; a principal in
// ctx is ignored. Errors are *engram.Error with the server's code.
type Memories struct{ c *Client }

var _ engram.MemoryService = (*Memories)(nil)

// Memories returns the MemoryService view of c.
func (c *Client) Memories() *Memories { return &Memories{c: c} }

// serviceError turns a client failure into the *engram.Error the service
// contract promises. The server's problem keeps its code and detail (both
// client-safe); a server that cannot be reached is CodeUnavailable, with
// the transport error kept in the chain for logs.
func serviceError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		code := e.Code
		switch {
		case e.Status >= http.StatusInternalServerError && code != engram.CodeInternal:
			code = engram.CodeUnavailable
		case strings.HasPrefix(code, "http_"): // not an Engram answer (see do)
			code = engram.CodeInternal
		}
		return &engram.Error{Code: code, Message: e.Detail}
	}
	if ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("%w: %w", engram.Errorf(engram.CodeUnavailable, "the Engram server cannot be reached"), err)
}

// Add stores a memory (or one per message).
func (m *Memories) Add(ctx context.Context, req engram.AddRequest) ([]engram.AddResult, error) {
	res, err := m.c.Add(ctx, AddRequest{
		Content: req.Content, Messages: req.Messages, UserID: req.Scope.UserID, AgentID: req.Scope.AgentID,
		RunID: req.Scope.RunID, Metadata: req.Metadata, Timestamp: req.Timestamp, IdempotencyKey: req.IdempotencyKey,
		Visibility: req.Visibility, ExpirationDate: req.ExpirationDate,
	})
	return res, serviceError(ctx, err)
}

// Get returns one memory.
func (m *Memories) Get(ctx context.Context, id string) (*engram.Memory, error) {
	mem, err := m.c.Get(ctx, id)
	return mem, serviceError(ctx, err)
}

// List returns a page of memories, newest first.
func (m *Memories) List(ctx context.Context, req engram.ListRequest) (*engram.ListResult, error) {
	res, err := m.c.List(ctx, ListRequest{Scope: req.Scope, Limit: req.Limit, Cursor: req.Cursor})
	if err != nil {
		return nil, serviceError(ctx, err)
	}
	return &engram.ListResult{Memories: res.Results, NextCursor: res.NextCursor}, nil
}

// Update replaces a memory's content (and metadata when non-nil).
func (m *Memories) Update(ctx context.Context, id string, req engram.UpdateRequest) (*engram.Memory, error) {
	mem, err := m.c.UpdateMemory(ctx, id, req)
	return mem, serviceError(ctx, err)
}

// Delete removes a memory.
func (m *Memories) Delete(ctx context.Context, id string) error {
	return serviceError(ctx, m.c.Delete(ctx, id))
}

// History returns a memory's changes, oldest first.
func (m *Memories) History(ctx context.Context, id string) ([]engram.HistoryEntry, error) {
	h, err := m.c.History(ctx, id)
	return h, serviceError(ctx, err)
}

// Search returns the best-matching memories, best first.
func (m *Memories) Search(ctx context.Context, req engram.SearchRequest) ([]engram.SearchHit, error) {
	hits, err := m.c.Search(ctx, SearchRequest{
		Query: req.Query, UserID: req.Scope.UserID, AgentID: req.Scope.AgentID, RunID: req.Scope.RunID,
		Filters: req.Filters, Limit: req.Limit, Mode: req.Mode, Explain: req.Explain, Threshold: req.Threshold,
	})
	return hits, serviceError(ctx, err)
}
