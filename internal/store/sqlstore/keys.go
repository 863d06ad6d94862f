package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/engram-memory/engram/internal/store"
)

const apiKeyColumns = `id, tenant_id, account_id, name, prefix, scopes, secret_mac,
	pepper_version, created_at, expires_at, last_used_at, revoked_at`

func (t *Tx) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	defer t.scope(k.TenantID)()
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	js, err := json.Marshal(scopes)
	if err != nil {
		return fmt.Errorf("create api key: encode scopes: %w", err)
	}
	_, err = t.tx.ExecContext(ctx,
		`INSERT INTO api_keys (`+apiKeyColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.TenantID, k.AccountID, k.Name, k.Prefix, string(js), k.SecretMAC,
		k.PepperVersion, t.at(k.CreatedAt), t.atOrNil(k.ExpiresAt),
		t.atOrNil(k.LastUsedAt), t.atOrNil(k.RevokedAt))
	if err != nil {
		return t.wrapErr("create api key", err)
	}
	return nil
}

func (t *Tx) APIKey(ctx context.Context, id string) (*store.APIKey, error) {
	defer t.scopeAll()()
	return scanRow(t, "get api key", scanAPIKey, t.tx.QueryRowContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
}

func (t *Tx) ListAPIKeys(ctx context.Context, tenantID string) ([]store.APIKey, error) {
	defer t.scope(tenantID)()
	return queryRows(ctx, t, "list api keys", scanAPIKey,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = ? ORDER BY id`, tenantID)
}

func scanAPIKey(s scanner) (*store.APIKey, error) {
	var (
		k                          store.APIKey
		scopes                     string
		created                    stamp
		expires, lastUsed, revoked nullStamp
	)
	err := s.Scan(&k.ID, &k.TenantID, &k.AccountID, &k.Name, &k.Prefix, &scopes,
		&k.SecretMAC, &k.PepperVersion, &created, &expires, &lastUsed, &revoked)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("decode scopes of key %s: %w", k.ID, err)
	}
	if len(k.Scopes) == 0 {
		k.Scopes = nil
	}
	k.CreatedAt = created.t
	k.ExpiresAt = expires.ptr()
	k.LastUsedAt = lastUsed.ptr()
	k.RevokedAt = revoked.ptr()
	return &k, nil
}

func (t *Tx) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) error {
	defer t.scope(tenantID)()
	// COALESCE keeps the first revocation: it is the one the audit log
	// recorded, and a repeated revoke must not move it.
	res, err := t.tx.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
		 WHERE tenant_id = ? AND id = ?`, t.at(at), tenantID, id)
	return t.mustAffect("revoke api key", res, err)
}

func (t *Tx) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	defer t.scopeAll()()
	// Concurrent requests touch the key in any order; last use only moves
	// forward.
	us := t.at(at)
	res, err := t.tx.ExecContext(ctx,
		`UPDATE api_keys SET last_used_at = `+t.d.Greatest+`(COALESCE(last_used_at, ?), ?)
		 WHERE id = ?`, us, us, id)
	return t.mustAffect("touch api key", res, err)
}

func (t *Tx) PutKey(ctx context.Context, k *store.WrappedKey) error {
	defer t.scope(k.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO wrapped_keys (`+wrappedKeyColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.TenantID, k.Purpose, k.Owner, k.Version, k.ParentVersion, k.Wrapped, t.at(k.CreatedAt))
	if err != nil {
		return t.wrapErr("put key", err)
	}
	return nil
}

func (t *Tx) Key(ctx context.Context, tenantID, purpose, owner string, version int) (*store.WrappedKey, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get key", scanWrappedKey, t.tx.QueryRowContext(ctx,
		`SELECT `+wrappedKeyColumns+` FROM wrapped_keys
		 WHERE tenant_id = ? AND purpose = ? AND owner = ? AND version = ?`,
		tenantID, purpose, owner, version))
}

func (t *Tx) LatestKey(ctx context.Context, tenantID, purpose, owner string) (*store.WrappedKey, error) {
	defer t.scope(tenantID)()
	return scanRow(t, "get latest key", scanWrappedKey, t.tx.QueryRowContext(ctx,
		`SELECT `+wrappedKeyColumns+` FROM wrapped_keys
		 WHERE tenant_id = ? AND purpose = ? AND owner = ?
		 ORDER BY version DESC LIMIT 1`,
		tenantID, purpose, owner))
}

func scanWrappedKey(s scanner) (*store.WrappedKey, error) {
	var (
		k       store.WrappedKey
		created stamp
	)
	if err := s.Scan(&k.TenantID, &k.Purpose, &k.Owner, &k.Version, &k.ParentVersion, &k.Wrapped, &created); err != nil {
		return nil, err
	}
	k.CreatedAt = created.t
	return &k, nil
}

const wrappedKeyColumns = `tenant_id, purpose, owner, version, parent_version, wrapped, created_at`

func (t *Tx) Keys(ctx context.Context, tenantID, purpose string) ([]store.WrappedKey, error) {
	defer t.scope(tenantID)()
	return queryRows(ctx, t, "list keys", scanWrappedKey,
		`SELECT `+wrappedKeyColumns+` FROM wrapped_keys
		 WHERE tenant_id = ? AND purpose = ? ORDER BY owner, version`, tenantID, purpose)
}

func (t *Tx) UpdateKey(ctx context.Context, k *store.WrappedKey) error {
	defer t.scope(k.TenantID)()
	res, err := t.tx.ExecContext(ctx,
		`UPDATE wrapped_keys SET wrapped = ?, parent_version = ?
		 WHERE tenant_id = ? AND purpose = ? AND owner = ? AND version = ?`,
		k.Wrapped, k.ParentVersion, k.TenantID, k.Purpose, k.Owner, k.Version)
	return t.mustAffect("update key", res, err)
}

func (t *Tx) DeleteKey(ctx context.Context, tenantID, purpose, owner string, version int) error {
	defer t.scope(tenantID)()
	res, err := t.tx.ExecContext(ctx,
		`DELETE FROM wrapped_keys WHERE tenant_id = ? AND purpose = ? AND owner = ? AND version = ?`,
		tenantID, purpose, owner, version)
	return t.mustAffect("delete key", res, err)
}

func (t *Tx) TenantKEK(ctx context.Context, tenantID string) (*store.TenantKEK, error) {
	defer t.scope(tenantID)()
	var (
		k       store.TenantKEK
		created stamp
	)
	err := t.tx.QueryRowContext(ctx,
		`SELECT tenant_id, provider, config, created_at FROM tenant_keks WHERE tenant_id = ?`, tenantID,
	).Scan(&k.TenantID, &k.Provider, &k.Config, &created)
	if err != nil {
		return nil, t.wrapErr("get tenant kek", err)
	}
	k.CreatedAt = created.t
	return &k, nil
}

func (t *Tx) PutTenantKEK(ctx context.Context, k *store.TenantKEK) error {
	defer t.scope(k.TenantID)()
	_, err := t.tx.ExecContext(ctx,
		`INSERT INTO tenant_keks (tenant_id, provider, config, created_at) VALUES (?, ?, ?, ?)
		 ON CONFLICT (tenant_id) DO UPDATE SET provider = excluded.provider, config = excluded.config,
		   created_at = excluded.created_at`,
		k.TenantID, k.Provider, k.Config, t.at(k.CreatedAt))
	if err != nil {
		return t.wrapErr("put tenant kek", err)
	}
	return nil
}
