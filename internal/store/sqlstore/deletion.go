package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

const deletionColumns = `tenant_id, id, kind, subject_id, subject_ref, state, requested_at, scheduled_at, ended_at`

func (t *Tx) PutDeletion(ctx context.Context, d *store.Deletion) error {
	defer t.scope(d.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO deletions (`+deletionColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		d.TenantID, d.ID, d.Kind, d.SubjectID, d.SubjectRef, d.State, t.at(d.RequestedAt), t.at(d.ScheduledAt),
		t.atOrNil(d.EndedAt))
	return t.wrapErr("put deletion", err)
}

func (t *Tx) PendingDeletion(ctx context.Context, tenantID, kind, subjectID string) (*store.Deletion, error) {
	defer t.scope(tenantID)()
	ds, err := t.queryDeletions(ctx, `SELECT `+deletionColumns+` FROM deletions
		WHERE tenant_id = ? AND kind = ? AND subject_id = ? AND state = 'pending'`, tenantID, kind, subjectID)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, t.wrapErr("pending deletion", sql.ErrNoRows)
	}
	return &ds[0], nil
}

func (t *Tx) PendingDeletions(ctx context.Context, tenantID string, limit int) ([]store.Deletion, error) {
	defer t.scope(tenantID)()
	return t.queryDeletions(ctx, `SELECT `+deletionColumns+` FROM deletions
		WHERE tenant_id = ? AND state = 'pending' ORDER BY scheduled_at, id LIMIT ?`, tenantID, limit)
}

func (t *Tx) DueDeletions(ctx context.Context, now time.Time, limit int) ([]store.Deletion, error) {
	defer t.scopeAll()()
	return t.queryDeletions(ctx, `SELECT `+deletionColumns+` FROM deletions`+t.hint(byDeletionsDue)+`
		WHERE state = 'pending' AND scheduled_at <= ? ORDER BY scheduled_at, tenant_id, id LIMIT ?`, t.at(now), limit)
}

func (t *Tx) EndDeletion(ctx context.Context, tenantID, id, state string, at time.Time) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `UPDATE deletions SET state = ?, subject_id = '', ended_at = ?
		WHERE tenant_id = ? AND id = ? AND state = 'pending'`, state, t.at(at), tenantID, id)
	return t.mustAffect("end deletion", res, err)
}

func (t *Tx) queryDeletions(ctx context.Context, q string, args ...any) ([]store.Deletion, error) {
	return queryRows(ctx, t, "list deletions", scanDeletion, q, args...)
}

func scanDeletion(s scanner) (*store.Deletion, error) {
	var (
		d                    store.Deletion
		requested, scheduled stamp
		ended                nullStamp
	)
	err := s.Scan(&d.TenantID, &d.ID, &d.Kind, &d.SubjectID, &d.SubjectRef, &d.State, &requested, &scheduled, &ended)
	d.RequestedAt, d.ScheduledAt, d.EndedAt = requested.t, scheduled.t, ended.ptr()
	return &d, err
}

func (t *Tx) EraseAccount(ctx context.Context, tenantID, accountID, subject string) (*store.AccountErasure, error) {
	defer t.scope(tenantID)()
	out := &store.AccountErasure{}
	// What its own key seals: private memories, their history, episodes
	// and facts without a user, the account's sealed name and email. The
	// key goes with them.
	own, err := t.DeleteSubject(ctx, tenantID, subject)
	if err != nil {
		return nil, err
	}
	out.Erasure = *own
	// Memories it wrote for others (under an end user's key, which
	// covers more than this account: rows removed, key kept).
	authored := `SELECT id FROM memories WHERE tenant_id = ? AND author_account_id = ?`
	for _, s := range []struct {
		n     *int
		op, q string
	}{
		{nil, "erase authored postings", `DELETE FROM postings WHERE tenant_id = ? AND memory_id IN (` + authored + `)`},
		{nil, "erase authored mentions", `DELETE FROM entity_mentions WHERE tenant_id = ? AND memory_id IN (` + authored + `)`},
		{nil, "erase authored topics", `DELETE FROM memory_topics WHERE tenant_id = ? AND memory_id IN (` + authored + `)`},
	} {
		if _, err := t.count(ctx, s.op, s.q, tenantID, tenantID, accountID); err != nil {
			return nil, err
		}
	}
	n, err := t.count(ctx, "erase authored memories", `DELETE FROM memories WHERE tenant_id = ? AND author_account_id = ?`, tenantID, accountID)
	if err != nil {
		return nil, err
	}
	out.Memories += n
	if n, err = t.count(ctx, "erase authored history", `DELETE FROM history WHERE tenant_id = ? AND author_account_id = ?`, tenantID, accountID); err != nil {
		return nil, err
	}
	out.History += n
	// Counted before the account row goes: its foreign keys cascade to
	// the login, tokens, sessions and keys, but the receipt counts them.
	if out.APIKeys, err = t.count(ctx, "erase account keys", `DELETE FROM api_keys WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID); err != nil {
		return nil, err
	}
	if out.Sessions, err = t.count(ctx, "erase account sessions", `DELETE FROM session_families WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID); err != nil {
		return nil, err
	}
	// Authorization codes name the account but do not reference it.
	if _, err := t.count(ctx, "erase account oauth codes", `DELETE FROM oauth_codes WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID); err != nil {
		return nil, err
	}
	// The row may be gone already (an admin removed the member): what
	// it authored is erased all the same.
	n, err = t.count(ctx, "erase account", `DELETE FROM accounts WHERE tenant_id = ? AND id = ?`, tenantID, accountID)
	if err != nil {
		return nil, err
	}
	out.Accounts = n
	return out, nil
}
