package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/engram-memory/engram/internal/store"
)

// count runs a statement and returns how many rows it changed.
func (t *Tx) count(ctx context.Context, op, query string, args ...any) (int, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, t.wrapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.wrapErr(op, err)
	}
	return int(n), nil
}

func (t *Tx) DeleteSubject(ctx context.Context, tenantID, subject string) (*store.Erasure, error) {
	defer t.scope(tenantID)()
	var e store.Erasure
	var err error
	// Postings first and explicitly: the search index must not depend on
	// SQLite's foreign_keys pragma.
	if _, err = t.count(ctx, "erase postings",
		`DELETE FROM postings WHERE tenant_id = ? AND memory_id IN
		   (SELECT id FROM memories WHERE tenant_id = ? AND subject = ?)`, tenantID, tenantID, subject); err != nil {
		return nil, err
	}
	for _, q := range []string{
		`DELETE FROM entity_mentions WHERE tenant_id = ? AND memory_id IN (SELECT id FROM memories WHERE tenant_id = ? AND subject = ?)`,
		`DELETE FROM memory_topics WHERE tenant_id = ? AND memory_id IN (SELECT id FROM memories WHERE tenant_id = ? AND subject = ?)`,
	} {
		if _, err = t.count(ctx, "erase memory links", q, tenantID, tenantID, subject); err != nil {
			return nil, err
		}
	}
	for _, step := range []struct {
		op, table string
		n         *int
	}{
		{"erase memories", "memories", &e.Memories},
		{"erase history", "history", &e.History},
		{"erase episodes", "episodes", &e.Episodes},
		{"erase facts", "facts", &e.Facts},
	} {
		if *step.n, err = t.count(ctx, step.op,
			`DELETE FROM `+step.table+` WHERE tenant_id = ? AND subject = ?`, tenantID, subject); err != nil {
			return nil, err
		}
	}
	if e.Keys, err = t.count(ctx, "erase keys",
		`DELETE FROM wrapped_keys WHERE tenant_id = ? AND purpose = ? AND owner = ?`,
		tenantID, store.PurposeSubject, subject); err != nil {
		return nil, err
	}
	return &e, nil
}

// DeleteUserObservations erases what Observe holds about one end user:
// their entities (each with every version of its own key, its blind keys and
// mentions), the facts and episodes of their scope, and their topic labels.
func (t *Tx) DeleteUserObservations(ctx context.Context, tenantID, userID string) (*store.Erasure, error) {
	defer t.scope(tenantID)()
	var e store.Erasure
	var err error
	steps := []struct {
		n     *int
		op, q string
		args  []any
	}{
		{&e.Keys, "erase entity keys", `DELETE FROM wrapped_keys WHERE tenant_id = ? AND purpose = ? AND owner IN
			(SELECT 'e:' || id FROM entities WHERE tenant_id = ? AND user_id = ?)`,
			[]any{tenantID, store.PurposeSubject, tenantID, userID}},
		{nil, "erase entity index", `DELETE FROM entity_keys WHERE tenant_id = ? AND user_id = ?`, []any{tenantID, userID}},
		{nil, "erase entity mentions", `DELETE FROM entity_mentions WHERE tenant_id = ? AND entity_id IN
			(SELECT id FROM entities WHERE tenant_id = ? AND user_id = ?)`, []any{tenantID, tenantID, userID}},
		{&e.Facts, "erase facts", `DELETE FROM facts WHERE tenant_id = ? AND user_id = ?`, []any{tenantID, userID}},
		// Facts of other scopes that name one of the user's entities would
		// point at nothing once the entity is gone.
		{nil, "erase facts naming the user's entities", `DELETE FROM facts WHERE tenant_id = ? AND
			(subject_entity IN (SELECT id FROM entities WHERE tenant_id = ? AND user_id = ?)
			 OR object_entity IN (SELECT id FROM entities WHERE tenant_id = ? AND user_id = ?))`,
			[]any{tenantID, tenantID, userID, tenantID, userID}},
		{&e.Entities, "erase entities", `DELETE FROM entities WHERE tenant_id = ? AND user_id = ?`, []any{tenantID, userID}},
		{&e.Episodes, "erase episodes", `DELETE FROM episodes WHERE tenant_id = ? AND user_id = ?`, []any{tenantID, userID}},
		{nil, "erase topics", `DELETE FROM memory_topics WHERE tenant_id = ? AND user_id = ?`, []any{tenantID, userID}},
	}
	for _, s := range steps {
		var n int
		if n, err = t.count(ctx, s.op, s.q, s.args...); err != nil {
			return nil, err
		}
		if s.n != nil {
			*s.n = n
		}
	}
	return &e, nil
}

