package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/engram-memory/engram/internal/store"
)

const episodeColumns = `id, tenant_id, user_id, agent_id, run_id, subject, key_version, status, extractor,
	messages, result, error_code, attempts, created_at, updated_at`

func (t *Tx) InsertEpisode(ctx context.Context, e *store.Episode) error {
	defer t.scope(e.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO episodes (`+episodeColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID, e.TenantID, e.UserID, e.AgentID, e.RunID, e.Subject, e.KeyVersion, e.Status, e.Extractor,
		nullBlob(e.Messages), string(orEmptyJSON(e.Result)), e.ErrorCode, e.Attempts, t.at(e.CreatedAt), t.at(e.UpdatedAt))
	return t.wrapErr("insert episode", err)
}

func orEmptyJSON(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

func scanEpisode(row scanner) (*store.Episode, error) {
	var (
		e            store.Episode
		result       string
		created, upd stamp
		messages     []byte
	)
	if err := row.Scan(&e.ID, &e.TenantID, &e.UserID, &e.AgentID, &e.RunID, &e.Subject, &e.KeyVersion, &e.Status,
		&e.Extractor, &messages, &result, &e.ErrorCode, &e.Attempts, &created, &upd); err != nil {
		return nil, err
	}
	e.Messages = messages
	e.Result = []byte(result)
	e.CreatedAt, e.UpdatedAt = created.t, upd.t
	return &e, nil
}

func (t *Tx) Episode(ctx context.Context, tenantID, id string) (*store.Episode, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get episode", scanEpisode, t.tx.QueryRowContext(ctx,
		`SELECT `+episodeColumns+` FROM episodes WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

func (t *Tx) UpdateEpisode(ctx context.Context, e *store.Episode) error {
	defer t.scope(e.TenantID)()
	res, err := t.tx.ExecContext(ctx, `UPDATE episodes SET status = ?, extractor = ?, messages = ?, key_version = ?,
		result = ?, error_code = ?, attempts = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		e.Status, e.Extractor, nullBlob(e.Messages), e.KeyVersion, string(orEmptyJSON(e.Result)), e.ErrorCode,
		e.Attempts, t.at(e.UpdatedAt), e.TenantID, e.ID)
	return t.mustAffect("update episode", res, err)
}

func (t *Tx) episodes(ctx context.Context, op, q string, args ...any) ([]store.Episode, error) {
	return queryRows(ctx, t, op, scanEpisode, q, args...)
}

func (t *Tx) ListEpisodes(ctx context.Context, tenantID, userID, agentID, runID, before string, limit int) ([]store.Episode, error) {
	defer t.scope(tenantID)()
	q := `SELECT ` + episodeColumns + ` FROM episodes WHERE tenant_id = ?`
	args := []any{tenantID}
	for _, c := range []struct{ col, v string }{{"user_id", userID}, {"agent_id", agentID}, {"run_id", runID}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if before != "" {
		q += ` AND id < ?`
		args = append(args, before)
	}
	return t.episodes(ctx, "list episodes", q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
}

func (t *Tx) PendingEpisodes(ctx context.Context, limit int) ([]store.Episode, error) {
	defer t.scopeAll()()
	return t.episodes(ctx, "pending episodes",
		`SELECT `+episodeColumns+` FROM episodes WHERE status = 'pending' ORDER BY id LIMIT ?`, limit)
}

const entityColumns = `id, tenant_id, user_id, subject, key_version, type, body, mentions, created_at, updated_at`

func (t *Tx) InsertEntity(ctx context.Context, e *store.Entity, keys [][]byte) error {
	defer t.scope(e.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO entities (`+entityColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		e.ID, e.TenantID, e.UserID, e.Subject, e.KeyVersion, e.Type, e.Body, e.Mentions,
		t.at(e.CreatedAt), t.at(e.UpdatedAt))
	if err != nil {
		return t.wrapErr("insert entity", err)
	}
	return t.putEntityKeys(ctx, e.TenantID, e.UserID, e.ID, keys)
}

// putEntityKeys indexes an entity of userID under keys.
func (t *Tx) putEntityKeys(ctx context.Context, tenantID, userID, entityID string, keys [][]byte) error {
	for batch := range slices.Chunk(keys, maxParams/4) {
		var sb strings.Builder
		args := make([]any, 0, 4*len(batch))
		sb.WriteString(`INSERT INTO entity_keys (tenant_id, user_id, token, entity_id) VALUES `)
		for i, k := range batch {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?,?)")
			args = append(args, tenantID, userID, k, entityID)
		}
		sb.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := t.tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return t.wrapErr("insert entity keys", err)
		}
	}
	return nil
}

func (t *Tx) UpdateEntity(ctx context.Context, e *store.Entity, keys [][]byte) error {
	defer t.scope(e.TenantID)()
	res, err := t.tx.ExecContext(ctx, `UPDATE entities SET type = ?, body = ?, key_version = ?, mentions = ?,
		updated_at = ? WHERE tenant_id = ? AND id = ?`,
		e.Type, e.Body, e.KeyVersion, e.Mentions, t.at(e.UpdatedAt), e.TenantID, e.ID)
	if err := t.mustAffect("update entity", res, err); err != nil {
		return err
	}
	if keys == nil {
		return nil
	}
	// The keys are indexed under the stored user, which an update does not
	// rewrite, whatever e.UserID says.
	var userID string
	if err := t.tx.QueryRowContext(ctx, `SELECT user_id FROM entities WHERE tenant_id = ? AND id = ?`,
		e.TenantID, e.ID).Scan(&userID); err != nil {
		return t.wrapErr("update entity", err)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM entity_keys WHERE tenant_id = ? AND entity_id = ?`, e.TenantID, e.ID); err != nil {
		return t.wrapErr("replace entity keys", err)
	}
	return t.putEntityKeys(ctx, e.TenantID, userID, e.ID, keys)
}

func scanEntity(row scanner) (*store.Entity, error) {
	var (
		e            store.Entity
		created, upd stamp
	)
	if err := row.Scan(&e.ID, &e.TenantID, &e.UserID, &e.Subject, &e.KeyVersion, &e.Type, &e.Body, &e.Mentions,
		&created, &upd); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = created.t, upd.t
	return &e, nil
}

func (t *Tx) Entity(ctx context.Context, tenantID, id string) (*store.Entity, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get entity", scanEntity, t.tx.QueryRowContext(ctx,
		`SELECT `+entityColumns+` FROM entities WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

func (t *Tx) entities(ctx context.Context, op, q string, args ...any) ([]store.Entity, error) {
	return queryRows(ctx, t, op, scanEntity, q, args...)
}

func (t *Tx) Entities(ctx context.Context, tenantID string, ids []string) ([]store.Entity, error) {
	defer t.scope(tenantID)()
	out := []store.Entity{}
	for batch := range slices.Chunk(ids, maxParams) {
		args := append([]any{tenantID}, anys(batch)...)
		es, err := t.entities(ctx, "get entities", `SELECT `+entityColumns+` FROM entities WHERE tenant_id = ? AND id IN (`+
			placeholders(len(batch))+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func (t *Tx) EntitiesByKeys(ctx context.Context, tenantID, userID string, tokens [][]byte) ([]string, error) {
	defer t.scope(tenantID)()
	seen := map[string]bool{}
	for batch := range slices.Chunk(tokens, maxParams) {
		args := append([]any{tenantID, userID}, anys(batch)...)
		rows, err := t.tx.QueryContext(ctx, `SELECT DISTINCT entity_id FROM entity_keys WHERE tenant_id = ? AND user_id = ?
			AND token IN (`+placeholders(len(batch))+`)`, args...)
		if err != nil {
			return nil, t.wrapErr("entities by keys", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, t.wrapErr("entities by keys", err)
			}
			seen[id] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, t.wrapErr("entities by keys", err)
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

func (t *Tx) ListEntities(ctx context.Context, tenantID, userID string, all bool, typ, before string, limit int) ([]store.Entity, error) {
	defer t.scope(tenantID)()
	q := `SELECT ` + entityColumns + ` FROM entities WHERE tenant_id = ?`
	args := []any{tenantID}
	if !all {
		q += ` AND user_id = ?`
		args = append(args, userID)
	}
	if typ != "" {
		q += ` AND type = ?`
		args = append(args, typ)
	}
	if before != "" {
		q += ` AND id < ?`
		args = append(args, before)
	}
	return t.entities(ctx, "list entities", q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...)
}

func (t *Tx) DeleteEntity(ctx context.Context, tenantID, id string) (*store.EntityErasure, error) {
	defer t.scope(tenantID)()
	var (
		e   store.EntityErasure
		err error
	)
	// Not found before anything is deleted: facts name entities by id
	// alone, and another tenant's facts naming the same id are not ours to
	// delete, even in a transaction that commits after the error.
	var one int
	if err := t.tx.QueryRowContext(ctx, `SELECT 1 FROM entities WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&one); err != nil {
		return nil, t.wrapErr("forget entity", err)
	}
	if e.Facts, err = t.count(ctx, "forget entity facts",
		`DELETE FROM facts WHERE tenant_id = ? AND (subject_entity = ? OR object_entity = ?)`, tenantID, id, id); err != nil {
		return nil, err
	}
	if e.Mentions, err = t.count(ctx, "forget entity mentions",
		`DELETE FROM entity_mentions WHERE tenant_id = ? AND entity_id = ?`, tenantID, id); err != nil {
		return nil, err
	}
	if _, err = t.count(ctx, "forget entity keys",
		`DELETE FROM entity_keys WHERE tenant_id = ? AND entity_id = ?`, tenantID, id); err != nil {
		return nil, err
	}
	res, err := t.tx.ExecContext(ctx, `DELETE FROM entities WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err := t.mustAffect("forget entity", res, err); err != nil {
		return nil, err
	}
	if e.Keys, err = t.count(ctx, "forget entity key",
		`DELETE FROM wrapped_keys WHERE tenant_id = ? AND purpose = ? AND owner = ?`,
		tenantID, store.PurposeSubject, "e:"+id); err != nil {
		return nil, err
	}
	return &e, nil
}

const factColumns = `id, tenant_id, user_id, agent_id, run_id, subject, key_version, subject_entity, object_entity,
	predicate_tok, body, episodes, valid_at, invalid_at, created_at, expired_at, vector, vector_model`

func (t *Tx) InsertFact(ctx context.Context, f *store.Fact) error {
	defer t.scope(f.TenantID)()
	eps, err := json.Marshal(orNone(f.Episodes))
	if err != nil {
		return fmt.Errorf("insert fact: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO facts (`+factColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		f.ID, f.TenantID, f.UserID, f.AgentID, f.RunID, f.Subject, f.KeyVersion, f.SubjectEntity, f.ObjectEntity,
		f.PredicateTok, f.Body, string(eps), t.at(f.ValidAt), t.atOrNil(f.InvalidAt), t.at(f.CreatedAt),
		t.atOrNil(f.ExpiredAt), nullBlob(f.Vector), f.VectorModel)
	return t.wrapErr("insert fact", err)
}

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (t *Tx) UpdateFact(ctx context.Context, f *store.Fact) error {
	defer t.scope(f.TenantID)()
	eps, err := json.Marshal(orNone(f.Episodes))
	if err != nil {
		return fmt.Errorf("update fact: %w", err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE facts SET subject = ?, key_version = ?, subject_entity = ?, object_entity = ?,
		predicate_tok = ?, body = ?, episodes = ?, valid_at = ?, invalid_at = ?, created_at = ?, expired_at = ?,
		vector = ?, vector_model = ? WHERE tenant_id = ? AND id = ?`,
		f.Subject, f.KeyVersion, f.SubjectEntity, f.ObjectEntity, f.PredicateTok, f.Body, string(eps),
		t.at(f.ValidAt), t.atOrNil(f.InvalidAt), t.at(f.CreatedAt), t.atOrNil(f.ExpiredAt),
		nullBlob(f.Vector), f.VectorModel, f.TenantID, f.ID)
	return t.mustAffect("update fact", res, err)
}

func scanFact(row scanner) (*store.Fact, error) {
	var (
		f                store.Fact
		eps              string
		valid, created   stamp
		invalid, expired nullStamp
	)
	if err := row.Scan(&f.ID, &f.TenantID, &f.UserID, &f.AgentID, &f.RunID, &f.Subject, &f.KeyVersion, &f.SubjectEntity,
		&f.ObjectEntity, &f.PredicateTok, &f.Body, &eps, &valid, &invalid, &created, &expired, &f.Vector,
		&f.VectorModel); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(eps), &f.Episodes); err != nil {
		return nil, fmt.Errorf("fact episodes: %w", err)
	}
	f.ValidAt, f.CreatedAt = valid.t, created.t
	f.InvalidAt, f.ExpiredAt = invalid.ptr(), expired.ptr()
	return &f, nil
}

func (t *Tx) Fact(ctx context.Context, tenantID, id string) (*store.Fact, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get fact", scanFact, t.tx.QueryRowContext(ctx,
		`SELECT `+factColumns+` FROM facts WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

func (t *Tx) facts(ctx context.Context, op, q string, args ...any) ([]store.Fact, error) {
	return queryRows(ctx, t, op, scanFact, q, args...)
}

func (t *Tx) FactsOf(ctx context.Context, tenantID string, entityIDs []string) ([]store.Fact, error) {
	defer t.scope(tenantID)()
	seen := map[string]bool{}
	out := []store.Fact{}
	for batch := range slices.Chunk(entityIDs, maxParams/2) {
		ph := placeholders(len(batch))
		args := append(append([]any{tenantID}, anys(batch)...), anys(batch)...)
		fs, err := t.facts(ctx, "facts of entities", `SELECT `+factColumns+` FROM facts WHERE tenant_id = ?
			AND (subject_entity IN (`+ph+`) OR object_entity IN (`+ph+`)) ORDER BY id`, args...)
		if err != nil {
			return nil, err
		}
		for _, f := range fs {
			if !seen[f.ID] {
				seen[f.ID] = true
				out = append(out, f)
			}
		}
	}
	slices.SortFunc(out, func(a, b store.Fact) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *Tx) ListFacts(ctx context.Context, tenantID string, f store.FactFilter) ([]store.Fact, error) {
	defer t.scope(tenantID)()
	q := `SELECT ` + factColumns + ` FROM facts WHERE tenant_id = ?`
	args := []any{tenantID}
	if !f.AllUsers {
		q += ` AND user_id = ?`
		args = append(args, f.UserID)
	}
	if f.EntityID != "" {
		q += ` AND (subject_entity = ? OR object_entity = ?)`
		args = append(args, f.EntityID, f.EntityID)
	}
	if len(f.PredicateTok) > 0 {
		q += ` AND predicate_tok = ?`
		args = append(args, f.PredicateTok)
	}
	if f.Current {
		q += ` AND invalid_at IS NULL AND expired_at IS NULL`
	}
	if f.TrueAt != nil {
		q += ` AND valid_at <= ? AND (invalid_at IS NULL OR invalid_at > ?)`
		args = append(args, t.at(*f.TrueAt), t.at(*f.TrueAt))
	}
	if f.Before != "" {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	return t.facts(ctx, "list facts", q+` ORDER BY id DESC LIMIT ?`, append(args, f.Limit)...)
}

func (t *Tx) DeleteFact(ctx context.Context, tenantID, id string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM facts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return t.mustAffect("delete fact", res, err)
}

func (t *Tx) MoveEntityFacts(ctx context.Context, tenantID, from, to string) error {
	defer t.scope(tenantID)()
	if _, err := t.tx.ExecContext(ctx, `UPDATE facts SET subject_entity = ? WHERE tenant_id = ? AND subject_entity = ?`,
		to, tenantID, from); err != nil {
		return t.wrapErr("move entity facts", err)
	}
	_, err := t.tx.ExecContext(ctx, `UPDATE facts SET object_entity = ? WHERE tenant_id = ? AND object_entity = ?`,
		to, tenantID, from)
	return t.wrapErr("move entity facts", err)
}

func (t *Tx) AddMentions(ctx context.Context, tenantID string, ms []store.EntityMention) error {
	defer t.scope(tenantID)()
	for batch := range slices.Chunk(ms, maxParams/3) {
		var sb strings.Builder
		args := make([]any, 0, 3*len(batch))
		sb.WriteString(`INSERT INTO entity_mentions (tenant_id, entity_id, memory_id) VALUES `)
		for i, m := range batch {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?,?)")
			args = append(args, tenantID, m.EntityID, m.MemoryID)
		}
		sb.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := t.tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return t.wrapErr("add mentions", err)
		}
	}
	return nil
}

func (t *Tx) MentionedIn(ctx context.Context, tenantID string, entityIDs []string, limit int) ([]store.EntityMention, error) {
	defer t.scope(tenantID)()
	out := []store.EntityMention{}
	for batch := range slices.Chunk(entityIDs, maxParams) {
		args := append(append([]any{tenantID}, anys(batch)...), limit)
		var err error
		out, err = appendRows(ctx, t, out, "mentioned in", func(s scanner) (*store.EntityMention, error) {
			var m store.EntityMention
			return &m, s.Scan(&m.EntityID, &m.MemoryID)
		}, `SELECT entity_id, memory_id FROM entity_mentions WHERE tenant_id = ?
			AND entity_id IN (`+placeholders(len(batch))+`) ORDER BY memory_id DESC, entity_id LIMIT ?`, args...)
		if err != nil {
			return nil, err
		}
	}
	// Each batch kept its own newest limit: merge them into one.
	slices.SortFunc(out, func(a, b store.EntityMention) int {
		if c := strings.Compare(b.MemoryID, a.MemoryID); c != 0 {
			return c
		}
		return strings.Compare(a.EntityID, b.EntityID)
	})
	return out[:min(len(out), max(limit, 0))], nil
}

func (t *Tx) MoveMentions(ctx context.Context, tenantID, from, to string) error {
	defer t.scope(tenantID)()
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO entity_mentions (tenant_id, entity_id, memory_id)
		SELECT tenant_id, CAST(? AS TEXT), memory_id FROM entity_mentions WHERE tenant_id = ? AND entity_id = ?
		ON CONFLICT DO NOTHING`, to, tenantID, from); err != nil {
		return t.wrapErr("move mentions", err)
	}
	_, err := t.tx.ExecContext(ctx, `DELETE FROM entity_mentions WHERE tenant_id = ? AND entity_id = ?`, tenantID, from)
	return t.wrapErr("move mentions", err)
}

func (t *Tx) SetTopics(ctx context.Context, tenantID, memoryID, userID string, tokens [][]byte) error {
	defer t.scope(tenantID)()
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM memory_topics WHERE tenant_id = ? AND memory_id = ?`, tenantID, memoryID); err != nil {
		return t.wrapErr("set topics", err)
	}
	for _, tok := range tokens {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO memory_topics (tenant_id, memory_id, user_id, token)
			VALUES (?,?,?,?) ON CONFLICT DO NOTHING`, tenantID, memoryID, userID, tok); err != nil {
			return t.wrapErr("set topics", err)
		}
	}
	return nil
}

func (t *Tx) TopicCounts(ctx context.Context, tenantID, userID string, all bool) ([]store.TopicCount, error) {
	defer t.scope(tenantID)()
	q := `SELECT token, COUNT(*) FROM memory_topics WHERE tenant_id = ?`
	args := []any{tenantID}
	if !all {
		q += ` AND user_id = ?`
		args = append(args, userID)
	}
	return queryRows(ctx, t, "topic counts", func(s scanner) (*store.TopicCount, error) {
		var c store.TopicCount
		return &c, s.Scan(&c.Token, &c.Memories)
	}, q+` GROUP BY token ORDER BY token`, args...)
}

func (t *Tx) TenantSetting(ctx context.Context, tenantID, name string) (string, error) {
	defer t.scope(tenantID)()
	var v string
	err := t.tx.QueryRowContext(ctx, `SELECT value FROM tenant_settings WHERE tenant_id = ? AND name = ?`, tenantID, name).Scan(&v)
	if err != nil {
		return "", t.wrapErr("tenant setting", err)
	}
	return v, nil
}

func (t *Tx) PutTenantSetting(ctx context.Context, tenantID, name, value string) error {
	defer t.scope(tenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, name, value) VALUES (?,?,?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET value = excluded.value`, tenantID, name, value)
	return t.wrapErr("put tenant setting", err)
}
