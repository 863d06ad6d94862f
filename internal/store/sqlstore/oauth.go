package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
)

func (t *Tx) CreateOAuthClient(ctx context.Context, c *oauth.Client) error {
	defer t.scopeAll()()
	uris, err := json.Marshal(c.RedirectURIs)
	if err != nil {
		return fmt.Errorf("encode redirect uris: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO oauth_clients (id, name, redirect_uris, created_at) VALUES (?,?,?,?)`,
		c.ID, c.Name, string(uris), t.at(c.CreatedAt))
	return t.wrapErr("insert oauth client", err)
}

func (t *Tx) OAuthClient(ctx context.Context, id string) (*oauth.Client, error) {
	defer t.scopeAll()()
	var (
		c       oauth.Client
		uris    string
		created stamp
	)
	err := t.tx.QueryRowContext(ctx, `SELECT id, name, redirect_uris, created_at FROM oauth_clients WHERE id = ?`, id).
		Scan(&c.ID, &c.Name, &uris, &created)
	if err != nil {
		return nil, t.wrapErr("get oauth client", err)
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("decode redirect uris: %w", err)
	}
	c.CreatedAt = created.t
	return &c, nil
}

const oauthCodeColumns = `digest, client_id, redirect_uri, challenge, resource, tenant_id, account_id, scopes,
	issued_at, expires_at, spent_at, family_id`

func (t *Tx) CreateOAuthCode(ctx context.Context, c *oauth.Code) error {
	defer t.scope(c.TenantID)()
	scopes, err := json.Marshal(noScopes(c.Scopes))
	if err != nil {
		return fmt.Errorf("encode scopes: %w", err)
	}
	var spent any
	if c.SpentAt != nil {
		spent = t.at(*c.SpentAt)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO oauth_codes (`+oauthCodeColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.Digest, c.ClientID, c.RedirectURI, c.Challenge, c.Resource, c.TenantID, c.AccountID, string(scopes),
		t.at(c.IssuedAt), t.at(c.ExpiresAt), spent, c.FamilyID)
	return t.wrapErr("insert oauth code", err)
}

func noScopes(p []engram.Permission) []engram.Permission {
	if p == nil {
		return []engram.Permission{}
	}
	return p
}

func (t *Tx) SpendOAuthCode(ctx context.Context, digest []byte, now time.Time) (*oauth.Code, error) {
	defer t.scopeAll()()
	c, err := t.oauthCode(ctx, digest)
	if err != nil {
		return nil, err
	}
	// The compare-and-set: of two transactions racing for one code, only
	// one changes the row. The stores serialise writers, but the
	// condition keeps the rule true without that.
	res, err := t.tx.ExecContext(ctx, `UPDATE oauth_codes SET spent_at = ? WHERE digest = ? AND spent_at IS NULL`, t.at(now), digest)
	if err != nil {
		return nil, t.wrapErr("spend oauth code", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, t.wrapErr("spend oauth code", err)
	} else if n == 0 && c.SpentAt == nil {
		// Spent between the read and the update: read the winner's mark.
		return t.oauthCode(ctx, digest)
	}
	return c, nil
}

func (t *Tx) oauthCode(ctx context.Context, digest []byte) (*oauth.Code, error) {
	var (
		c               oauth.Code
		scopes          string
		issued, expires stamp
		spent           nullStamp
	)
	err := t.tx.QueryRowContext(ctx, `SELECT `+oauthCodeColumns+` FROM oauth_codes WHERE digest = ?`, digest).Scan(
		&c.Digest, &c.ClientID, &c.RedirectURI, &c.Challenge, &c.Resource, &c.TenantID, &c.AccountID, &scopes,
		&issued, &expires, &spent, &c.FamilyID)
	if err != nil {
		return nil, t.wrapErr("get oauth code", err)
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	c.IssuedAt, c.ExpiresAt = issued.t, expires.t
	c.SpentAt = spent.ptr()
	return &c, nil
}

func (t *Tx) SetOAuthCodeFamily(ctx context.Context, digest []byte, familyID string) error {
	defer t.scopeAll()()
	res, err := t.tx.ExecContext(ctx, `UPDATE oauth_codes SET family_id = ? WHERE digest = ?`, familyID, digest)
	return t.mustAffect("set oauth code family", res, err)
}

func (t *Tx) DeleteExpiredOAuthCodes(ctx context.Context, before time.Time) (int, error) {
	defer t.scopeAll()()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM oauth_codes WHERE expires_at < ?`, t.at(before))
	if err != nil {
		return 0, t.wrapErr("delete expired oauth codes", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.wrapErr("delete expired oauth codes", err)
	}
	return int(n), nil
}

var _ oauth.Store = (*Tx)(nil)

func (t *Tx) DeleteIdleOAuthClients(ctx context.Context, before time.Time) (int, error) {
	defer t.scopeAll()()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM oauth_clients WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.client_id = oauth_clients.id)
		AND NOT EXISTS (SELECT 1 FROM session_families f WHERE f.client_id = oauth_clients.id)`, t.at(before))
	if err != nil {
		return 0, t.wrapErr("delete idle oauth clients", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.wrapErr("delete idle oauth clients", err)
	}
	return int(n), nil
}