func (t *Tx) DeleteTenant(ctx context.Context, tenantID string) (*store.Erasure, error) {
	defer t.scope(tenantID)()
	var e store.Erasure
	// Every table with the tenant's rows, children first; the counts the
	// erasure reports.
	steps := []struct {
		n     *int
		table string
	}{
		{nil, "postings"},
		{nil, "entity_mentions"},
		{nil, "memory_topics"},
		{nil, "entity_keys"},
		{&e.Facts, "facts"},
		{&e.Entities, "entities"},
		{&e.Episodes, "episodes"},
		{nil, "tenant_settings"},
		{&e.Memories, "memories"},
		{&e.History, "history"},
		{nil, "idempotency"},
		{&e.APIKeys, "api_keys"},
		{&e.Accounts, "accounts"},
		{&e.Keys, "wrapped_keys"},
		{nil, "tenant_keks"},
		// The chain goes with the tenant: its key (derived from the
		// tenant's index key) is destroyed above, so it could no longer be
		// verified, and its IPs and pseudonyms are the tenant's data.
		{nil, "audit_entries"},
		{nil, "audit_heads"},
		{nil, "audit_trees"},
		{nil, "audit_segments"},
		{nil, "audit_nodes"},
		{nil, "audit_retention"},
		{nil, "audit_holds"},
		{nil, "audit_published"},
		{nil, "deletions"},
		{nil, "index_snapshot_chunks"},
		{nil, "index_snapshots"},
		{nil, "index_generations"},
	}
	for _, s := range steps {
		n, err := t.count(ctx, "erase "+s.table, `DELETE FROM `+s.table+` WHERE tenant_id = ?`, tenantID)
		if err != nil {
			return nil, err
		}
		if s.n != nil {
			*s.n = n
		}
	}
	res, err := t.tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, tenantID)
	if err := t.mustAffect("erase tenant", res, err); err != nil {
		return nil, err
	}
	return &e, nil
}

func (t *Tx) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	defer t.scopeAll()()
	return queryRows(ctx, t, "list tenants", scanTenant, `SELECT id, name, created_at FROM tenants ORDER BY name`)
}

// staleTables are the sealed records a subject key protects: their kind
// (store.StaleRecord), table and id column.
var staleTables = []struct{ kind, table, id string }{
	{"memory", "memories", "id"}, {"history", "history", "id"}, {"account", "accounts", "id"},
	{"episode", "episodes", "id"}, {"entity", "entities", "id"}, {"fact", "facts", "id"},
	{"sso_config", "sso_configs", "tenant_id"},
}

// staleSQL selects the records of tenantID ("": of every tenant) whose key
// version is below their subject's newest key version.
func staleSQL(tenantID string) (string, []any) {
	cond := func(col string) string {
		if tenantID == "" {
			return ""
		}
		return " AND " + col + " = ?"
	}
	args := []any{store.PurposeSubject}
	var sb strings.Builder
	sb.WriteString("WITH latest AS (\n  SELECT tenant_id, owner, MAX(version) AS v FROM wrapped_keys WHERE purpose = ?" +
		cond("tenant_id") + " GROUP BY tenant_id, owner\n)")
	for i, r := range staleTables {
		if i > 0 {
			sb.WriteString("\nUNION ALL")
		}
		fmt.Fprintf(&sb, "\nSELECT '%s', r.%s, r.subject, r.key_version FROM %s r\n"+
			"  JOIN latest l ON l.tenant_id = r.tenant_id AND l.owner = r.subject WHERE r.key_version < l.v%s",
			r.kind, r.id, r.table, cond("r.tenant_id"))
	}
	if tenantID != "" {
		for range len(staleTables) + 1 {
			args = append(args, tenantID)
		}
	}
	return sb.String(), args
}

func (t *Tx) StaleRecords(ctx context.Context, tenantID string, limit int) ([]store.StaleRecord, error) {
	defer t.scope(tenantID)()
	q, args := staleSQL(tenantID)
	return queryRows(ctx, t, "stale records", func(s scanner) (*store.StaleRecord, error) {
		var r store.StaleRecord
		return &r, s.Scan(&r.Kind, &r.ID, &r.Subject, &r.KeyVersion)
	}, q+` LIMIT ?`, append(args, limit)...)
}

func (t *Tx) CountStale(ctx context.Context, tenantID string) (int, error) {
	defer t.scopeOrAll(tenantID)()
	q, args := staleSQL(tenantID)
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+q+`) AS stale`, args...).Scan(&n); err != nil {
		return 0, t.wrapErr("count stale records", err)
	}
	return n, nil
}

func (t *Tx) HistoryEntry(ctx context.Context, tenantID, id string) (*store.History, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get history entry", scanHistory, t.tx.QueryRowContext(ctx,
		`SELECT `+historyColumns+` FROM history WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

func (t *Tx) ReplaceHistory(ctx context.Context, h *store.History) error {
	defer t.scope(h.TenantID)()
	res, err := t.tx.ExecContext(ctx,
		`UPDATE history SET key_version = ?, old = ?, new = ? WHERE tenant_id = ? AND id = ?`,
		h.KeyVersion, nullBlob(h.Old), nullBlob(h.New), h.TenantID, h.ID)
	return t.mustAffect("replace history", res, err)
}

func (t *Tx) ReplaceAccount(ctx context.Context, a *store.Account) error {
	defer t.scope(a.TenantID)()
	res, err := t.tx.ExecContext(ctx,
		`UPDATE accounts SET key_version = ?, name = ?, email = ? WHERE tenant_id = ? AND id = ?`,
		a.KeyVersion, nullBlob(a.Name), nullBlob(a.Email), a.TenantID, a.ID)
	return t.mustAffect("replace account", res, err)
}

// nullBlob stores a nil slice as NULL, as inserts do.
func nullBlob(b []byte) any {
	if b == nil {
		return sql.Null[[]byte]{}
	}
	return b
}
