package postgres

import (
	"context"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

func (t *tx) CreateTenant(ctx context.Context, tn *store.Tenant) error {
	defer t.scopeAll()()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
		tn.ID, tn.Name, toMicros(tn.CreatedAt))
	if err != nil {
		return wrapErr("create tenant", err)
	}
	return nil
}

func (t *tx) Tenant(ctx context.Context, id string) (*store.Tenant, error) {
	defer t.scopeAll()()
	row := t.tx.QueryRowContext(ctx,
		`SELECT id, name, created_at FROM tenants WHERE id = ?`, id)
	tn, err := scanTenant(row)
	if err != nil {
		return nil, wrapErr("get tenant", err)
	}
	return tn, nil
}

func (t *tx) TenantByName(ctx context.Context, name string) (*store.Tenant, error) {
	defer t.scopeAll()()
	row := t.tx.QueryRowContext(ctx,
		`SELECT id, name, created_at FROM tenants WHERE name = ?`, name)
	tn, err := scanTenant(row)
	if err != nil {
		return nil, wrapErr("get tenant by name", err)
	}
	return tn, nil
}

func scanTenant(row scanner) (*store.Tenant, error) {
	var (
		tn      store.Tenant
		created time.Time
	)
	if err := row.Scan(&tn.ID, &tn.Name, &created); err != nil {
		return nil, err
	}
	tn.CreatedAt = fromMicros(created)
	return &tn, nil
}

func (t *tx) CreateAccount(ctx context.Context, a *store.Account) error {
	defer t.scope(a.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO accounts (id, tenant_id, role, subject, key_version, name, email, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.TenantID, a.Role, a.Subject, a.KeyVersion, a.Name, a.Email, toMicros(a.CreatedAt))
	if err != nil {
		return wrapErr("create account", err)
	}
	return nil
}

func (t *tx) Account(ctx context.Context, tenantID, id string) (*store.Account, error) {
	defer t.scope(tenantID)()
	var (
		a       store.Account
		created time.Time
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT id, tenant_id, role, subject, key_version, name, email, created_at
		 FROM accounts WHERE tenant_id = ? AND id = ?`, tenantID, id,
	).Scan(&a.ID, &a.TenantID, &a.Role, &a.Subject, &a.KeyVersion, &a.Name, &a.Email, &created)
	if err != nil {
		return nil, wrapErr("get account", err)
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

func (t *tx) Idempotency(ctx context.Context, tenantID, principal, key string) (*store.Idempotency, error) {
	defer t.scope(tenantID)()
	var (
		i       store.Idempotency
		created time.Time
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT tenant_id, principal, key, request_hash, result, created_at
		 FROM idempotency WHERE tenant_id = ? AND principal = ? AND key = ?`, tenantID, principal, key,
	).Scan(&i.TenantID, &i.Principal, &i.Key, &i.RequestHash, &i.Result, &created)
	if err != nil {
		return nil, wrapErr("get idempotency record", err)
	}
	i.CreatedAt = fromMicros(created)
	return &i, nil
}

func (t *tx) PutIdempotency(ctx context.Context, i *store.Idempotency) error {
	defer t.scope(i.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO idempotency (tenant_id, principal, key, request_hash, result, created_at)
		 VALUES (?, ?, ?, ?, ?, ?)`,
		i.TenantID, i.Principal, i.Key, i.RequestHash, i.Result, toMicros(i.CreatedAt))
	if err != nil {
		return wrapErr("put idempotency record", err)
	}
	return nil
}

// DeleteIdempotencyBefore is the one method that spans tenants: expiry is a
// maintenance sweep, not a tenant's request.
func (t *tx) DeleteIdempotencyBefore(ctx context.Context, before time.Time) error {
	defer t.scopeAll()()
	_, err := t.tx.ExecContext(ctx,
		`DELETE FROM idempotency WHERE created_at < ?`, toMicros(before))
	if err != nil {
		return wrapErr("delete idempotency records", err)
	}
	return nil
}
