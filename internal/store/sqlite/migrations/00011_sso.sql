-- Single sign-on per organisation (docs/IDENTITY.md, "SSO wiring").

-- +goose Up
-- One identity provider per tenant. config is the provider's configuration
-- (issuer, client id and secret, or IdP metadata and the SP's key), sealed
-- under the tenant's subject key `subject` (version key_version) like every
-- other sensitive field; policy is the sso.Policy as JSON (roles, group
-- names, email domains: settings, no secret and no personal data).
CREATE TABLE sso_configs (
    tenant_id   TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('oidc', 'saml')),
    subject     TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    config      BLOB    NOT NULL,
    policy      TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- The link from an IdP's user to an account. subject is a blind index of
-- the IdP's (issuer, subject) pair, keyed by the tenant, so the database
-- never holds the IdP's user id (often an email address for SAML) in clear.
CREATE TABLE sso_identities (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, issuer, subject)
) WITHOUT ROWID;
CREATE INDEX sso_identities_account ON sso_identities (tenant_id, account_id);

-- SAML assertion ids already accepted (saml.ReplayCache): scope is the
-- tenant id. Not tied to tenants by a foreign key: a row outlives nothing
-- but its expiry, and the sweep removes it.
CREATE TABLE saml_assertions (
    scope      TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, id)
) WITHOUT ROWID;
CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);

-- +goose Down
DROP TABLE saml_assertions;
DROP TABLE sso_identities;
DROP TABLE sso_configs;
