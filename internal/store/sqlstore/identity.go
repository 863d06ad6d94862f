package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

const loginColumns = `account_id, tenant_id, email_index, password_hash, email_verified_at, activated_at, updated_at`

func (t *Tx) PutLogin(ctx context.Context, l *store.Login) error {
	defer t.scope(l.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO account_logins (`+loginColumns+`) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (account_id) DO UPDATE SET email_index = excluded.email_index,
		password_hash = excluded.password_hash, email_verified_at = excluded.email_verified_at,
		activated_at = excluded.activated_at, updated_at = excluded.updated_at`,
		l.AccountID, l.TenantID, l.EmailIndex, sql.NullString{String: l.PasswordHash, Valid: l.PasswordHash != ""},
		t.atOrNil(l.EmailVerifiedAt), t.atOrNil(l.ActivatedAt), t.at(l.UpdatedAt))
	return t.wrapErr("put login", err)
}

func scanLogin(row scanner) (*store.Login, error) {
	var (
		l                   store.Login
		hash                sql.NullString
		verified, activated nullStamp
		updated             stamp
	)
	if err := row.Scan(&l.AccountID, &l.TenantID, &l.EmailIndex, &hash, &verified, &activated, &updated); err != nil {
		return nil, err
	}
	l.PasswordHash = hash.String
	l.EmailVerifiedAt, l.ActivatedAt, l.UpdatedAt = verified.ptr(), activated.ptr(), updated.t
	return &l, nil
}

func (t *Tx) Login(ctx context.Context, tenantID, accountID string) (*store.Login, error) {
	defer t.scope(tenantID)()
	l, err := scanLogin(t.tx.QueryRowContext(ctx, `SELECT `+loginColumns+` FROM account_logins
		WHERE tenant_id = ? AND account_id = ?`, tenantID, accountID))
	return l, t.wrapErr("get login", err)
}

func (t *Tx) LoginsByEmail(ctx context.Context, emailIndex []byte) ([]store.Login, error) {
	defer t.scopeAll()()
	return appendRows(ctx, t, nil, "logins by email", scanLogin, `SELECT `+loginColumns+` FROM account_logins
		WHERE email_index = ? ORDER BY account_id`, emailIndex)
}

func (t *Tx) Members(ctx context.Context, tenantID string) ([]store.Member, error) {
	defer t.scope(tenantID)()
	const q = `SELECT a.id, a.tenant_id, a.role, a.subject, a.key_version, a.name, a.email,
		a.created_at, l.account_id, l.tenant_id, l.email_index, l.password_hash, l.email_verified_at, l.activated_at,
		l.updated_at
		FROM accounts a LEFT JOIN account_logins l ON l.account_id = a.id
		WHERE a.tenant_id = ? ORDER BY a.created_at, a.id`
	return appendRows(ctx, t, nil, "members", scanMember, q, tenantID)
}

func scanMember(row scanner) (*store.Member, error) {
	var (
		m                   store.Member
		created             stamp
		lAcct, lTenant      sql.NullString
		idx                 []byte
		hash                sql.NullString
		verified, activated nullStamp
		updated             nullStamp
	)
	a := &m.Account
	if err := row.Scan(&a.ID, &a.TenantID, &a.Role, &a.Subject, &a.KeyVersion, &a.Name, &a.Email, &created,
		&lAcct, &lTenant, &idx, &hash, &verified, &activated, &updated); err != nil {
		return nil, err
	}
	a.CreatedAt = created.t
	if lAcct.Valid {
		m.Login = &store.Login{AccountID: lAcct.String, TenantID: lTenant.String, EmailIndex: idx,
			PasswordHash: hash.String, EmailVerifiedAt: verified.ptr(), ActivatedAt: activated.ptr(),
			UpdatedAt: updated.t}
	}
	return &m, nil
}

func (t *Tx) CountOwners(ctx context.Context, tenantID string) (int, error) {
	defer t.scope(tenantID)()
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts a LEFT JOIN account_logins l ON l.account_id = a.id
		WHERE a.tenant_id = ? AND a.role = 'owner' AND (l.account_id IS NULL OR l.activated_at IS NOT NULL)`,
		tenantID).Scan(&n)
	return n, t.wrapErr("count owners", err)
}

