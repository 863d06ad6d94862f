package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

const memoryColumns = `id, tenant_id, user_id, agent_id, run_id, subject, key_version, content, metadata,
	content_mac, vector, vector_model, doc_len, created_at, updated_at, author_account_id, visibility, expires_at`

func (t *Tx) InsertMemory(ctx context.Context, m *store.Memory, postings []store.Posting) error {
	defer t.scope(m.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO memories (`+memoryColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.TenantID, m.UserID, m.AgentID, m.RunID, m.Subject, m.KeyVersion, m.Content, m.Metadata,
		m.ContentMAC, nullBlob(m.Vector), m.VectorModel, m.DocLen, t.at(m.CreatedAt), t.at(m.UpdatedAt),
		nullString(m.AuthorID), visibility(m.Private), t.atOrNil(m.ExpiresAt))
	if err != nil {
		return t.wrapErr("insert memory", err)
	}
	if err := t.insertPostings(ctx, m.TenantID, m.ID, postings); err != nil {
		return fmt.Errorf("insert memory: %w", err)
	}
	return nil
}

// postingColumns is the number of parameters one posting row binds.
const postingColumns = 4

func (t *Tx) insertPostings(ctx context.Context, tenantID, memoryID string, postings []store.Posting) error {
	for batch := range slices.Chunk(mergePostings(postings), maxParams/postingColumns) {
		var (
			sb   strings.Builder
			args = make([]any, 0, len(batch)*postingColumns)
		)
		sb.WriteString(`INSERT INTO postings (tenant_id, token, memory_id, tf) VALUES `)
		for i, p := range batch {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?, ?, ?, ?)")
			args = append(args, tenantID, p.Token, memoryID, p.TF)
		}
		if _, err := t.tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return t.wrapErr("insert postings", err)
		}
	}
	return nil
}

// mergePostings sums the frequencies of a token listed twice, which is what
// the list means, rather than failing on the primary key.
func mergePostings(postings []store.Posting) []store.Posting {
	seen := make(map[string]int, len(postings))
	out := make([]store.Posting, 0, len(postings))
	for _, p := range postings {
		if i, ok := seen[string(p.Token)]; ok {
			out[i].TF += p.TF
			continue
		}
		seen[string(p.Token)] = len(out)
		out = append(out, p)
	}
	return out
}

func (t *Tx) Memory(ctx context.Context, tenantID, id string) (*store.Memory, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get memory", scanMemory, t.tx.QueryRowContext(ctx,
		`SELECT `+memoryColumns+` FROM memories WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

func (t *Tx) Memories(ctx context.Context, tenantID string, ids []string) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	return t.memoriesByID(ctx, "get memories", `SELECT `+memoryColumns+` FROM memories`, scanMemory, tenantID, ids)
}

// headColumns are what MemoryHeads reads: all in the memories_stats index
// (migration 00020), so that ranking a search's candidates never reads
// their rows (each holds a sealed ~2 KB vector).
const headColumns = `id, user_id, agent_id, run_id, created_at, author_account_id, visibility, expires_at`

func (t *Tx) MemoryHeads(ctx context.Context, tenantID string, ids []string) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	out, err := t.memoriesByID(ctx, "get memory heads", `SELECT `+headColumns+` FROM memories`+t.hint(byMemoriesStats), scanHead, tenantID, ids)
	for i := range out {
		out[i].TenantID = tenantID
	}
	return out, err
}

// textColumns are memoryColumns without the vector.
const textColumns = `id, tenant_id, user_id, agent_id, run_id, subject, key_version, content, metadata,
	content_mac, doc_len, created_at, updated_at, author_account_id, visibility, expires_at`

func (t *Tx) MemoryTexts(ctx context.Context, tenantID string, ids []string) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	return t.memoriesByID(ctx, "get memory texts", `SELECT `+textColumns+` FROM memories`, scanText, tenantID, ids)
}

