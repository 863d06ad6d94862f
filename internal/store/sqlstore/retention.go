package sqlstore

import (
	"context"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

func (t *Tx) DueMemories(ctx context.Context, tenantID string, now, createdBefore time.Time, limit int) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	if limit <= 0 {
		return []store.Memory{}, nil
	}
	// Two indexed queries (memories_expiry, memories_created) rather than
	// one OR, which SQLite would answer with a scan of the tenant (PostgreSQL
	// could use a BitmapOr).
	out, err := t.queryMemories(ctx,
		`SELECT `+memoryColumns+` FROM memories WHERE tenant_id = ? AND expires_at IS NOT NULL AND expires_at <= ?
		 ORDER BY expires_at LIMIT ?`, tenantID, t.at(now), limit)
	if err != nil {
		return nil, t.wrapErr("due memories", err)
	}
	if createdBefore.IsZero() || len(out) >= limit {
		return out, nil
	}
	old, err := t.queryMemories(ctx,
		`SELECT `+memoryColumns+` FROM memories WHERE tenant_id = ? AND created_at < ?
		 ORDER BY created_at LIMIT ?`, tenantID, t.at(createdBefore), limit)
	if err != nil {
		return nil, t.wrapErr("due memories", err)
	}
	seen := make(map[string]bool, len(out))
	for _, m := range out {
		seen[m.ID] = true
	}
	for _, m := range old {
		if len(out) >= limit {
			break
		}
		if !seen[m.ID] {
			out = append(out, m)
		}
	}
	return out, nil
}

func (t *Tx) DeleteMemoryHistory(ctx context.Context, tenantID, memoryID string) (int, error) {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM history WHERE tenant_id = ? AND memory_id = ?`, tenantID, memoryID)
	if err != nil {
		return 0, t.wrapErr("delete memory history", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *Tx) DueEpisodeTexts(ctx context.Context, tenantID string, createdBefore time.Time, limit int) ([]store.Episode, error) {
	defer t.scope(tenantID)()
	if limit <= 0 || createdBefore.IsZero() {
		return []store.Episode{}, nil
	}
	// episodes_text_age (migration 00018) indexes exactly these rows.
	return t.episodes(ctx, "due episode texts",
		`SELECT `+episodeColumns+` FROM episodes WHERE tenant_id = ? AND messages IS NOT NULL AND created_at < ?
		 AND status <> 'pending' ORDER BY created_at LIMIT ?`, tenantID, t.at(createdBefore), limit)
}
