package sqlite

import (
	"context"

	"github.com/engram-memory/engram/internal/store"
)

// The change log (store.ChangeTx), written once for both SQL stores.

func (t *tx) IndexChanges(ctx context.Context, tenantID string, after int64) (*store.IndexChanges, error) {
	c, err := store.QueryIndexChanges(ctx, t.tx, tenantID, after)
	return c, wrapErr("index changes", err)
}

func (t *tx) DocPostingsOf(ctx context.Context, tenantID string, ids []string) ([]store.DocPostings, error) {
	d, err := store.QueryDocPostingsOf(ctx, t.tx, tenantID, ids)
	return d, wrapErr("doc postings", err)
}
