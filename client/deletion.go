package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/engram-memory/engram"
)

var _ engram.DeletionService = (*Client)(nil)

// DeleteMe schedules the deletion of the signed-in account (a session,
// not a key) after the server's grace period.
func (c *Client) DeleteMe(ctx context.Context) (*engram.Deletion, error) {
	var d engram.Deletion
	return &d, c.call(ctx, http.MethodDelete, "/v1/me", nil, nil, &d)
}

// CancelMyDeletion cancels it.
func (c *Client) CancelMyDeletion(ctx context.Context) error {
	return c.call(ctx, http.MethodPost, "/v1/me/deletion/cancel", nil, nil, nil)
}

// ScheduleUserDeletion schedules the erasure of an end user after grace.
func (c *Client) ScheduleUserDeletion(ctx context.Context, userID string, grace time.Duration) (*engram.Deletion, error) {
	var d engram.Deletion
	return &d, c.call(ctx, http.MethodDelete, query("/v1/users/"+url.PathEscape(userID), "grace", grace.String()), nil, nil, &d)
}

// CancelUserDeletion cancels an end user's pending deletion.
func (c *Client) CancelUserDeletion(ctx context.Context, userID string) error {
	return c.call(ctx, http.MethodPost, "/v1/users/"+url.PathEscape(userID)+"/deletion/cancel", nil, nil, nil)
}

// ListDeletions lists the tenant's pending deletions, soonest first.
func (c *Client) ListDeletions(ctx context.Context) ([]engram.Deletion, error) {
	var out struct{ Results []engram.Deletion }
	return out.Results, c.call(ctx, http.MethodGet, "/v1/deletions", nil, nil, &out)
}
