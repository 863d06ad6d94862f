package sqlite

import (
	"context"

	"github.com/engram-memory/engram/internal/store"
)

func (t *tx) IndexChanges(ctx context.Context, tenantID string, after int64) (*store.IndexChanges, error) {
	gen, err := t.IndexGeneration(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if gen <= after {
		return store.CollectIndexChanges(gen, after, nil)
	}
	rows, err := t.tx.QueryContext(ctx, store.ChangeLogQuery, tenantID, after, gen)
	if err != nil {
		return nil, wrapErr("index changes", err)
	}
	defer rows.Close()
	c, err := store.CollectIndexChanges(gen, after, func(g *int64, id *string) (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		return true, rows.Scan(g, id)
	})
	return c, wrapErr("index changes", err)
}
