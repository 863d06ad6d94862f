package sqlstore

import (
	"context"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

func (t *Tx) SSOConfig(ctx context.Context, tenantID string) (*store.SSOConfig, error) {
	defer t.scope(tenantID)()
	var (
		c       store.SSOConfig
		policy  string
		updated stamp
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT tenant_id, kind, subject, key_version, config, policy, updated_at
		 FROM sso_configs WHERE tenant_id = ?`, tenantID,
	).Scan(&c.TenantID, &c.Kind, &c.Subject, &c.KeyVersion, &c.Config, &policy, &updated)
	if err != nil {
		return nil, t.wrapErr("get sso config", err)
	}
	c.Policy, c.UpdatedAt = []byte(policy), updated.t
	return &c, nil
}

func (t *Tx) PutSSOConfig(ctx context.Context, c *store.SSOConfig) error {
	defer t.scope(c.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO sso_configs (tenant_id, kind, subject, key_version, config, policy, updated_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (tenant_id) DO UPDATE SET kind = excluded.kind, subject = excluded.subject,
		   key_version = excluded.key_version, config = excluded.config, policy = excluded.policy,
		   updated_at = excluded.updated_at`,
		c.TenantID, c.Kind, c.Subject, c.KeyVersion, c.Config, string(c.Policy), t.at(c.UpdatedAt))
	if err != nil {
		return t.wrapErr("put sso config", err)
	}
	return nil
}

func (t *Tx) DeleteSSOConfig(ctx context.Context, tenantID string) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM sso_configs WHERE tenant_id = ?`, tenantID)
	return t.mustAffect("delete sso config", res, err)
}

func (t *Tx) SSOIdentity(ctx context.Context, tenantID, issuer, subject string) (*store.SSOIdentity, error) {
	defer t.scope(tenantID)()
	var (
		i       store.SSOIdentity
		created stamp
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT tenant_id, issuer, subject, account_id, created_at FROM sso_identities
		 WHERE tenant_id = ? AND issuer = ? AND subject = ?`, tenantID, issuer, subject,
	).Scan(&i.TenantID, &i.Issuer, &i.Subject, &i.AccountID, &created)
	if err != nil {
		return nil, t.wrapErr("get sso identity", err)
	}
	i.CreatedAt = created.t
	return &i, nil
}

func (t *Tx) PutSSOIdentity(ctx context.Context, i *store.SSOIdentity) error {
	defer t.scope(i.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO sso_identities (tenant_id, issuer, subject, account_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		i.TenantID, i.Issuer, i.Subject, i.AccountID, t.at(i.CreatedAt))
	if err != nil {
		return t.wrapErr("put sso identity", err)
	}
	return nil
}

// ConsumeSAMLAssertion is one INSERT … ON CONFLICT DO NOTHING: the primary
// key decides, so two nodes (or two requests) racing on one assertion
// cannot both see it as new.
func (t *Tx) ConsumeSAMLAssertion(ctx context.Context, scope, id string, expiresAt time.Time) (bool, error) {
	defer t.scopeAll()()
	res, err := t.tx.ExecContext(ctx,
		`INSERT INTO saml_assertions (scope, id, expires_at) VALUES (?, ?, ?)
		 ON CONFLICT (scope, id) DO NOTHING`, scope, id, t.at(expiresAt))
	if err != nil {
		return false, t.wrapErr("consume saml assertion", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, t.wrapErr("consume saml assertion", err)
	}
	return n == 1, nil
}

func (t *Tx) SweepSAMLAssertions(ctx context.Context, now time.Time) (int, error) {
	defer t.scopeAll()()
	return t.count(ctx, "sweep saml assertions", `DELETE FROM saml_assertions WHERE expires_at < ?`, t.at(now))
}
