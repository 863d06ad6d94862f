-- Identity (docs/IDENTITY.md): how people sign in. Accounts keep their
-- sealed name and email; what a login must find arrives as a blind token
-- (email_index, an HMAC under a key that is never in the database), and
-- every token a client holds is kept only as a digest.

-- +goose Up
-- The sign-in credentials of an account that is a person. Accounts made
-- for keys only (a tenant's first owner, before anyone accepts an
-- invitation) have no row. activated_at is NULL while an invitation is
-- pending: such an account cannot sign in and does not count as an owner.
CREATE TABLE account_logins (
    account_id        TEXT    NOT NULL PRIMARY KEY,
    tenant_id         TEXT    NOT NULL,
    email_index       BLOB    NOT NULL,
    password_hash     TEXT,
    email_verified_at INTEGER,
    activated_at      INTEGER,
    updated_at        INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX account_logins_tenant_email ON account_logins (tenant_id, email_index);
CREATE INDEX account_logins_email ON account_logins (email_index);

-- One-time tokens sent by email or shown once: invitations, address
-- verification, password reset. used_at makes them single use.
CREATE TABLE account_tokens (
    digest     BLOB    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX account_tokens_account ON account_tokens (tenant_id, account_id, purpose);
CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);

-- Sessions: a family per sign-in, its rotating refresh tokens and its
-- access tokens (internal/session).
CREATE TABLE session_families (
    id            TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    method        TEXT    NOT NULL,
    scopes        TEXT,   -- JSON array; NULL for a person's own session
    client_id     TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX session_families_account ON session_families (tenant_id, account_id);

CREATE TABLE refresh_tokens (
    digest     BLOB    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    digest     BLOB    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
    tenant_id  TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

-- +goose Down
DROP TABLE access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE session_families;
DROP TABLE account_tokens;
DROP TABLE account_logins;
