package sqlstore

import (
	"context"

	"github.com/engram-memory/engram/internal/store"
)

func (t *Tx) HistoryAfter(ctx context.Context, tenantID, after string, limit int) ([]store.History, error) {
	defer t.scope(tenantID)()
	return queryRows(ctx, t, "scan history", scanHistory,
		`SELECT `+historyColumns+` FROM history WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		tenantID, after, limit)
}

func (t *Tx) DeleteHistoryEntry(ctx context.Context, tenantID, id string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM history WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return t.mustAffect("delete history entry", res, err)
}