// memoriesByID runs selectFrom (SELECT … FROM memories) for the tenant's
// memories among ids, in chunks of bound parameters, scanning each row with
// scan.
func (t *Tx) memoriesByID(ctx context.Context, op, selectFrom string, scan func(scanner) (*store.Memory, error), tenantID string, ids []string) ([]store.Memory, error) {
	out := []store.Memory{}
	// Deduplicated so that an id repeated across chunks is returned once.
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	for batch := range slices.Chunk(uniq, maxParams) {
		args := make([]any, 0, len(batch)+1)
		args = append(args, tenantID)
		for _, id := range batch {
			args = append(args, id)
		}
		ms, err := t.scanMemories(ctx, scan, selectFrom+` WHERE tenant_id = ? AND id IN (`+placeholders(len(batch))+`)`, args...)
		if err != nil {
			return nil, t.wrapErr(op, err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

func (t *Tx) MemoryByMAC(ctx context.Context, tenantID string, scope engram.Scope, mac []byte) (*store.Memory, error) {
	defer t.scope(tenantID)()
	// Every scope field is compared, empty ones included: the same content
	// said to another user, agent or run is another memory. The oldest
	// match wins so that the answer does not change as duplicates appear.
	// INDEXED BY (SQLite): left to itself its planner picks a scope index,
	// which satisfies ORDER BY id but scans every memory of the scope —
	// each write then costs O(memories), 90% of ingest time at 30,000.
	return scanRow(t, "get memory by mac", scanMemory, t.tx.QueryRowContext(ctx,
		`SELECT `+memoryColumns+` FROM memories`+t.hint(byMemoriesMAC)+`
		 WHERE tenant_id = ? AND content_mac = ? AND user_id = ? AND agent_id = ? AND run_id = ?
		 ORDER BY id LIMIT 1`,
		tenantID, mac, scope.UserID, scope.AgentID, scope.RunID))
}

func (t *Tx) UpdateMemory(ctx context.Context, m *store.Memory, postings []store.Posting) error {
	defer t.scope(m.TenantID)()
	res, err := t.tx.ExecContext(ctx,
		`UPDATE memories SET key_version = ?, content = ?, metadata = ?, content_mac = ?, vector = ?, vector_model = ?,
		   doc_len = ?, updated_at = ?, visibility = ?, expires_at = ?
		 WHERE tenant_id = ? AND id = ?`,
		m.KeyVersion, m.Content, m.Metadata, m.ContentMAC, nullBlob(m.Vector), m.VectorModel, m.DocLen, t.at(m.UpdatedAt),
		visibility(m.Private), t.atOrNil(m.ExpiresAt), m.TenantID, m.ID)
	if err := t.mustAffect("update memory", res, err); err != nil {
		return err
	}
	if err := t.deletePostings(ctx, m.TenantID, m.ID); err != nil {
		return fmt.Errorf("update memory: %w", err)
	}
	if err := t.insertPostings(ctx, m.TenantID, m.ID, postings); err != nil {
		return fmt.Errorf("update memory: %w", err)
	}
	return nil
}

func (t *Tx) DeleteMemory(ctx context.Context, tenantID, id string) error {
	defer t.scope(tenantID)()
	// Explicitly, not only by ON DELETE CASCADE: in SQLite the cascade
	// depends on the foreign_keys pragma of the connection; the search
	// index must not.
	if err := t.deletePostings(ctx, tenantID, id); err != nil {
		return fmt.Errorf("delete memory: %w", err)
	}
	for _, q := range []string{`DELETE FROM entity_mentions WHERE tenant_id = ? AND memory_id = ?`,
		`DELETE FROM memory_topics WHERE tenant_id = ? AND memory_id = ?`} {
		if _, err := t.tx.ExecContext(ctx, q, tenantID, id); err != nil {
			return t.wrapErr("delete memory links", err)
		}
	}
	res, err := t.tx.ExecContext(ctx,
		`DELETE FROM memories WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return t.mustAffect("delete memory", res, err)
}

func (t *Tx) deletePostings(ctx context.Context, tenantID, memoryID string) error {
	_, err := t.tx.ExecContext(ctx,
		`DELETE FROM postings WHERE memory_id = ? AND tenant_id = ?`, memoryID, tenantID)
	if err != nil {
		return t.wrapErr("delete postings", err)
	}
	return nil
}

func (t *Tx) ListMemories(ctx context.Context, tenantID string, scope engram.Scope, before string, limit int) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	return t.listMemories(ctx, tenantID, scope, rbac.Filter{Reach: rbac.Any}, before, limit)
}

func (t *Tx) listMemories(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, limit int) ([]store.Memory, error) {
	if limit <= 0 {
		return []store.Memory{}, nil
	}
	where, args := scopeFilter("", tenantID, scope)
	vis, visArgs := visibleFilter("", f)
	where += vis
	args = append(args, visArgs...)
	if before != "" {
		where += ` AND id < ?`
		args = append(args, before)
	}
	args = append(args, limit)
	ms, err := t.queryMemories(ctx,
		`SELECT `+memoryColumns+` FROM memories WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, t.wrapErr("list memories", err)
	}
	return ms, nil
}

// scopeFilter returns the WHERE condition selecting a tenant's memories that
// match every non-empty field of scope, with its arguments. alias qualifies
// the columns when the query joins memories to another table.
func scopeFilter(alias, tenantID string, scope engram.Scope) (string, []any) {
	if alias != "" {
		alias += "."
	}
	where := alias + `tenant_id = ?`
	args := []any{tenantID}
	for _, f := range []struct{ col, val string }{
		{"user_id", scope.UserID},
		{"agent_id", scope.AgentID},
		{"run_id", scope.RunID},
	} {
		if f.val != "" {
			where += ` AND ` + alias + f.col + ` = ?`
			args = append(args, f.val)
		}
	}
	return where, args
}

func (t *Tx) queryMemories(ctx context.Context, query string, args ...any) ([]store.Memory, error) {
	return t.scanMemories(ctx, scanMemory, query, args...)
}

func (t *Tx) scanMemories(ctx context.Context, scan func(scanner) (*store.Memory, error), query string, args ...any) ([]store.Memory, error) {
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Memory{}
	for rows.Next() {
		m, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

func scanMemory(s scanner) (*store.Memory, error) {
	var m store.Memory
	var c memoryClear
	err := s.Scan(&m.ID, &m.TenantID, &m.UserID, &m.AgentID, &m.RunID, &m.Subject, &m.KeyVersion, &m.Content,
		&m.Metadata, &m.ContentMAC, &m.Vector, &m.VectorModel, &m.DocLen, &c.created, &c.updated, &c.author, &c.vis, &c.expires)
	return c.into(&m, err)
}

func scanText(s scanner) (*store.Memory, error) {
	var m store.Memory
	var c memoryClear
	err := s.Scan(&m.ID, &m.TenantID, &m.UserID, &m.AgentID, &m.RunID, &m.Subject, &m.KeyVersion, &m.Content,
		&m.Metadata, &m.ContentMAC, &m.DocLen, &c.created, &c.updated, &c.author, &c.vis, &c.expires)
	return c.into(&m, err)
}

func scanHead(s scanner) (*store.Memory, error) {
	var m store.Memory
	var c memoryClear
	err := s.Scan(&m.ID, &m.UserID, &m.AgentID, &m.RunID, &c.created, &c.author, &c.vis, &c.expires)
	h, err := c.into(&m, err)
	if h != nil {
		h.UpdatedAt = time.Time{} // not read
	}
	return h, err
}

// memoryClear holds the columns of a memory row stored in another form
// than the field's.
type memoryClear struct {
	created, updated stamp
	author           sql.NullString
	vis              string
	expires          nullStamp
}

func (c *memoryClear) into(m *store.Memory, err error) (*store.Memory, error) {
	if err != nil {
		return nil, err
	}
	m.ExpiresAt = c.expires.ptr()
	m.AuthorID, m.Private = c.author.String, c.vis == visPrivate
	m.CreatedAt = c.created.t
	m.UpdatedAt = c.updated.t
	return m, nil
}

func (t *Tx) InsertHistory(ctx context.Context, h *store.History) error {
	defer t.scope(h.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO history (`+historyColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.TenantID, h.MemoryID, h.Subject, h.KeyVersion, h.Event, h.Old, h.New, t.at(h.CreatedAt),
		nullString(h.AuthorID), visibility(h.Private))
	if err != nil {
		return t.wrapErr("insert history", err)
	}
	return nil
}

func (t *Tx) History(ctx context.Context, tenantID, memoryID string) ([]store.History, error) {
	defer t.scope(tenantID)()
	// id breaks ties between changes made in the same microsecond; ids are
	// time-ordered.
	return queryRows(ctx, t, "get history", scanHistory,
		`SELECT `+historyColumns+` FROM history
		 WHERE tenant_id = ? AND memory_id = ? ORDER BY created_at, id`, tenantID, memoryID)
}

func (t *Tx) SearchPostings(ctx context.Context, tenantID string, scope engram.Scope, tokens [][]byte) (*store.Postings, error) {
	defer t.scope(tenantID)()
	return t.searchPostings(ctx, tenantID, scope, rbac.Filter{Reach: rbac.Any}, tokens)
}

func (t *Tx) searchPostings(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, tokens [][]byte) (*store.Postings, error) {
	where, args := scopeFilter("", tenantID, scope)
	out := &store.Postings{Matches: []store.Match{}}
	// Both queries run in the caller's transaction, so the statistics
	// describe the same snapshot as the matches.
	err := t.tx.QueryRowContext(ctx,
		`SELECT COALESCE(SUM(docs), 0), COALESCE(SUM(total_len), 0) FROM scope_stats WHERE `+where, args...,
	).Scan(&out.Docs, &out.TotalLen)
	if err != nil {
		return nil, t.wrapErr("search postings: corpus statistics", err)
	}
	if out.Docs == 0 {
		return out, nil
	}

	uniq := make([][]byte, 0, len(tokens))
	seen := make(map[string]bool, len(tokens))
	for _, tok := range tokens {
		if !seen[string(tok)] {
			seen[string(tok)] = true
			uniq = append(uniq, tok)
		}
	}
	where, scopeArgs := scopeFilter("m", tenantID, scope)
	vis, visArgs := visibleFilter("m", f)
	where += vis
	scopeArgs = append(scopeArgs, visArgs...)
	for batch := range slices.Chunk(uniq, maxParams) {
		args := make([]any, 0, len(batch)+len(scopeArgs)+1)
		args = append(args, tenantID)
		for _, tok := range batch {
			args = append(args, tok)
		}
		args = append(args, scopeArgs...)
		if err := t.queryMatches(ctx, out,
			`SELECT p.memory_id, p.token, p.tf, m.doc_len
			 FROM postings p JOIN memories m`+t.hint(byMemoriesStats)+` ON m.tenant_id = p.tenant_id AND m.id = p.memory_id
			 WHERE p.tenant_id = ? AND p.token IN (`+placeholders(len(batch))+`) AND `+where,
			args...); err != nil {
			return nil, t.wrapErr("search postings", err)
		}
	}
	return out, nil
}

func (t *Tx) queryMatches(ctx context.Context, out *store.Postings, query string, args ...any) error {
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var mt store.Match
		if err := rows.Scan(&mt.MemoryID, &mt.Token, &mt.TF, &mt.DocLen); err != nil {
			return err
		}
		out.Matches = append(out.Matches, mt)
	}
	return rows.Err()
}

const historyColumns = `id, tenant_id, memory_id, subject, key_version, event, old, new, created_at, author_account_id, visibility`

func scanHistory(s scanner) (*store.History, error) {
	var (
		h       store.History
		created stamp
		author  sql.NullString
		vis     string
	)
	if err := s.Scan(&h.ID, &h.TenantID, &h.MemoryID, &h.Subject, &h.KeyVersion, &h.Event,
		&h.Old, &h.New, &created, &author, &vis); err != nil {
		return nil, err
	}
	h.AuthorID, h.Private = author.String, vis == visPrivate
	h.CreatedAt = created.t
	return &h, nil
}

func (t *Tx) Vectors(ctx context.Context, tenantID, model, after string, limit int) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	return t.queryMemories(ctx,
		`SELECT `+memoryColumns+` FROM memories
		 WHERE tenant_id = ? AND vector_model = ? AND vector IS NOT NULL AND id > ? ORDER BY id LIMIT ?`,
		tenantID, model, after, limit)
}

func (t *Tx) MissingVectors(ctx context.Context, tenantID, model string, limit int) ([]store.Memory, error) {
	defer t.scope(tenantID)()
	return t.queryMemories(ctx,
		`SELECT `+memoryColumns+` FROM memories WHERE tenant_id = ? AND (vector IS NULL OR vector_model <> ?) ORDER BY id LIMIT ?`,
		tenantID, model, limit)
}

func (t *Tx) SetVector(ctx context.Context, tenantID, id string, keyVersion int, vector []byte, model string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx,
		`UPDATE memories SET vector = ?, vector_model = ? WHERE tenant_id = ? AND id = ? AND key_version = ?`,
		nullBlob(vector), model, tenantID, id, keyVersion)
	return t.mustAffect("set vector", res, err)
}

func (t *Tx) DocPostings(ctx context.Context, tenantID, after string, limit int) ([]store.DocPostings, error) {
	defer t.scope(tenantID)()
	out := []store.DocPostings{}
	if limit <= 0 {
		return out, nil
	}
	// Two queries in the caller's transaction (one snapshot): the page of
	// memories from the covering index, then their postings by memory id.
	rows, err := t.tx.QueryContext(ctx,
		`SELECT id, user_id, agent_id, run_id, doc_len, author_account_id, visibility FROM memories`+t.hint(byMemoriesStats)+`
		 WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`, tenantID, after, limit)
	if err != nil {
		return nil, t.wrapErr("doc postings", err)
	}
	byID := map[string]int{}
	for rows.Next() {
		var (
			d      store.DocPostings
			author sql.NullString
			vis    string
		)
		if err := rows.Scan(&d.MemoryID, &d.Scope.UserID, &d.Scope.AgentID, &d.Scope.RunID, &d.DocLen, &author, &vis); err != nil {
			rows.Close()
			return nil, t.wrapErr("doc postings", err)
		}
		d.AuthorID, d.Private = author.String, vis == visPrivate
		byID[d.MemoryID] = len(out)
		out = append(out, d)
	}
	if err := rows.Close(); err != nil {
		return nil, t.wrapErr("doc postings", err)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrapErr("doc postings", err)
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].MemoryID
	}
	for batch := range slices.Chunk(ids, maxParams-1) {
		args := make([]any, 0, len(batch)+1)
		for _, id := range batch {
			args = append(args, id)
		}
		args = append(args, tenantID)
		prows, err := t.tx.QueryContext(ctx,
			`SELECT memory_id, token, tf FROM postings`+t.hint(byPostingsMemory)+`
			 WHERE memory_id IN (`+placeholders(len(batch))+`) AND tenant_id = ?`, args...)
		if err != nil {
			return nil, t.wrapErr("doc postings", err)
		}
		for prows.Next() {
			var (
				id string
				p  store.Posting
			)
			if err := prows.Scan(&id, &p.Token, &p.TF); err != nil {
				prows.Close()
				return nil, t.wrapErr("doc postings", err)
			}
			if i, ok := byID[id]; ok {
				out[i].Postings = append(out[i].Postings, p)
			}
		}
		if err := prows.Close(); err != nil {
			return nil, t.wrapErr("doc postings", err)
		}
		if err := prows.Err(); err != nil {
			return nil, t.wrapErr("doc postings", err)
		}
	}
	return out, nil
}
