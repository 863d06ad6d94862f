package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/engram-memory/engram"
)

// AuditCheckpoint returns the checkpoint verifier key and the tenant's
// newest signed checkpoint (GET /v1/audit/checkpoint). Pin the verifier
// key out of band: a key fetched from the server it vouches for proves
// nothing on its own.
func (c *Client) AuditCheckpoint(ctx context.Context) (*engram.AuditCheckpointInfo, error) {
	var out engram.AuditCheckpointInfo
	if err := c.do(ctx, http.MethodGet, "/v1/audit/checkpoint", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditKeys lists every checkpoint verifier key version with the tenant's
// hand-over notes (GET /v1/audit/keys). A new key is trusted through the
// hand-over signed by a key already pinned (checkpoint.OpenHandover), not
// because this list names it.
func (c *Client) AuditKeys(ctx context.Context) ([]engram.AuditVerifierKey, error) {
	var out struct {
		Results []engram.AuditVerifierKey `json:"results"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/audit/keys", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// AuditInclusion returns the inclusion proof of entry seq in the tree of
// the given size (0: the newest checkpoint's).
func (c *Client) AuditInclusion(ctx context.Context, seq, size uint64) (*engram.AuditInclusionProof, error) {
	v := url.Values{"seq": {strconv.FormatUint(seq, 10)}}
	if size > 0 {
		v.Set("size", strconv.FormatUint(size, 10))
	}
	var out engram.AuditInclusionProof
	if err := c.do(ctx, http.MethodGet, "/v1/audit/proofs/inclusion?"+v.Encode(), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditConsistency returns the consistency proof between tree sizes from
// and to (0: the newest checkpoint's).
func (c *Client) AuditConsistency(ctx context.Context, from, to uint64) (*engram.AuditConsistencyProof, error) {
	v := url.Values{"from": {strconv.FormatUint(from, 10)}}
	if to > 0 {
		v.Set("to", strconv.FormatUint(to, 10))
	}
	var out engram.AuditConsistencyProof
	if err := c.do(ctx, http.MethodGet, "/v1/audit/proofs/consistency?"+v.Encode(), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditSegments lists sealed segments (tombstones included), oldest first.
func (c *Client) AuditSegments(ctx context.Context, cursor string, limit int) (*engram.AuditSegmentPage, error) {
	v := url.Values{}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/audit/segments"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out engram.AuditSegmentPage
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AuditBundle exports the sealed segment starting at seq first as an
// offline proof bundle.
func (c *Client) AuditBundle(ctx context.Context, first uint64) (*engram.AuditBundle, error) {
	var out engram.AuditBundle
	if err := c.do(ctx, http.MethodGet, "/v1/audit/segments/"+strconv.FormatUint(first, 10)+"/bundle", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAuditHold places a legal hold on the tenant (or one end user).
func (c *Client) CreateAuditHold(ctx context.Context, req engram.AuditHoldRequest) (*engram.AuditHold, error) {
	var out engram.AuditHold
	if err := c.do(ctx, http.MethodPost, "/v1/audit/holds", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAuditHolds lists the tenant's legal holds.
func (c *Client) ListAuditHolds(ctx context.Context) ([]engram.AuditHold, error) {
	var out struct {
		Results []engram.AuditHold `json:"results"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/audit/holds", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Results, nil
}

// ReleaseAuditHold releases a legal hold.
func (c *Client) ReleaseAuditHold(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/audit/holds/"+url.PathEscape(id), nil, nil, nil)
}
