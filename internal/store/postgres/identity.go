package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

const loginColumns = `account_id, tenant_id, email_index, password_hash, email_verified_at, activated_at, updated_at`

func (t *tx) PutLogin(ctx context.Context, l *store.Login) error {
	defer t.scope(l.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO account_logins (`+loginColumns+`) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (account_id) DO UPDATE SET email_index = excluded.email_index,
		password_hash = excluded.password_hash, email_verified_at = excluded.email_verified_at,
		activated_at = excluded.activated_at, updated_at = excluded.updated_at`,
		l.AccountID, l.TenantID, l.EmailIndex, sql.NullString{String: l.PasswordHash, Valid: l.PasswordHash != ""},
		toNullMicros(l.EmailVerifiedAt), toNullMicros(l.ActivatedAt), toMicros(l.UpdatedAt))
	return wrapErr("put login", err)
}

func scanLogin(row interface{ Scan(...any) error }) (*store.Login, error) {
	var (
		l                   store.Login
		hash                sql.NullString
		verified, activated sql.NullTime
		updated             time.Time
	)
	if err := row.Scan(&l.AccountID, &l.TenantID, &l.EmailIndex, &hash, &verified, &activated, &updated); err != nil {
		return nil, err
	}
	l.PasswordHash = hash.String
	l.EmailVerifiedAt, l.ActivatedAt, l.UpdatedAt = fromNullMicros(verified), fromNullMicros(activated), fromMicros(updated)
	return &l, nil
}

func (t *tx) Login(ctx context.Context, tenantID, accountID string) (*store.Login, error) {
	defer t.scope(tenantID)()
	l, err := scanLogin(t.tx.QueryRowContext(ctx, `SELECT `+loginColumns+` FROM account_logins
		WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID))
	return l, wrapErr("get login", err)
}

func (t *tx) LoginsByEmail(ctx context.Context, emailIndex []byte) ([]store.Login, error) {
	defer t.scopeAll()()
	rows, err := t.tx.QueryContext(ctx, `SELECT `+loginColumns+` FROM account_logins
		WHERE email_index = ? ORDER BY account_id`, emailIndex)
	if err != nil {
		return nil, wrapErr("logins by email", err)
	}
	defer rows.Close()
	var out []store.Login
	for rows.Next() {
		l, err := scanLogin(rows)
		if err != nil {
			return nil, wrapErr("logins by email", err)
		}
		out = append(out, *l)
	}
	return out, wrapErr("logins by email", rows.Err())
}

func (t *tx) Members(ctx context.Context, tenantID string) ([]store.Member, error) {
	defer t.scope(tenantID)()
	rows, err := t.tx.QueryContext(ctx, `SELECT a.id, a.tenant_id, a.role, a.subject, a.key_version, a.name, a.email,
		a.created_at, l.account_id, l.tenant_id, l.email_index, l.password_hash, l.email_verified_at, l.activated_at,
		l.updated_at
		FROM accounts a LEFT JOIN account_logins l ON l.account_id = a.id
		WHERE a.tenant_id = ? ORDER BY a.created_at, a.id`, tenantID)
	if err != nil {
		return nil, wrapErr("members", err)
	}
	defer rows.Close()
	var out []store.Member
	for rows.Next() {
		var (
			m                   store.Member
			created             time.Time
			lAcct, lTenant      sql.NullString
			idx                 []byte
			hash                sql.NullString
			verified, activated sql.NullTime
			updated             sql.NullTime
		)
		a := &m.Account
		if err := rows.Scan(&a.ID, &a.TenantID, &a.Role, &a.Subject, &a.KeyVersion, &a.Name, &a.Email, &created,
			&lAcct, &lTenant, &idx, &hash, &verified, &activated, &updated); err != nil {
			return nil, wrapErr("members", err)
		}
		a.CreatedAt = fromMicros(created)
		if lAcct.Valid {
			m.Login = &store.Login{AccountID: lAcct.String, TenantID: lTenant.String, EmailIndex: idx,
				PasswordHash: hash.String, EmailVerifiedAt: fromNullMicros(verified), ActivatedAt: fromNullMicros(activated),
				UpdatedAt: fromMicros(updated.Time)}
		}
		out = append(out, m)
	}
	return out, wrapErr("members", rows.Err())
}

