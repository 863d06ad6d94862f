package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

// hashSize is the size of every stored tree hash (SHA-256).
const hashSize = 32

// joinHashes / splitHashes store a list of 32-byte hashes in one BLOB.
func joinHashes(hs [][]byte) []byte { return bytes.Join(hs, nil) }

func splitHashes(b []byte) ([][]byte, error) {
	if len(b)%hashSize != 0 {
		return nil, fmt.Errorf("stored hash list of %d bytes", len(b))
	}
	out := make([][]byte, 0, len(b)/hashSize)
	for i := 0; i < len(b); i += hashSize {
		out = append(out, bytes.Clone(b[i:i+hashSize]))
	}
	return out, nil
}

func (t *Tx) AuditTree(ctx context.Context, tenantID string) (*store.AuditTree, error) {
	defer t.scope(tenantID)()
	var size int64
	var frontier []byte
	err := t.tx.QueryRowContext(ctx, `SELECT size, frontier FROM audit_trees WHERE tenant_id = ?`, tenantID).Scan(&size, &frontier)
	if err != nil {
		return nil, t.wrapErr("audit tree", err)
	}
	hs, err := splitHashes(frontier)
	if err != nil {
		return nil, t.wrapErr("audit tree", err)
	}
	return &store.AuditTree{TenantID: tenantID, Size: uint64(size), Frontier: hs}, nil
}

func (t *Tx) SealAuditSegment(ctx context.Context, s *store.AuditSegment, nodes []store.AuditNode, tree *store.AuditTree) error {
	defer t.scope(s.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_segments (tenant_id, first_seq, last_seq, root, range_hashes, tree_size, tree_root,
		checkpoint, chain_mac, sealed_at) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		s.TenantID, int64(s.First), int64(s.Last), s.Root, joinHashes(s.Range), int64(s.TreeSize), s.TreeRoot,
		s.Checkpoint, s.ChainMAC, t.at(s.SealedAt))
	if err != nil {
		return t.wrapErr("seal audit segment", err)
	}
	// A node reported twice (a replayed seal after a crash cannot happen
	// inside one transaction, but the same perfect subtree may be visited
	// by the segment range and the merge) keeps its first, equal hash.
	for _, n := range nodes {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_nodes (tenant_id, level, idx, hash) VALUES (?,?,?,?)
			ON CONFLICT DO NOTHING`, s.TenantID, int64(n.ID.Level), int64(n.ID.Index), n.Hash); err != nil {
			return t.wrapErr("store audit node", err)
		}
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO audit_trees (tenant_id, size, frontier) VALUES (?,?,?)
		ON CONFLICT (tenant_id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier`,
		tree.TenantID, int64(tree.Size), joinHashes(tree.Frontier))
	return t.nilOr("set audit tree", err)
}

const segmentColumns = `tenant_id, first_seq, last_seq, root, range_hashes, tree_size, tree_root, checkpoint, chain_mac, sealed_at, dropped_at`

func (t *Tx) querySegments(ctx context.Context, op, q string, args ...any) ([]store.AuditSegment, error) {
	return queryRows(ctx, t, op, scanSegment, q, args...)
}

func scanSegment(row scanner) (*store.AuditSegment, error) {
	var s store.AuditSegment
	var first, last, size int64
	var sealed stamp
	var rng []byte
	var dropped nullStamp
	if err := row.Scan(&s.TenantID, &first, &last, &s.Root, &rng, &size, &s.TreeRoot, &s.Checkpoint, &s.ChainMAC,
		&sealed, &dropped); err != nil {
		return nil, err
	}
	var err error
	if s.Range, err = splitHashes(rng); err != nil {
		return nil, err
	}
	s.First, s.Last, s.TreeSize, s.SealedAt = uint64(first), uint64(last), uint64(size), sealed.t
	s.DroppedAt = dropped.ptr()
	return &s, nil
}

func (t *Tx) oneSegment(ctx context.Context, op, q string, args ...any) (*store.AuditSegment, error) {
	ss, err := t.querySegments(ctx, op, q+` LIMIT 1`, args...)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return &ss[0], nil
}

func (t *Tx) AuditSegments(ctx context.Context, tenantID string, after uint64, limit int) ([]store.AuditSegment, error) {
	defer t.scope(tenantID)()
	return t.querySegments(ctx, "audit segments", `SELECT `+segmentColumns+` FROM audit_segments WHERE tenant_id = ? AND first_seq > ?
		ORDER BY first_seq LIMIT ?`, tenantID, int64(after), max(limit, 1))
}

func (t *Tx) AuditSegment(ctx context.Context, tenantID string, first uint64) (*store.AuditSegment, error) {
	defer t.scope(tenantID)()
	return t.oneSegment(ctx, "audit segment", `SELECT `+segmentColumns+` FROM audit_segments WHERE tenant_id = ? AND first_seq = ?`,
		tenantID, int64(first))
}