func (t *Tx) SetRole(ctx context.Context, tenantID, accountID, role string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `UPDATE accounts SET role = ? WHERE tenant_id = ? AND id = ?`, role, tenantID, accountID)
	return t.mustAffect("set role", res, err)
}

func (t *Tx) DeleteAccount(ctx context.Context, tenantID, accountID string) error {
	defer t.scope(tenantID)()
	// The foreign keys cascade to the login, tokens, sessions and keys.
	res, err := t.tx.ExecContext(ctx, `DELETE FROM accounts WHERE tenant_id = ? AND id = ?`, tenantID, accountID)
	return t.mustAffect("delete account", res, err)
}

func (t *Tx) PutAccountToken(ctx context.Context, a *store.AccountToken) error {
	defer t.scope(a.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO account_tokens (digest, tenant_id, account_id, purpose, created_at,
		expires_at, used_at) VALUES (?,?,?,?,?,?,?)`, a.Digest, a.TenantID, a.AccountID, a.Purpose,
		t.at(a.CreatedAt), t.at(a.ExpiresAt), t.atOrNil(a.UsedAt))
	return t.wrapErr("put account token", err)
}

func (t *Tx) AccountToken(ctx context.Context, digest []byte) (*store.AccountToken, error) {
	defer t.scopeAll()()
	var (
		a                store.AccountToken
		created, expires stamp
		used             nullStamp
	)
	err := t.tx.QueryRowContext(ctx, `SELECT digest, tenant_id, account_id, purpose, created_at, expires_at, used_at
		FROM account_tokens WHERE digest = ?`, digest).Scan(&a.Digest, &a.TenantID, &a.AccountID, &a.Purpose,
		&created, &expires, &used)
	if err != nil {
		return nil, t.wrapErr("get account token", err)
	}
	a.CreatedAt, a.ExpiresAt, a.UsedAt = created.t, expires.t, used.ptr()
	return &a, nil
}

func (t *Tx) UseAccountToken(ctx context.Context, digest []byte, at time.Time) (bool, error) {
	defer t.scopeAll()()
	return casUpdate(ctx, t, "use account token",
		`UPDATE account_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL`, t.at(at), digest)
}

func (t *Tx) DropAccountTokens(ctx context.Context, tenantID, accountID, purpose string) error {
	defer t.scope(tenantID)()
	_, err := t.tx.ExecContext(ctx, `DELETE FROM account_tokens WHERE tenant_id = ? AND account_id = ? AND purpose = ?
		AND used_at IS NULL`, tenantID, accountID, purpose)
	return t.wrapErr("drop account tokens", err)
}

// casUpdate runs a compare-and-set update and reports whether it changed
// a row.
func casUpdate(ctx context.Context, t *Tx, op, query string, args ...any) (bool, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, t.wrapErr(op, err)
	}
	n, err := res.RowsAffected()
	return n == 1, t.wrapErr(op, err)
}

const familyColumns = `id, tenant_id, account_id, method, scopes, client_id, created_at, revoked_at, revoke_reason`

func (t *Tx) InsertSessionFamily(ctx context.Context, f *store.SessionFamily) error {
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
		f.ID, f.TenantID, f.AccountID, f.Method, scopes, f.ClientID, t.at(f.CreatedAt), t.atOrNil(f.RevokedAt),
		string(f.RevokeReason))
	return t.wrapErr("insert session family", err)
}

func scanFamily(row scanner) (*store.SessionFamily, error) {
	var (
		f       store.SessionFamily
		scopes  sql.NullString
		created stamp
		revoked nullStamp
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
	f.CreatedAt, f.RevokedAt, f.RevokeReason = created.t, revoked.ptr(), session.Reason(reason)
	return &f, nil
}

func (t *Tx) SessionFamily(ctx context.Context, id string) (*store.SessionFamily, error) {
	defer t.scopeAll()()
	f, err := scanFamily(t.tx.QueryRowContext(ctx, `SELECT `+familyColumns+` FROM session_families WHERE id = ?`, id))
	return f, t.wrapErr("get session family", err)
}

func (t *Tx) SessionFamilies(ctx context.Context, tenantID, accountID string) ([]store.SessionFamily, error) {
	defer t.scope(tenantID)()
	return appendRows(ctx, t, nil, "session families", scanFamily, `SELECT `+familyColumns+` FROM session_families
		WHERE tenant_id = ? AND account_id = ? ORDER BY created_at DESC, id`, tenantID, accountID)
}

func (t *Tx) RevokeSessions(ctx context.Context, r session.Revocation) (int, error) {
	defer t.scopeAll()()
	q := `UPDATE session_families SET revoked_at = ?, revoke_reason = ?
		WHERE tenant_id = ? AND account_id = ? AND revoked_at IS NULL`
	args := []any{t.at(r.At), string(r.Reason), r.TenantID, r.AccountID}
	if r.FamilyID != "" {
		q += ` AND id = ?`
		args = append(args, r.FamilyID)
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, t.wrapErr("revoke sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), t.wrapErr("revoke sessions", err)
}

func (t *Tx) InsertRefreshToken(ctx context.Context, r *session.RefreshToken) error {
	defer t.scopeAll()()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO refresh_tokens (digest, family_id, generation, issued_at, expires_at,
		spent_at) VALUES (?,?,?,?,?,?)`, r.Digest, r.FamilyID, r.Generation, t.at(r.IssuedAt), t.at(r.ExpiresAt),
		t.atOrNil(r.SpentAt))
	return t.wrapErr("insert refresh token", err)
}