func (t *tx) CountOwners(ctx context.Context, tenantID string) (int, error) {
	defer t.scope(tenantID)()
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts a LEFT JOIN account_logins l ON l.account_id = a.id
		WHERE a.tenant_id = ? AND a.role = 'owner' AND (l.account_id IS NULL OR l.activated_at IS NOT NULL)`,
		tenantID).Scan(&n)
	return n, wrapErr("count owners", err)
}

func (t *tx) SetRole(ctx context.Context, tenantID, accountID, role string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `UPDATE accounts SET role = ? WHERE tenant_id = ? AND id = ?`, role, tenantID, accountID)
	return mustAffect("set role", res, err)
}

func (t *tx) DeleteAccount(ctx context.Context, tenantID, accountID string) error {
	defer t.scope(tenantID)()
	// The foreign keys cascade to the login, tokens, sessions and keys.
	res, err := t.tx.ExecContext(ctx, `DELETE FROM accounts WHERE tenant_id = ? AND id = ?`, tenantID, accountID)
	return mustAffect("delete account", res, err)
}

func (t *tx) PutAccountToken(ctx context.Context, a *store.AccountToken) error {
	defer t.scope(a.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO account_tokens (digest, tenant_id, account_id, purpose, created_at,
		expires_at, used_at) VALUES (?,?,?,?,?,?,?)`, a.Digest, a.TenantID, a.AccountID, a.Purpose,
		toMicros(a.CreatedAt), toMicros(a.ExpiresAt), toNullMicros(a.UsedAt))
	return wrapErr("put account token", err)
}

func (t *tx) AccountToken(ctx context.Context, digest []byte) (*store.AccountToken, error) {
	defer t.scopeAll()()
	var (
		a                store.AccountToken
		created, expires time.Time
		used             sql.NullTime
	)
	err := t.tx.QueryRowContext(ctx, `SELECT digest, tenant_id, account_id, purpose, created_at, expires_at, used_at
		FROM account_tokens WHERE digest = ?`, digest).Scan(&a.Digest, &a.TenantID, &a.AccountID, &a.Purpose,
		&created, &expires, &used)
	if err != nil {
		return nil, wrapErr("get account token", err)
	}
	a.CreatedAt, a.ExpiresAt, a.UsedAt = fromMicros(created), fromMicros(expires), fromNullMicros(used)
	return &a, nil
}

func (t *tx) UseAccountToken(ctx context.Context, digest []byte, at time.Time) (bool, error) {
	defer t.scopeAll()()
	return casUpdate(ctx, t, "use account token",
		`UPDATE account_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL`, toMicros(at), digest)
}

func (t *tx) DropAccountTokens(ctx context.Context, tenantID, accountID, purpose string) error {
	defer t.scope(tenantID)()
	_, err := t.tx.ExecContext(ctx, `DELETE FROM account_tokens WHERE tenant_id = ? AND account_id = ? AND purpose = ?
		AND used_at IS NULL`, tenantID, accountID, purpose)
	return wrapErr("drop account tokens", err)
}