func (t *Tx) LatestAuditSegment(ctx context.Context, tenantID string) (*store.AuditSegment, error) {
	defer t.scope(tenantID)()
	return t.oneSegment(ctx, "latest audit segment", `SELECT `+segmentColumns+` FROM audit_segments WHERE tenant_id = ?
		ORDER BY first_seq DESC`, tenantID)
}

func (t *Tx) AuditSegmentCovering(ctx context.Context, tenantID string, seq uint64) (*store.AuditSegment, error) {
	defer t.scope(tenantID)()
	return t.oneSegment(ctx, "audit segment", `SELECT `+segmentColumns+` FROM audit_segments WHERE tenant_id = ? AND first_seq <= ?
		AND last_seq >= ? ORDER BY first_seq DESC`, tenantID, int64(seq), int64(seq))
}

func (t *Tx) AuditNodes(ctx context.Context, tenantID string, ids []store.AuditNodeID) ([][]byte, error) {
	defer t.scope(tenantID)()
	out := make([][]byte, len(ids))
	for i, id := range ids {
		err := t.tx.QueryRowContext(ctx, `SELECT hash FROM audit_nodes WHERE tenant_id = ? AND level = ? AND idx = ?`,
			tenantID, int64(id.Level), int64(id.Index)).Scan(&out[i])
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, t.wrapErr("audit nodes", err)
		}
	}
	return out, nil
}

func (t *Tx) DropAuditSegment(ctx context.Context, tenantID string, first uint64, at time.Time) (int, error) {
	defer t.scope(tenantID)()
	var last int64
	err := t.tx.QueryRowContext(ctx, `SELECT last_seq FROM audit_segments WHERE tenant_id = ? AND first_seq = ? AND dropped_at IS NULL`,
		tenantID, int64(first)).Scan(&last)
	if err != nil {
		return 0, t.wrapErr("drop audit segment", err)
	}
	n, err := t.count(ctx, "drop audit entries", `DELETE FROM audit_entries WHERE tenant_id = ? AND seq >= ? AND seq <= ?`,
		tenantID, int64(first), last)
	if err != nil {
		return 0, err
	}
	// Leaves are seq-1; a node covers leaves [idx<<level, (idx+1)<<level).
	// Nodes straddling the boundary stay: later proofs need them.
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM audit_nodes WHERE tenant_id = ? AND (idx << CAST(level AS INTEGER)) >= ? AND ((idx + 1) << CAST(level AS INTEGER)) <= ?`,
		tenantID, int64(first)-1, last); err != nil {
		return 0, t.wrapErr("drop audit nodes", err)
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE audit_segments SET dropped_at = ? WHERE tenant_id = ? AND first_seq = ?`,
		t.at(at), tenantID, int64(first))
	return n, t.nilOr("drop audit segment", err)
}

func (t *Tx) AuditRetention(ctx context.Context, tenantID string) (int, error) {
	defer t.scope(tenantID)()
	var days int
	err := t.tx.QueryRowContext(ctx, `SELECT days FROM audit_retention WHERE tenant_id = ?`, tenantID).Scan(&days)
	return days, t.nilOr("audit retention", err)
}

func (t *Tx) SetAuditRetention(ctx context.Context, tenantID string, days int) error {
	defer t.scope(tenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_retention (tenant_id, days) VALUES (?,?)
		ON CONFLICT (tenant_id) DO UPDATE SET days = excluded.days`, tenantID, days)
	return t.nilOr("set audit retention", err)
}

func (t *Tx) PutAuditHold(ctx context.Context, h *store.AuditHold) error {
	defer t.scope(h.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_holds (tenant_id, id, user_ref, reason_code, created_at) VALUES (?,?,?,?,?)`,
		h.TenantID, h.ID, h.UserRef, h.ReasonCode, t.at(h.CreatedAt))
	return t.nilOr("put audit hold", err)
}

func (t *Tx) AuditHolds(ctx context.Context, tenantID string) ([]store.AuditHold, error) {
	defer t.scope(tenantID)()
	return queryRows(ctx, t, "audit holds", func(s scanner) (*store.AuditHold, error) {
		var h store.AuditHold
		var at stamp
		err := s.Scan(&h.TenantID, &h.ID, &h.UserRef, &h.ReasonCode, &at)
		h.CreatedAt = at.t
		return &h, err
	}, `SELECT tenant_id, id, user_ref, reason_code, created_at FROM audit_holds WHERE tenant_id = ?
		ORDER BY created_at, id`, tenantID)
}

func (t *Tx) DeleteAuditHold(ctx context.Context, tenantID, id string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM audit_holds WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return t.mustAffect("delete audit hold", res, err)
}
