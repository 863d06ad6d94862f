package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/engram-memory/engram/internal/store"
)

// IndexChanges implements store.ChangeTx: the change log that
// index_generations' triggers append to (both stores' migrations).
func (t *Tx) IndexChanges(ctx context.Context, tenantID string, after int64) (*store.IndexChanges, error) {
	defer t.scope(tenantID)()
	q := t.tx
	var gen int64
	err := q.QueryRowContext(ctx, `SELECT gen FROM index_generations WHERE tenant_id = ?`, tenantID).Scan(&gen)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("index changes: %w", err)
	}
	c := &store.IndexChanges{Gen: gen, Complete: gen == after}
	if gen <= after {
		return c, nil // nothing since, or a count the tenant never had
	}
	rows, err := q.QueryContext(ctx,
		`SELECT gen, memory_id FROM index_changes WHERE tenant_id = ? AND gen > ? AND gen <= ? ORDER BY gen`,
		tenantID, after, gen)
	if err != nil {
		return nil, fmt.Errorf("index changes: %w", err)
	}
	defer rows.Close()
	seen := map[string]struct{}{}
	var n int64
	for rows.Next() {
		var (
			g  int64
			id string
		)
		if err := rows.Scan(&g, &id); err != nil {
			return nil, fmt.Errorf("index changes: %w", err)
		}
		n++
		if id == "" {
			c.Shredded = true
			continue
		}
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			c.IDs = append(c.IDs, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index changes: %w", err)
	}
	// Each move of the count logs exactly one entry: all of them are
	// there unless the oldest were pruned.
	c.Complete = n == gen-after
	return c, nil
}

// DocPostingsOf implements store.ChangeTx: two statements per memory, by
// primary key (a catch-up reads a few).
func (t *Tx) DocPostingsOf(ctx context.Context, tenantID string, ids []string) ([]store.DocPostings, error) {
	defer t.scope(tenantID)()
	q := t.tx
	out := []store.DocPostings{}
	for _, id := range ids {
		d := store.DocPostings{MemoryID: id}
		var (
			author sql.NullString
			vis    string
		)
		err := q.QueryRowContext(ctx,
			`SELECT user_id, agent_id, run_id, doc_len, author_account_id, visibility FROM memories WHERE tenant_id = ? AND id = ?`,
			tenantID, id).Scan(&d.Scope.UserID, &d.Scope.AgentID, &d.Scope.RunID, &d.DocLen, &author, &vis)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("doc postings: %w", err)
		}
		d.AuthorID, d.Private = author.String, vis == "private"
		rows, err := q.QueryContext(ctx, `SELECT token, tf FROM postings WHERE tenant_id = ? AND memory_id = ?`, tenantID, id)
		if err != nil {
			return nil, fmt.Errorf("doc postings: %w", err)
		}
		for rows.Next() {
			var p store.Posting
			if err := rows.Scan(&p.Token, &p.TF); err != nil {
				rows.Close()
				return nil, fmt.Errorf("doc postings: %w", err)
			}
			d.Postings = append(d.Postings, p)
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("doc postings: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("doc postings: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}
