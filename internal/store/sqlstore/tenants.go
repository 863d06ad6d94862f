package sqlstore

import (
	"context"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

func (t *Tx) CreateTenant(ctx context.Context, tn *store.Tenant) error {
	defer t.scopeAll()()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
		tn.ID, tn.Name, t.at(tn.CreatedAt))
	if err != nil {
		return t.wrapErr("create tenant", err)
	}
	return nil
}

func (t *Tx) Tenant(ctx context.Context, id string) (*store.Tenant, error) {
	defer t.scopeAll()()
	return scanRow(t, "get tenant", scanTenant, t.tx.QueryRowContext(ctx,
		`SELECT id, name, created_at FROM tenants WHERE id = ?`, id))
}

func (t *Tx) TenantByName(ctx context.Context, name string) (*store.Tenant, error) {
	defer t.scopeAll()()
	return scanRow(t, "get tenant by name", scanTenant, t.tx.QueryRowContext(ctx,
		`SELECT id, name, created_at FROM tenants WHERE name = ?`, name))
}

func scanTenant(row scanner) (*store.Tenant, error) {
	var (
		tn      store.Tenant
		created stamp
	)
	if err := row.Scan(&tn.ID, &tn.Name, &created); err != nil {
		return nil, err
	}
	tn.CreatedAt = created.t
	return &tn, nil
}

func (t *Tx) CreateAccount(ctx context.Context, a *store.Account) error {
	defer t.scope(a.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO accounts (id, tenant_id, role, subject, key_version, name, email, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.TenantID, a.Role, a.Subject, a.KeyVersion, a.Name, a.Email, t.at(a.CreatedAt))
	if err != nil {
		return t.wrapErr("create account", err)
	}
	return nil
}

func (t *Tx) Account(ctx context.Context, tenantID, id string) (*store.Account, error) {
	defer t.scope(tenantID)()
	var (
		a       store.Account
		created stamp
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT id, tenant_id, role, subject, key_version, name, email, created_at
		 FROM accounts WHERE tenant_id = ? AND id = ?`, tenantID, id,
	).Scan(&a.ID, &a.TenantID, &a.Role, &a.Subject, &a.KeyVersion, &a.Name, &a.Email, &created)
	if err != nil {
		return nil, t.wrapErr("get account", err)
	}
	a.CreatedAt = created.t
	return &a, nil
}

func (t *Tx) Idempotency(ctx context.Context, tenantID, principal, key string) (*store.Idempotency, error) {
	defer t.scope(tenantID)()
	var (
		i       store.Idempotency
		created stamp
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT tenant_id, principal, key, request_hash, result, created_at
		 FROM idempotency WHERE tenant_id = ? AND principal = ? AND key = ?`, tenantID, principal, key,
	).Scan(&i.TenantID, &i.Principal, &i.Key, &i.RequestHash, &i.Result, &created)
	if err != nil {
		return nil, t.wrapErr("get idempotency record", err)
	}
	i.CreatedAt = created.t
	return &i, nil
}

func (t *Tx) PutIdempotency(ctx context.Context, i *store.Idempotency) error {
	defer t.scope(i.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO idempotency (tenant_id, principal, key, request_hash, result, created_at)
		 VALUES (?, ?, ?, ?, ?, ?)`,
		i.TenantID, i.Principal, i.Key, i.RequestHash, i.Result, t.at(i.CreatedAt))
	if err != nil {
		return t.wrapErr("put idempotency record", err)
	}
	return nil
}

// DeleteIdempotencyBefore is the one method that spans tenants: expiry is a
// maintenance sweep, not a tenant's request.
func (t *Tx) DeleteIdempotencyBefore(ctx context.Context, before time.Time) error {
	defer t.scopeAll()()
	_, err := t.tx.ExecContext(ctx,
		`DELETE FROM idempotency WHERE created_at < ?`, t.at(before))
	if err != nil {
		return t.wrapErr("delete idempotency records", err)
	}
	return nil
}
