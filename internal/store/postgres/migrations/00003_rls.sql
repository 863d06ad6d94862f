-- Row-level security, defence in depth under the store's own tenant
-- filters: every table that holds a tenant's rows shows a transaction only
-- the rows of the tenant it set with set_config('app.tenant_id', id, true)
-- (transaction-local). FORCE applies the policies to the tables' owner too,
-- which is the role Engram connects as; only a superuser or a role with
-- BYPASSRLS escapes them, so Engram must not connect as one
-- (docs/POSTGRES-STATUS.md).
--
-- Values of app.tenant_id:
--   unset or ''  nothing is visible (a query that forgot its tenant)
--   a tenant id  that tenant's rows
--   '.system'    the system rows (tenant_id '': the system audit chain and
--                system keys)
--   '*'          every tenant: only the store's cross-tenant methods set it
--                (lookups by a credential's id or digest, sweeps, listings
--                of tenants and chains), never a tenant's own method.
-- The tenants and the tenant-less tables (oauth_clients, refresh_tokens,
-- saml_assertions) have no tenant column and no policy.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION engram_tenant_visible(t text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE current_setting('app.tenant_id', true)
        WHEN '*' THEN true
        WHEN '.system' THEN t = ''
        WHEN '' THEN false
        ELSE t = current_setting('app.tenant_id', true)
    END
$$;
-- +goose StatementEnd
ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON accounts USING (engram_tenant_visible(tenant_id));
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON api_keys USING (engram_tenant_visible(tenant_id));
ALTER TABLE wrapped_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE wrapped_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON wrapped_keys USING (engram_tenant_visible(tenant_id));
ALTER TABLE tenant_keks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_keks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON tenant_keks USING (engram_tenant_visible(tenant_id));
ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
ALTER TABLE memories FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON memories USING (engram_tenant_visible(tenant_id));
ALTER TABLE history ENABLE ROW LEVEL SECURITY;
ALTER TABLE history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON history USING (engram_tenant_visible(tenant_id));
ALTER TABLE postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE postings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON postings USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_entries USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_heads USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_trees ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_trees FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_trees USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_segments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_segments USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_nodes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_nodes USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_retention ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_retention FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_retention USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_holds ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_holds FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_holds USING (engram_tenant_visible(tenant_id));
ALTER TABLE scope_stats ENABLE ROW LEVEL SECURITY;
ALTER TABLE scope_stats FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON scope_stats USING (engram_tenant_visible(tenant_id));
ALTER TABLE audit_published ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_published FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_published USING (engram_tenant_visible(tenant_id));
ALTER TABLE idempotency ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON idempotency USING (engram_tenant_visible(tenant_id));
ALTER TABLE episodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE episodes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON episodes USING (engram_tenant_visible(tenant_id));
ALTER TABLE entities ENABLE ROW LEVEL SECURITY;
ALTER TABLE entities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON entities USING (engram_tenant_visible(tenant_id));
ALTER TABLE entity_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE entity_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON entity_keys USING (engram_tenant_visible(tenant_id));
ALTER TABLE facts ENABLE ROW LEVEL SECURITY;
ALTER TABLE facts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON facts USING (engram_tenant_visible(tenant_id));
ALTER TABLE entity_mentions ENABLE ROW LEVEL SECURITY;
ALTER TABLE entity_mentions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON entity_mentions USING (engram_tenant_visible(tenant_id));
ALTER TABLE memory_topics ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory_topics FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON memory_topics USING (engram_tenant_visible(tenant_id));
ALTER TABLE tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON tenant_settings USING (engram_tenant_visible(tenant_id));
ALTER TABLE account_logins ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_logins FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON account_logins USING (engram_tenant_visible(tenant_id));
ALTER TABLE account_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON account_tokens USING (engram_tenant_visible(tenant_id));
ALTER TABLE session_families ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_families FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON session_families USING (engram_tenant_visible(tenant_id));
ALTER TABLE access_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON access_tokens USING (engram_tenant_visible(tenant_id));
ALTER TABLE sso_configs ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_configs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON sso_configs USING (engram_tenant_visible(tenant_id));
ALTER TABLE sso_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON sso_identities USING (engram_tenant_visible(tenant_id));
ALTER TABLE oauth_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON oauth_codes USING (engram_tenant_visible(tenant_id));
ALTER TABLE deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE deletions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON deletions USING (engram_tenant_visible(tenant_id));
ALTER TABLE index_generations ENABLE ROW LEVEL SECURITY;
ALTER TABLE index_generations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON index_generations USING (engram_tenant_visible(tenant_id));
ALTER TABLE index_snapshots ENABLE ROW LEVEL SECURITY;
ALTER TABLE index_snapshots FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON index_snapshots USING (engram_tenant_visible(tenant_id));
ALTER TABLE index_snapshot_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE index_snapshot_chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON index_snapshot_chunks USING (engram_tenant_visible(tenant_id));

-- +goose Down
DROP POLICY IF EXISTS tenant ON accounts;
ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE accounts DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON api_keys;
ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON wrapped_keys;
ALTER TABLE wrapped_keys NO FORCE ROW LEVEL SECURITY;
ALTER TABLE wrapped_keys DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON tenant_keks;
ALTER TABLE tenant_keks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenant_keks DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON memories;
ALTER TABLE memories NO FORCE ROW LEVEL SECURITY;
ALTER TABLE memories DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON history;
ALTER TABLE history NO FORCE ROW LEVEL SECURITY;
ALTER TABLE history DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON postings;
ALTER TABLE postings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE postings DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_entries;
ALTER TABLE audit_entries NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_entries DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_heads;
ALTER TABLE audit_heads NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_heads DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_trees;
ALTER TABLE audit_trees NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_trees DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_segments;
ALTER TABLE audit_segments NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_segments DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_nodes;
ALTER TABLE audit_nodes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_nodes DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_retention;
ALTER TABLE audit_retention NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_retention DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_holds;
ALTER TABLE audit_holds NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_holds DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON scope_stats;
ALTER TABLE scope_stats NO FORCE ROW LEVEL SECURITY;
ALTER TABLE scope_stats DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON audit_published;
ALTER TABLE audit_published NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_published DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON idempotency;
ALTER TABLE idempotency NO FORCE ROW LEVEL SECURITY;
ALTER TABLE idempotency DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON episodes;
ALTER TABLE episodes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE episodes DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON entities;
ALTER TABLE entities NO FORCE ROW LEVEL SECURITY;
ALTER TABLE entities DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON entity_keys;
ALTER TABLE entity_keys NO FORCE ROW LEVEL SECURITY;
ALTER TABLE entity_keys DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON facts;
ALTER TABLE facts NO FORCE ROW LEVEL SECURITY;
ALTER TABLE facts DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON entity_mentions;
ALTER TABLE entity_mentions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE entity_mentions DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON memory_topics;
ALTER TABLE memory_topics NO FORCE ROW LEVEL SECURITY;
ALTER TABLE memory_topics DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON tenant_settings;
ALTER TABLE tenant_settings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenant_settings DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON account_logins;
ALTER TABLE account_logins NO FORCE ROW LEVEL SECURITY;
ALTER TABLE account_logins DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON account_tokens;
ALTER TABLE account_tokens NO FORCE ROW LEVEL SECURITY;
ALTER TABLE account_tokens DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON session_families;
ALTER TABLE session_families NO FORCE ROW LEVEL SECURITY;
ALTER TABLE session_families DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON access_tokens;
ALTER TABLE access_tokens NO FORCE ROW LEVEL SECURITY;
ALTER TABLE access_tokens DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON sso_configs;
ALTER TABLE sso_configs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sso_configs DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON sso_identities;
ALTER TABLE sso_identities NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sso_identities DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON oauth_codes;
ALTER TABLE oauth_codes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE oauth_codes DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON deletions;
ALTER TABLE deletions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE deletions DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON index_generations;
ALTER TABLE index_generations NO FORCE ROW LEVEL SECURITY;
ALTER TABLE index_generations DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON index_snapshots;
ALTER TABLE index_snapshots NO FORCE ROW LEVEL SECURITY;
ALTER TABLE index_snapshots DISABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant ON index_snapshot_chunks;
ALTER TABLE index_snapshot_chunks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE index_snapshot_chunks DISABLE ROW LEVEL SECURITY;
DROP FUNCTION IF EXISTS engram_tenant_visible(text);
