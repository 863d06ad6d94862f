-- The database is untrusted: sensitive values arrive sealed (BLOB) and search
-- terms arrive as blind tokens. Only ids, scope ids, sizes, key versions and
-- timestamps (INTEGER Unix microseconds, UTC) are stored in clear.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    name        BLOB,
    email       BLOB,
    created_at  INTEGER NOT NULL
);
-- Parent key of api_keys (tenant_id, account_id): a key can only belong to
-- an account of its own tenant.
CREATE UNIQUE INDEX accounts_tenant_id ON accounts (tenant_id, id);

CREATE TABLE api_keys (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id     TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    prefix         TEXT    NOT NULL,
    scopes         TEXT    NOT NULL DEFAULT '[]', -- JSON array of permissions
    secret_mac     BLOB    NOT NULL,
    pepper_version INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER,
    last_used_at   INTEGER,
    revoked_at     INTEGER,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);
CREATE INDEX api_keys_account ON api_keys (tenant_id, account_id);

-- tenant_id is '' for system keys, so it cannot reference tenants.
CREATE TABLE wrapped_keys (
    tenant_id  TEXT    NOT NULL,
    purpose    TEXT    NOT NULL,
    owner      TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL,
    -- The version of the key that wraps this one (0 for KEK-wrapped keys):
    -- a parent version can be destroyed once nothing names it here.
    parent_version INTEGER NOT NULL DEFAULT 0,
    wrapped    BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, purpose, owner, version)
) WITHOUT ROWID;

-- A tenant's own KEK (bring your own key): config is wrapped by the system
-- KEK because it holds the provider's credentials.
CREATE TABLE tenant_keks (
    tenant_id  TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    provider   TEXT    NOT NULL,
    config     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE memories (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT    NOT NULL DEFAULT '',
    agent_id    TEXT    NOT NULL DEFAULT '',
    run_id      TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL,
    key_version INTEGER NOT NULL, -- version of the subject key that seals it
    content     BLOB    NOT NULL,
    metadata    BLOB,
    content_mac BLOB    NOT NULL,
    -- The embedding, sealed like the content (embeddings can be inverted
    -- back to text), and the model that made it ('' when none yet).
    vector       BLOB,
    vector_model TEXT   NOT NULL DEFAULT '',
    doc_len     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- Unique so that postings can reference (tenant_id, id): a posting can never
-- point at another tenant's memory.
CREATE UNIQUE INDEX memories_tenant ON memories (tenant_id, id);
CREATE INDEX memories_user ON memories (tenant_id, user_id, id);
CREATE INDEX memories_agent ON memories (tenant_id, agent_id, id);
CREATE INDEX memories_run ON memories (tenant_id, run_id, id);
CREATE INDEX memories_mac ON memories (tenant_id, content_mac);
-- Erasure and re-encryption find a subject's records.
CREATE INDEX memories_subject ON memories (tenant_id, subject, key_version);

-- History outlives the memory it describes, so it references only the tenant.
CREATE TABLE history (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    memory_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    event      TEXT    NOT NULL,
    old        BLOB,
    new        BLOB,
    created_at INTEGER NOT NULL
);
CREATE INDEX history_memory ON history (tenant_id, memory_id, created_at);
CREATE INDEX history_subject ON history (tenant_id, subject, key_version);

-- The inverted index: a search reads the rows of a few tokens, hence the
-- token-first key clustered WITHOUT ROWID.
CREATE TABLE postings (
    tenant_id TEXT    NOT NULL,
    token     BLOB    NOT NULL,
    memory_id TEXT    NOT NULL,
    tf        INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, token, memory_id),
    FOREIGN KEY (tenant_id, memory_id) REFERENCES memories (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
-- Deleting or updating a memory removes its postings by memory id.
CREATE INDEX postings_memory ON postings (memory_id, tenant_id);

CREATE TABLE idempotency (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    result       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
-- Expiry sweeps every tenant by age.
CREATE INDEX idempotency_created ON idempotency (created_at);

-- +goose Down
DROP TABLE idempotency;
DROP TABLE postings;
DROP TABLE history;
DROP TABLE memories;
DROP TABLE tenant_keks;
DROP TABLE wrapped_keys;
DROP TABLE api_keys;
DROP TABLE accounts;
DROP TABLE tenants;
