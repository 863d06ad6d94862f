package sqlstore

import (
	"context"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// The visibility column's values.
const (
	visShared  = "shared"
	visPrivate = "private"
)

func visibility(private bool) string {
	if private {
		return visPrivate
	}
	return visShared
}

// nullString stores "" as NULL: a memory without an author (written
// before accounts) has none, not an empty one.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// visibleFilter is rbac.Filter as SQL: the condition (to AND onto a
// WHERE clause, leading " AND ") and its arguments. alias qualifies the
// columns. It selects exactly what rbac.Allows would: everything (Any),
// shared memories and the author's own (Shared), the author's own (Own),
// nothing (No, or an actor without an account id at Own).
func visibleFilter(alias string, f rbac.Filter) (string, []any) {
	if alias != "" {
		alias += "."
	}
	switch f.Reach {
	case rbac.Any:
		return "", nil
	case rbac.Shared:
		if f.AuthorID == "" {
			return ` AND ` + alias + `visibility = 'shared'`, nil
		}
		return ` AND (` + alias + `visibility = 'shared' OR ` + alias + `author_account_id = ?)`, []any{f.AuthorID}
	case rbac.Own:
		if f.AuthorID == "" {
			return ` AND FALSE`, nil
		}
		return ` AND ` + alias + `author_account_id = ?`, []any{f.AuthorID}
	}
	return ` AND FALSE`, nil
}

func (t *Tx) ListVisibleMemories(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, limit int) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	return t.listMemories(ctx, tenantID, scope, f, before, limit)
}

func (t *Tx) SearchVisiblePostings(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, tokens [][]byte) (*store.Postings, error) {
	defer t.scope(tenantID)()
	return t.searchPostings(ctx, tenantID, scope, f, tokens)
}

func (t *Tx) MemoryByMACAs(ctx context.Context, tenantID string, scope engram.Scope, mac []byte, authorID string, private bool) (*store.Memory, error) {
	defer t.scope(tenantID)()
	// As MemoryByMAC (the same index and order), among the memories this
	// write would duplicate: a private note never matches another
	// author's, nor a shared memory a private one.
	q := `SELECT ` + memoryColumns + ` FROM memories` + t.hint(byMemoriesMAC) + `
		 WHERE tenant_id = ? AND content_mac = ? AND user_id = ? AND agent_id = ? AND run_id = ? AND visibility = ?`
	args := []any{tenantID, mac, scope.UserID, scope.AgentID, scope.RunID, visibility(private)}
	if private {
		q += ` AND author_account_id = ?`
		args = append(args, authorID)
	}
	return scanRow(t, "get memory by mac", scanMemory, t.tx.QueryRowContext(ctx, q+` ORDER BY id LIMIT 1`, args...))
}