func (t *Tx) RefreshToken(ctx context.Context, digest []byte) (*session.RefreshToken, error) {
	defer t.scopeAll()()
	var (
		r               session.RefreshToken
		issued, expires stamp
		spent           nullStamp
	)
	err := t.tx.QueryRowContext(ctx, `SELECT digest, family_id, generation, issued_at, expires_at, spent_at
		FROM refresh_tokens WHERE digest = ?`, digest).Scan(&r.Digest, &r.FamilyID, &r.Generation, &issued, &expires, &spent)
	if err != nil {
		return nil, t.wrapErr("get refresh token", err)
	}
	r.IssuedAt, r.ExpiresAt, r.SpentAt = issued.t, expires.t, spent.ptr()
	return &r, nil
}

func (t *Tx) SpendRefreshToken(ctx context.Context, digest []byte, at time.Time) (bool, error) {
	defer t.scopeAll()()
	return casUpdate(ctx, t, "spend refresh token",
		`UPDATE refresh_tokens SET spent_at = ? WHERE digest = ? AND spent_at IS NULL`, t.at(at), digest)
}

func (t *Tx) InsertAccessToken(ctx context.Context, a *session.AccessToken) error {
	defer t.scope(a.TenantID)()
	_, err := t.tx.ExecContext(ctx, `INSERT INTO access_tokens (digest, family_id, tenant_id, account_id, issued_at,
		expires_at) VALUES (?,?,?,?,?,?)`, a.Digest, a.FamilyID, a.TenantID, a.AccountID, t.at(a.IssuedAt),
		t.at(a.ExpiresAt))
	return t.wrapErr("insert access token", err)
}

func (t *Tx) AccessToken(ctx context.Context, digest []byte) (*session.AccessToken, error) {
	defer t.scopeAll()()
	var (
		a               session.AccessToken
		issued, expires stamp
	)
	err := t.tx.QueryRowContext(ctx, `SELECT digest, family_id, tenant_id, account_id, issued_at, expires_at
		FROM access_tokens WHERE digest = ?`, digest).Scan(&a.Digest, &a.FamilyID, &a.TenantID, &a.AccountID, &issued, &expires)
	if err != nil {
		return nil, t.wrapErr("get access token", err)
	}
	a.IssuedAt, a.ExpiresAt = issued.t, expires.t
	return &a, nil
}

func (t *Tx) SweepIdentity(ctx context.Context, now time.Time) (int, error) {
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
		res, err := t.tx.ExecContext(ctx, q, t.at(now))
		if err != nil {
			return total, t.wrapErr("sweep identity", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}
