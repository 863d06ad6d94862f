package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/engram-memory/engram/internal/store"
)

func (t *Tx) IndexGeneration(ctx context.Context, tenantID string) (int64, error) {
	defer t.scope(tenantID)()
	var gen int64
	err := t.tx.QueryRowContext(ctx, `SELECT gen FROM index_generations WHERE tenant_id = ?`, tenantID).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, t.wrapErr("index generation", err)
	}
	return gen, nil
}

func (t *Tx) IndexSnapshot(ctx context.Context, tenantID, kind string) (*store.IndexSnapshot, error) {
	defer t.scope(tenantID)()
	s := store.IndexSnapshot{TenantID: tenantID, Kind: kind}
	var created stamp
	err := t.tx.QueryRowContext(ctx,
		`SELECT snapshot_id, gen, model, chunks, entries, created_at FROM index_snapshots WHERE tenant_id = ? AND kind = ?`,
		tenantID, kind).Scan(&s.ID, &s.Gen, &s.Model, &s.Chunks, &s.Entries, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, t.wrapErr("index snapshot", err)
	}
	s.Created = created.t
	return &s, nil
}

func (t *Tx) IndexSnapshotChunks(ctx context.Context, tenantID, kind, snapshotID string, fn func(*store.IndexSnapshotChunk) error) error {
	defer t.scope(tenantID)()
	rows, err := t.tx.QueryContext(ctx,
		`SELECT seq, subject, key_version, body FROM index_snapshot_chunks
		 WHERE tenant_id = ? AND kind = ? AND snapshot_id = ? ORDER BY seq`,
		tenantID, kind, snapshotID)
	if err != nil {
		return t.wrapErr("index snapshot chunks", err)
	}
	defer rows.Close()
	c := store.IndexSnapshotChunk{TenantID: tenantID, Kind: kind, SnapshotID: snapshotID}
	for rows.Next() {
		var body sql.RawBytes
		if err := rows.Scan(&c.Seq, &c.Subject, &c.KeyVersion, &body); err != nil {
			return t.wrapErr("index snapshot chunks", err)
		}
		c.Body = body
		if err := fn(&c); err != nil {
			return err
		}
	}
	return t.wrapErr("index snapshot chunks", rows.Err())
}

func (t *Tx) PutIndexSnapshotChunk(ctx context.Context, c *store.IndexSnapshotChunk) error {
	defer t.scope(c.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO index_snapshot_chunks (tenant_id, kind, snapshot_id, seq, subject, key_version, body)
		 VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.TenantID, c.Kind, c.SnapshotID, c.Seq, c.Subject, c.KeyVersion, c.Body)
	return t.wrapErr("put index snapshot chunk", err)
}

func (t *Tx) CommitIndexSnapshot(ctx context.Context, s *store.IndexSnapshot) error {
	defer t.scope(s.TenantID)()
	if _, err := t.tx.ExecContext(ctx,
		`INSERT INTO index_snapshots (tenant_id, kind, snapshot_id, gen, model, chunks, entries, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (tenant_id, kind) DO UPDATE SET snapshot_id = excluded.snapshot_id, gen = excluded.gen,
		   model = excluded.model, chunks = excluded.chunks, entries = excluded.entries, created_at = excluded.created_at`,
		s.TenantID, s.Kind, s.ID, s.Gen, s.Model, s.Chunks, s.Entries, t.at(s.Created)); err != nil {
		return t.wrapErr("commit index snapshot", err)
	}
	_, err := t.tx.ExecContext(ctx,
		`DELETE FROM index_snapshot_chunks WHERE tenant_id = ? AND kind = ? AND snapshot_id <> ?`, s.TenantID, s.Kind, s.ID)
	return t.wrapErr("commit index snapshot", err)
}

func (t *Tx) DeleteIndexSnapshots(ctx context.Context, tenantID, kind string) error {
	defer t.scope(tenantID)()
	if _, err := t.tx.ExecContext(ctx,
		`DELETE FROM index_snapshot_chunks WHERE tenant_id = ? AND (kind = ? OR ? = '')`, tenantID, kind, kind); err != nil {
		return t.wrapErr("delete index snapshots", err)
	}
	_, err := t.tx.ExecContext(ctx,
		`DELETE FROM index_snapshots WHERE tenant_id = ? AND (kind = ? OR ? = '')`, tenantID, kind, kind)
	return t.wrapErr("delete index snapshots", err)
}
