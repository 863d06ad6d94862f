package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

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
	if e.Memories, err = t.count(ctx, "erase memories",
		`DELETE FROM memories WHERE tenant_id = ? AND subject = ?`, tenantID, subject); err != nil {
		return nil, err
	}
	if e.History, err = t.count(ctx, "erase history",
		`DELETE FROM history WHERE tenant_id = ? AND subject = ?`, tenantID, subject); err != nil {
		return nil, err
	}
	if e.Episodes, err = t.count(ctx, "erase episodes",
		`DELETE FROM episodes WHERE tenant_id = ? AND subject = ?`, tenantID, subject); err != nil {
		return nil, err
	}
	if e.Facts, err = t.count(ctx, "erase facts",
		`DELETE FROM facts WHERE tenant_id = ? AND subject = ?`, tenantID, subject); err != nil {
		return nil, err
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
	var err error
	steps := []struct {
		n     *int
		op, q string
	}{
		{nil, "erase postings", `DELETE FROM postings WHERE tenant_id = ?`},
		{nil, "erase entity mentions", `DELETE FROM entity_mentions WHERE tenant_id = ?`},
		{nil, "erase topics", `DELETE FROM memory_topics WHERE tenant_id = ?`},
		{nil, "erase entity index", `DELETE FROM entity_keys WHERE tenant_id = ?`},
		{&e.Facts, "erase facts", `DELETE FROM facts WHERE tenant_id = ?`},
		{&e.Entities, "erase entities", `DELETE FROM entities WHERE tenant_id = ?`},
		{&e.Episodes, "erase episodes", `DELETE FROM episodes WHERE tenant_id = ?`},
		{nil, "erase tenant settings", `DELETE FROM tenant_settings WHERE tenant_id = ?`},
		{&e.Memories, "erase memories", `DELETE FROM memories WHERE tenant_id = ?`},
		{&e.History, "erase history", `DELETE FROM history WHERE tenant_id = ?`},
		{nil, "erase idempotency", `DELETE FROM idempotency WHERE tenant_id = ?`},
		{&e.APIKeys, "erase api keys", `DELETE FROM api_keys WHERE tenant_id = ?`},
		{&e.Accounts, "erase accounts", `DELETE FROM accounts WHERE tenant_id = ?`},
		{&e.Keys, "erase keys", `DELETE FROM wrapped_keys WHERE tenant_id = ?`},
		{nil, "erase tenant kek", `DELETE FROM tenant_keks WHERE tenant_id = ?`},
		// The chain goes with the tenant: its key (derived from the
		// tenant's index key) is destroyed above, so it could no longer be
		// verified, and its IPs and pseudonyms are the tenant's data.
		{nil, "erase audit entries", `DELETE FROM audit_entries WHERE tenant_id = ?`},
		{nil, "erase audit head", `DELETE FROM audit_heads WHERE tenant_id = ?`},
		{nil, "erase audit tree", `DELETE FROM audit_trees WHERE tenant_id = ?`},
		{nil, "erase audit segments", `DELETE FROM audit_segments WHERE tenant_id = ?`},
		{nil, "erase audit nodes", `DELETE FROM audit_nodes WHERE tenant_id = ?`},
		{nil, "erase audit retention", `DELETE FROM audit_retention WHERE tenant_id = ?`},
		{nil, "erase audit holds", `DELETE FROM audit_holds WHERE tenant_id = ?`},
		{nil, "erase audit watermark", `DELETE FROM audit_published WHERE tenant_id = ?`},
		{nil, "erase deletions", `DELETE FROM deletions WHERE tenant_id = ?`},
		{nil, "erase index snapshot chunks", `DELETE FROM index_snapshot_chunks WHERE tenant_id = ?`},
		{nil, "erase index snapshots", `DELETE FROM index_snapshots WHERE tenant_id = ?`},
		{nil, "erase index generation", `DELETE FROM index_generations WHERE tenant_id = ?`},
	}
	for _, s := range steps {
		var n int
		if n, err = t.count(ctx, s.op, s.q, tenantID); err != nil {
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

// staleQuery selects records whose key version is below their subject's
// newest key version. %s is the tenant condition of each part.
const staleQuery = `
WITH latest AS (
  SELECT tenant_id, owner, MAX(version) AS v FROM wrapped_keys WHERE purpose = ? %[1]s GROUP BY tenant_id, owner
)
SELECT 'memory', m.id, m.subject, m.key_version FROM memories m
  JOIN latest l ON l.tenant_id = m.tenant_id AND l.owner = m.subject WHERE m.key_version < l.v %[2]s
UNION ALL
SELECT 'history', h.id, h.subject, h.key_version FROM history h
  JOIN latest l ON l.tenant_id = h.tenant_id AND l.owner = h.subject WHERE h.key_version < l.v %[3]s
UNION ALL
SELECT 'account', a.id, a.subject, a.key_version FROM accounts a
  JOIN latest l ON l.tenant_id = a.tenant_id AND l.owner = a.subject WHERE a.key_version < l.v %[4]s
UNION ALL
SELECT 'episode', e.id, e.subject, e.key_version FROM episodes e
  JOIN latest l ON l.tenant_id = e.tenant_id AND l.owner = e.subject WHERE e.key_version < l.v %[5]s
UNION ALL
SELECT 'entity', n.id, n.subject, n.key_version FROM entities n
  JOIN latest l ON l.tenant_id = n.tenant_id AND l.owner = n.subject WHERE n.key_version < l.v %[6]s
UNION ALL
SELECT 'fact', f.id, f.subject, f.key_version FROM facts f
  JOIN latest l ON l.tenant_id = f.tenant_id AND l.owner = f.subject WHERE f.key_version < l.v %[7]s
UNION ALL
SELECT 'sso_config', c.tenant_id, c.subject, c.key_version FROM sso_configs c
  JOIN latest l ON l.tenant_id = c.tenant_id AND l.owner = c.subject WHERE c.key_version < l.v %[8]s`

func staleSQL(tenantID string) (string, []any) {
	if tenantID == "" {
		return fmt.Sprintf(staleQuery, "", "", "", "", "", "", "", ""), []any{store.PurposeSubject}
	}
	return fmt.Sprintf(staleQuery, "AND tenant_id = ?", "AND m.tenant_id = ?", "AND h.tenant_id = ?", "AND a.tenant_id = ?",
			"AND e.tenant_id = ?", "AND n.tenant_id = ?", "AND f.tenant_id = ?", "AND c.tenant_id = ?"),
		[]any{store.PurposeSubject, tenantID, tenantID, tenantID, tenantID, tenantID, tenantID, tenantID, tenantID}
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
	h, err := scanHistory(t.tx.QueryRowContext(ctx,
		`SELECT `+historyColumns+` FROM history WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, t.wrapErr("get history entry", err)
	}
	return h, nil
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
