package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// IndexChangeLog is how many of a tenant's latest changes the store keeps
// in its change log (ChangeTx): a cache that fell further behind than that
// cannot catch up change by change and reloads.
const IndexChangeLog = 8192

// IndexChanges is what changed in a tenant's memories since a change count
// (Tx.IndexGeneration): the count now, and which memories changed.
type IndexChanges struct {
	// Gen is the tenant's change count now.
	Gen int64
	// IDs are the memories inserted, updated or deleted after the count
	// asked about, each once, in no particular order.
	IDs []string
	// Complete is false when the log no longer holds every change since
	// the count (pruned, or the count is not one the tenant had): IDs are
	// then not the whole story and a cache must reload.
	Complete bool
	// Shredded is true when a subject key of the tenant was destroyed
	// (an erasure) since the count: a cache of decrypted data must drop
	// all of it, not only the memories in IDs.
	Shredded bool
}

// ChangeTx reads the change log behind each tenant's change count, which
// lets a node's in-memory indexes catch up with other nodes' writes
// (docs/ARCHITECTURE.md, "Caches across nodes"). The store appends to the
// log in the same transaction that moves the count (every insert, update
// and delete of a memory, every destruction of a subject key) and keeps
// the last IndexChangeLog entries of each tenant. The log holds memory ids
// and counts, nothing sealed.
type ChangeTx interface {
	// IndexChanges returns the tenant's changes after the count after.
	IndexChanges(ctx context.Context, tenantID string, after int64) (*IndexChanges, error)
	// DocPostingsOf returns the given memories of the tenant as the
	// keyword index sees them (DocPostings), those that exist, in no
	// particular order.
	DocPostingsOf(ctx context.Context, tenantID string, ids []string) ([]DocPostings, error)
}

// Querier is what the SQL stores' transactions offer: statements written
// with '?' placeholders (each store rebinds them), run in the caller's
// transaction and tenant scope. ChangeTx is written once over it.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// QueryIndexChanges implements ChangeTx.IndexChanges for a SQL store whose
// schema has index_generations and index_changes (both stores' migrations).
func QueryIndexChanges(ctx context.Context, q Querier, tenantID string, after int64) (*IndexChanges, error) {
	var gen int64
	err := q.QueryRowContext(ctx, `SELECT gen FROM index_generations WHERE tenant_id = ?`, tenantID).Scan(&gen)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("index changes: %w", err)
	}
	c := &IndexChanges{Gen: gen, Complete: gen == after}
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

// QueryDocPostingsOf implements ChangeTx.DocPostingsOf for a SQL store:
// two statements per memory, by primary key (a catch-up reads a few).
func QueryDocPostingsOf(ctx context.Context, q Querier, tenantID string, ids []string) ([]DocPostings, error) {
	out := []DocPostings{}
	for _, id := range ids {
		d := DocPostings{MemoryID: id}
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
			var p Posting
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

// Change is another node's committed change to a tenant, as a Notifier
// tells of it: only a hint that the tenant's caches are worth checking
// now. Caches stay correct without it (the change count is checked on
// every use), so a notification lost costs speed, never correctness.
type Change struct {
	TenantID string
	// Memories: a memory was inserted, updated or deleted.
	Memories bool
	// SubjectKeys: a subject key was destroyed (an erasure).
	SubjectKeys bool
	// Keys: another key was destroyed (a rotation, a tenant erasure).
	Keys bool
}

// Notifier is a store that tells of changes as they commit, made by any
// node (this one's own included). PostgreSQL's store is one (LISTEN and
// NOTIFY); the embedded store is not: it has no other node.
type Notifier interface {
	// Listen calls fn with each change until ctx ends, reconnecting after
	// a failure (reported to fail, then retried with a growing pause).
	// Changes that commit while it is not connected are not told.
	Listen(ctx context.Context, fn func(Change), fail func(error))
}