// casUpdate runs a compare-and-set update and reports whether it changed
// a row.
func casUpdate(ctx context.Context, t *tx, op, query string, args ...any) (bool, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, wrapErr(op, err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrapErr(op, err)
}

const familyColumns = `id, tenant_id, account_id, method, scopes, client_id, created_at, revoked_at, revoke_reason`

func (t *tx) InsertSessionFamily(ctx context.Context, f *store.SessionFamily) error {
	defer t.scope(f.TenantID)()
	var scopes sql.NullString
	if f.Scopes != nil {
		b, err := json.Marshal(f.Scopes)
		if err != nil {
			return err
		}
		scopes = sql.NullString{String: string(b), Valid: true}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO session_families (`+familyColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`,
		f.ID, f.TenantID, f.AccountID, f.Method, scopes, f.ClientID, toMicros(f.CreatedAt), toNullMicros(f.RevokedAt),
		string(f.RevokeReason))
	return wrapErr("insert session family", err)
}

func scanFamily(row interface{ Scan(...any) error }) (*store.SessionFamily, error) {
	var (
		f       store.SessionFamily
		scopes  sql.NullString
		created time.Time
		revoked sql.NullTime
		reason  string
	)
	if err := row.Scan(&f.ID, &f.TenantID, &f.AccountID, &f.Method, &scopes, &f.ClientID, &created, &revoked,
		&reason); err != nil {
		return nil, err
	}
	if scopes.Valid {
		f.Scopes = []string{}
		if err := json.Unmarshal([]byte(scopes.String), &f.Scopes); err != nil {
			return nil, err
		}
	}
	f.CreatedAt, f.RevokedAt, f.RevokeReason = fromMicros(created), fromNullMicros(revoked), session.Reason(reason)
	return &f, nil
}

func (t *tx) SessionFamily(ctx context.Context, id string) (*store.SessionFamily, error) {
	defer t.scopeAll()()
	f, err := scanFamily(t.tx.QueryRowContext(ctx, `SELECT `+familyColumns+` FROM session_families WHERE id = ?`, id))
	return f, wrapErr("get session family", err)
}

func (t *tx) SessionFamilies(ctx context.Context, tenantID, accountID string) ([]store.SessionFamily, error) {
	defer t.scope(tenantID)()
	rows, err := t.tx.QueryContext(ctx, `SELECT `+familyColumns+` FROM session_families
		WHERE tenant_id = ? AND account_id = ? ORDER BY created_at DESC, id`, tenantID, accountID)
	if err != nil {
		return nil, wrapErr("session families", err)
	}
	defer rows.Close()
	var out []store.SessionFamily
	for rows.Next() {
		f, err := scanFamily(rows)
		if err != nil {
			return nil, wrapErr("session families", err)
		}
		out = append(out, *f)
	}
	return out, wrapErr("session families", rows.Err())
}

func (t *tx) RevokeSessions(ctx context.Context, r session.Revocation) (int, error) {
	defer t.scopeAll()()
	q := `UPDATE session_families SET revoked_at = ?, revoke_reason = ?
		WHERE tenant_id = ? AND account_id = ? AND revoked_at IS NULL`
	args := []any{toMicros(r.At), string(r.Reason), r.TenantID, r.AccountID}
	if r.FamilyID != "" {
		q += ` AND id = ?`
		args = append(args, r.FamilyID)
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, wrapErr("revoke sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrapErr("revoke sessions", err)
}

func (t *tx) InsertRefreshToken(ctx context.Context, r *session.RefreshToken) error {
	defer t.scopeAll()()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO refresh_tokens (digest, family_id, generation, issued_at, expires_at,
		spent_at) VALUES (?,?,?,?,?,?)`, r.Digest, r.FamilyID, r.Generation, toMicros(r.IssuedAt), toMicros(r.ExpiresAt),
		toNullMicros(r.SpentAt))
	return wrapErr("insert refresh token", err)
}

func (t *tx) RefreshToken(ctx context.Context, digest []byte) (*session.RefreshToken, error) {
	defer t.scopeAll()()
	var (
		r               session.RefreshToken
		issued, expires time.Time
		spent           sql.NullTime
	)
	err := t.tx.QueryRowContext(ctx, `SELECT digest, family_id, generation, issued_at, expires_at, spent_at
		FROM refresh_tokens WHERE digest = ?`, digest).Scan(&r.Digest, &r.FamilyID, &r.Generation, &issued, &expires, &spent)
	if err != nil {
		return nil, wrapErr("get refresh token", err)
	}
	r.IssuedAt, r.ExpiresAt, r.SpentAt = fromMicros(issued), fromMicros(expires), fromNullMicros(spent)
	return &r, nil
}

func (t *tx) SpendRefreshToken(ctx context.Context, digest []byte, at time.Time) (bool, error) {
	defer t.scopeAll()()
	return casUpdate(ctx, t, "spend refresh token",
		`UPDATE refresh_tokens SET spent_at = ? WHERE digest = ? AND spent_at IS NULL`, toMicros(at), digest)
}

func (t *tx) InsertAccessToken(ctx context.Context, a *session.AccessToken) error {
	defer t.scope(a.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO access_tokens (digest, family_id, tenant_id, account_id, issued_at,
		expires_at) VALUES (?,?,?,?,?,?)`, a.Digest, a.FamilyID, a.TenantID, a.AccountID, toMicros(a.IssuedAt),
		toMicros(a.ExpiresAt))
	return wrapErr("insert access token", err)
}

func (t *tx) AccessToken(ctx context.Context, digest []byte) (*session.AccessToken, error) {
	defer t.scopeAll()()
	var (
		a               session.AccessToken
		issued, expires time.Time
	)
	err := t.tx.QueryRowContext(ctx, `SELECT digest, family_id, tenant_id, account_id, issued_at, expires_at
		FROM access_tokens WHERE digest = ?`, digest).Scan(&a.Digest, &a.FamilyID, &a.TenantID, &a.AccountID, &issued, &expires)
	if err != nil {
		return nil, wrapErr("get access token", err)
	}
	a.IssuedAt, a.ExpiresAt = fromMicros(issued), fromMicros(expires)
	return &a, nil
}

func (t *tx) SweepIdentity(ctx context.Context, now time.Time) (int, error) {
	defer t.scopeAll()()
	total := 0
	for _, q := range []string{
		`DELETE FROM access_tokens WHERE expires_at <= ?`,
		`DELETE FROM refresh_tokens WHERE expires_at <= ?`,
		`DELETE FROM account_tokens WHERE expires_at <= ?`,
		// A family with no token left can do nothing more; its row goes
		// once its last refresh token expired.
		`DELETE FROM session_families WHERE created_at <= ? AND NOT EXISTS
			(SELECT 1 FROM refresh_tokens r WHERE r.family_id = session_families.id)
			AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = session_families.id)`,
	} {
		res, err := t.tx.ExecContext(ctx, q, toMicros(now))
		if err != nil {
			return total, wrapErr("sweep identity", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}
