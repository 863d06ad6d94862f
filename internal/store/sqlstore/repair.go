package sqlstore

import (
	"context"

	"github.com/engram-memory/engram/internal/store"
)

func (t *Tx) HistoryAfter(ctx context.Context, tenantID, after string, limit int) ([]store.History, error) {
	defer t.scope(tenantID)()
	rows, err := t.tx.QueryContext(ctx,
		`SELECT `+historyColumns+` FROM history WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		tenantID, after, limit)
	if err != nil {
		return nil, t.wrapErr("scan history", err)
	}
	defer rows.Close()
	out := []store.History{}
	for rows.Next() {
		h, err := scanHistory(rows)
		if err != nil {
			return nil, t.wrapErr("scan history", err)
		}
		out = append(out, *h)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrapErr("scan history", err)
	}
	return out, nil
}

func (t *Tx) DeleteHistoryEntry(ctx context.Context, tenantID, id string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM history WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return t.mustAffect("delete history entry", res, err)
}
