-- The PostgreSQL schema, as the SQLite store's migrations leave it (through
-- its 00020), in one step. The database is untrusted: sensitive values
-- arrive sealed (bytea) and search terms as blind tokens. Only ids, scope
-- ids, sizes, key versions and times (timestamptz) are stored in clear.
--
-- Later schema changes get their own migrations here, numbered on their own:
-- this directory need not follow SQLite's numbering.

-- +goose Up

CREATE TABLE tenants (
    id         TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    name       TEXT COLLATE "C"    NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE accounts (
    id         TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id  TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    role       TEXT COLLATE "C"    NOT NULL,
    subject     TEXT COLLATE "C"    NOT NULL,
    key_version BIGINT NOT NULL,
    name        BYTEA,
    email       BYTEA,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX accounts_tenant_id ON accounts (tenant_id, id);

CREATE TABLE api_keys (
    id             TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id      TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id     TEXT COLLATE "C"    NOT NULL,
    name           TEXT COLLATE "C"    NOT NULL,
    prefix         TEXT COLLATE "C"    NOT NULL,
    scopes         TEXT COLLATE "C"    NOT NULL DEFAULT '[]', -- JSON array of permissions
    secret_mac     BYTEA    NOT NULL,
    pepper_version BIGINT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ,
    revoked_at     TIMESTAMPTZ,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE INDEX api_keys_account ON api_keys (tenant_id, account_id);

CREATE TABLE wrapped_keys (
    tenant_id  TEXT COLLATE "C"    NOT NULL,
    purpose    TEXT COLLATE "C"    NOT NULL,
    owner      TEXT COLLATE "C"    NOT NULL DEFAULT '',
    version    BIGINT NOT NULL,
    -- The version of the key that wraps this one (0 for KEK-wrapped keys):
    -- a parent version can be destroyed once nothing names it here.
    parent_version BIGINT NOT NULL DEFAULT 0,
    wrapped    BYTEA    NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, purpose, owner, version)
);

CREATE TABLE tenant_keks (
    tenant_id  TEXT COLLATE "C"    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    provider   TEXT COLLATE "C"    NOT NULL,
    config     BYTEA    NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE memories (
    id          TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id   TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C"    NOT NULL DEFAULT '',
    agent_id    TEXT COLLATE "C"    NOT NULL DEFAULT '',
    run_id      TEXT COLLATE "C"    NOT NULL DEFAULT '',
    subject     TEXT COLLATE "C"    NOT NULL,
    key_version BIGINT NOT NULL, -- version of the subject key that seals it
    content     BYTEA    NOT NULL,
    metadata    BYTEA,
    content_mac BYTEA    NOT NULL,
    -- The embedding, sealed like the content (embeddings can be inverted
    -- back to text), and the model that made it ('' when none yet).
    vector       BYTEA,
    vector_model TEXT COLLATE "C"   NOT NULL DEFAULT '',
    doc_len     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
, author_account_id TEXT COLLATE "C", visibility TEXT COLLATE "C" NOT NULL DEFAULT 'shared'
    CHECK (visibility IN ('shared', 'private')), expires_at TIMESTAMPTZ);

CREATE UNIQUE INDEX memories_tenant ON memories (tenant_id, id);

CREATE INDEX memories_user ON memories (tenant_id, user_id, id);

CREATE INDEX memories_agent ON memories (tenant_id, agent_id, id);

CREATE INDEX memories_run ON memories (tenant_id, run_id, id);

CREATE INDEX memories_mac ON memories (tenant_id, content_mac);

CREATE INDEX memories_subject ON memories (tenant_id, subject, key_version);

CREATE TABLE history (
    id         TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id  TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    memory_id  TEXT COLLATE "C"    NOT NULL,
    subject    TEXT COLLATE "C"    NOT NULL,
    key_version BIGINT NOT NULL,
    event      TEXT COLLATE "C"    NOT NULL,
    old        BYTEA,
    new        BYTEA,
    created_at TIMESTAMPTZ NOT NULL
, author_account_id TEXT COLLATE "C", visibility TEXT COLLATE "C" NOT NULL DEFAULT 'shared'
    CHECK (visibility IN ('shared', 'private')));

CREATE INDEX history_memory ON history (tenant_id, memory_id, created_at);

CREATE INDEX history_subject ON history (tenant_id, subject, key_version);

CREATE TABLE postings (
    tenant_id TEXT COLLATE "C"    NOT NULL,
    token     BYTEA    NOT NULL,
    memory_id TEXT COLLATE "C"    NOT NULL,
    tf        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, token, memory_id),
    FOREIGN KEY (tenant_id, memory_id) REFERENCES memories (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE audit_entries (
    tenant_id   TEXT COLLATE "C"    NOT NULL,
    seq         BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL, 
    actor       TEXT COLLATE "C"    NOT NULL DEFAULT '',
    key_id      TEXT COLLATE "C"    NOT NULL DEFAULT '',
    action      TEXT COLLATE "C"    NOT NULL,
    target_type TEXT COLLATE "C"    NOT NULL DEFAULT '',
    target_id   TEXT COLLATE "C"    NOT NULL DEFAULT '',
    outcome     TEXT COLLATE "C"    NOT NULL,
    reason      TEXT COLLATE "C"    NOT NULL DEFAULT '',
    ip          TEXT COLLATE "C"    NOT NULL DEFAULT '',
    request_id  TEXT COLLATE "C"    NOT NULL DEFAULT '',
    transport   TEXT COLLATE "C"    NOT NULL DEFAULT '',
    key_version BIGINT NOT NULL,
    mac         BYTEA    NOT NULL, count BIGINT NOT NULL DEFAULT 0, detail TEXT COLLATE "C" NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor, seq);

CREATE INDEX audit_entries_target ON audit_entries (tenant_id, target_id, seq);

CREATE TABLE audit_heads (
    tenant_id   TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    seq         BIGINT NOT NULL,
    mac         BYTEA    NOT NULL,
    key_version BIGINT NOT NULL,
    head_mac    BYTEA    NOT NULL
);

CREATE TABLE audit_trees (
    tenant_id TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    size      BIGINT NOT NULL,
    frontier  BYTEA    NOT NULL
);

CREATE TABLE audit_segments (
    tenant_id   TEXT COLLATE "C"    NOT NULL,
    first_seq   BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    root        BYTEA    NOT NULL,
    range_hashes BYTEA   NOT NULL,
    tree_size   BIGINT NOT NULL,
    tree_root   BYTEA    NOT NULL,
    checkpoint  BYTEA    NOT NULL,
    chain_mac   BYTEA    NOT NULL,
    sealed_at   TIMESTAMPTZ NOT NULL, 
    dropped_at  TIMESTAMPTZ,          -- NULL while entries are kept
    PRIMARY KEY (tenant_id, first_seq)
);

CREATE TABLE audit_nodes (
    tenant_id TEXT COLLATE "C"    NOT NULL,
    level     BIGINT NOT NULL,
    idx       BIGINT NOT NULL,
    hash      BYTEA    NOT NULL,
    PRIMARY KEY (tenant_id, level, idx)
);

CREATE TABLE audit_retention (
    tenant_id TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    days      BIGINT NOT NULL
);

CREATE TABLE audit_holds (
    tenant_id   TEXT COLLATE "C"    NOT NULL,
    id          TEXT COLLATE "C"    NOT NULL,
    user_ref    TEXT COLLATE "C"    NOT NULL DEFAULT '',
    reason_code TEXT COLLATE "C"    NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE scope_stats (
    tenant_id TEXT COLLATE "C"    NOT NULL,
    user_id   TEXT COLLATE "C"    NOT NULL,
    agent_id  TEXT COLLATE "C"    NOT NULL,
    run_id    TEXT COLLATE "C"    NOT NULL,
    docs      BIGINT NOT NULL,
    total_len BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, agent_id, run_id)
);

CREATE TABLE audit_published (
    tenant_id TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    seq       BIGINT NOT NULL
);

CREATE INDEX postings_memory ON postings (memory_id, tenant_id, token, tf);

CREATE TABLE idempotency (
    tenant_id    TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal    TEXT COLLATE "C"    NOT NULL,
    key          TEXT COLLATE "C"    NOT NULL,
    request_hash BYTEA    NOT NULL,
    result       BYTEA    NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, principal, key)
);

CREATE INDEX idempotency_created ON idempotency (created_at);

CREATE TABLE episodes (
    id          TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id   TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C"    NOT NULL DEFAULT '',
    agent_id    TEXT COLLATE "C"    NOT NULL DEFAULT '',
    run_id      TEXT COLLATE "C"    NOT NULL DEFAULT '',
    subject     TEXT COLLATE "C"    NOT NULL,
    key_version BIGINT NOT NULL,
    status      TEXT COLLATE "C"    NOT NULL,
    extractor   TEXT COLLATE "C"    NOT NULL,
    messages    BYTEA,
    result      TEXT COLLATE "C"    NOT NULL DEFAULT '{}',
    error_code  TEXT COLLATE "C"    NOT NULL DEFAULT '',
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX episodes_user ON episodes (tenant_id, user_id, id);

CREATE INDEX episodes_subject ON episodes (tenant_id, subject, key_version);

CREATE INDEX episodes_status ON episodes (status, id);

CREATE TABLE entities (
    id          TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id   TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT COLLATE "C"    NOT NULL DEFAULT '',
    subject     TEXT COLLATE "C"    NOT NULL,
    key_version BIGINT NOT NULL,
    type        TEXT COLLATE "C"    NOT NULL,
    body        BYTEA    NOT NULL,
    mentions    BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX entities_tenant ON entities (tenant_id, id);

CREATE INDEX entities_user ON entities (tenant_id, user_id, id);

CREATE INDEX entities_subject ON entities (tenant_id, subject, key_version);

CREATE TABLE entity_keys (
    tenant_id TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C" NOT NULL,
    token     BYTEA NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, user_id, token, entity_id),
    FOREIGN KEY (tenant_id, entity_id) REFERENCES entities (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX entity_keys_entity ON entity_keys (tenant_id, entity_id);

CREATE TABLE facts (
    id             TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id      TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id        TEXT COLLATE "C"    NOT NULL DEFAULT '',
    agent_id       TEXT COLLATE "C"    NOT NULL DEFAULT '',
    run_id         TEXT COLLATE "C"    NOT NULL DEFAULT '',
    subject        TEXT COLLATE "C"    NOT NULL,
    key_version    BIGINT NOT NULL,
    subject_entity TEXT COLLATE "C"    NOT NULL,
    object_entity  TEXT COLLATE "C"    NOT NULL DEFAULT '',
    predicate_tok  BYTEA    NOT NULL,
    body           BYTEA    NOT NULL,
    episodes       TEXT COLLATE "C"    NOT NULL DEFAULT '[]',
    valid_at       TIMESTAMPTZ NOT NULL,
    invalid_at     TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    expired_at     TIMESTAMPTZ,
    vector         BYTEA,
    vector_model   TEXT COLLATE "C"    NOT NULL DEFAULT ''
);

CREATE INDEX facts_user ON facts (tenant_id, user_id, id);

CREATE INDEX facts_subject_entity ON facts (tenant_id, subject_entity);

CREATE INDEX facts_object_entity ON facts (tenant_id, object_entity);

CREATE INDEX facts_subject ON facts (tenant_id, subject, key_version);

CREATE TABLE entity_mentions (
    tenant_id TEXT COLLATE "C" NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    memory_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, memory_id),
    FOREIGN KEY (tenant_id, entity_id) REFERENCES entities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, memory_id) REFERENCES memories (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX entity_mentions_memory ON entity_mentions (tenant_id, memory_id);

CREATE TABLE memory_topics (
    tenant_id TEXT COLLATE "C" NOT NULL,
    memory_id TEXT COLLATE "C" NOT NULL,
    user_id   TEXT COLLATE "C" NOT NULL DEFAULT '',
    token     BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, memory_id, token),
    FOREIGN KEY (tenant_id, memory_id) REFERENCES memories (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX memory_topics_user ON memory_topics (tenant_id, user_id, token);

CREATE TABLE tenant_settings (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name      TEXT COLLATE "C" NOT NULL,
    value     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE account_logins (
    account_id        TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id         TEXT COLLATE "C"    NOT NULL,
    email_index       BYTEA    NOT NULL,
    password_hash     TEXT COLLATE "C",
    email_verified_at TIMESTAMPTZ,
    activated_at      TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX account_logins_tenant_email ON account_logins (tenant_id, email_index);

CREATE INDEX account_logins_email ON account_logins (email_index);

CREATE TABLE account_tokens (
    digest     BYTEA    NOT NULL PRIMARY KEY,
    tenant_id  TEXT COLLATE "C"    NOT NULL,
    account_id TEXT COLLATE "C"    NOT NULL,
    purpose    TEXT COLLATE "C"    NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX account_tokens_account ON account_tokens (tenant_id, account_id, purpose);

CREATE INDEX account_tokens_expiry ON account_tokens (expires_at);

CREATE TABLE session_families (
    id            TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    tenant_id     TEXT COLLATE "C"    NOT NULL,
    account_id    TEXT COLLATE "C"    NOT NULL,
    method        TEXT COLLATE "C"    NOT NULL,
    scopes        TEXT COLLATE "C",   -- JSON array; NULL for a person's own session
    client_id     TEXT COLLATE "C"    NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    revoked_at    TIMESTAMPTZ,
    revoke_reason TEXT COLLATE "C"    NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX session_families_account ON session_families (tenant_id, account_id);

CREATE TABLE refresh_tokens (
    digest     BYTEA    NOT NULL PRIMARY KEY,
    family_id  TEXT COLLATE "C"    NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    spent_at   TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    digest     BYTEA    NOT NULL PRIMARY KEY,
    family_id  TEXT COLLATE "C"    NOT NULL REFERENCES session_families (id) ON DELETE CASCADE,
    tenant_id  TEXT COLLATE "C"    NOT NULL,
    account_id TEXT COLLATE "C"    NOT NULL,
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX access_tokens_family ON access_tokens (family_id);

CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE sso_configs (
    tenant_id   TEXT COLLATE "C"    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C"    NOT NULL CHECK (kind IN ('oidc', 'saml')),
    subject     TEXT COLLATE "C"    NOT NULL,
    key_version BIGINT NOT NULL,
    config      BYTEA    NOT NULL,
    policy      TEXT COLLATE "C"    NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE sso_identities (
    tenant_id  TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issuer     TEXT COLLATE "C"    NOT NULL,
    subject    TEXT COLLATE "C"    NOT NULL,
    account_id TEXT COLLATE "C"    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, issuer, subject)
);

CREATE INDEX sso_identities_account ON sso_identities (tenant_id, account_id);

CREATE TABLE saml_assertions (
    scope      TEXT COLLATE "C"    NOT NULL,
    id         TEXT COLLATE "C"    NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, id)
);

CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);

CREATE TABLE oauth_clients (
    id            TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    name          TEXT COLLATE "C"    NOT NULL,
    redirect_uris TEXT COLLATE "C"    NOT NULL, -- JSON array
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE oauth_codes (
    digest       BYTEA    NOT NULL PRIMARY KEY,
    client_id    TEXT COLLATE "C"    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    redirect_uri TEXT COLLATE "C"    NOT NULL,
    challenge    TEXT COLLATE "C"    NOT NULL,
    resource     TEXT COLLATE "C"    NOT NULL,
    tenant_id    TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id   TEXT COLLATE "C"    NOT NULL,
    scopes       TEXT COLLATE "C"    NOT NULL, -- JSON array
    issued_at    TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    spent_at     TIMESTAMPTZ,
    family_id    TEXT COLLATE "C"    NOT NULL DEFAULT ''
);

CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

CREATE INDEX oauth_codes_tenant ON oauth_codes (tenant_id);

CREATE INDEX memories_author ON memories (tenant_id, author_account_id, id);

CREATE INDEX memories_expiry ON memories (tenant_id, expires_at) WHERE expires_at IS NOT NULL;

CREATE INDEX memories_created ON memories (tenant_id, created_at);

CREATE TABLE deletions (
    tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id           TEXT COLLATE "C" NOT NULL,
    kind         TEXT COLLATE "C" NOT NULL CHECK (kind IN ('account', 'user')),
    subject_id   TEXT COLLATE "C" NOT NULL,
    subject_ref  TEXT COLLATE "C" NOT NULL,
    state        TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'cancelled', 'done')),
    requested_at TIMESTAMPTZ NOT NULL,
    scheduled_at TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX deletions_pending ON deletions (tenant_id, kind, subject_id) WHERE state = 'pending';

CREATE INDEX deletions_due ON deletions (scheduled_at) WHERE state = 'pending';

CREATE INDEX episodes_text_age ON episodes (tenant_id, created_at) WHERE messages IS NOT NULL;

CREATE TABLE index_generations (
    tenant_id TEXT COLLATE "C"    NOT NULL PRIMARY KEY,
    gen       BIGINT NOT NULL
);

CREATE TABLE index_snapshots (
    tenant_id   TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C"    NOT NULL, -- 'vectors'
    snapshot_id TEXT COLLATE "C"    NOT NULL,
    gen         BIGINT NOT NULL, -- index_generations.gen it was taken at
    model       TEXT COLLATE "C"    NOT NULL, -- what made its content (the embedding model)
    chunks      BIGINT NOT NULL,
    entries     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

CREATE TABLE index_snapshot_chunks (
    tenant_id   TEXT COLLATE "C"    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT COLLATE "C"    NOT NULL,
    snapshot_id TEXT COLLATE "C"    NOT NULL,
    seq         BIGINT NOT NULL,
    subject     TEXT COLLATE "C"    NOT NULL, -- the key subject whose key seals it
    key_version BIGINT NOT NULL,
    body        BYTEA    NOT NULL,
    PRIMARY KEY (tenant_id, kind, snapshot_id, seq)
);

CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id, visibility, author_account_id,
    created_at, expires_at);


-- +goose Down
DROP TABLE IF EXISTS index_snapshot_chunks CASCADE;
DROP TABLE IF EXISTS index_snapshots CASCADE;
DROP TABLE IF EXISTS index_generations CASCADE;
DROP TABLE IF EXISTS deletions CASCADE;
DROP TABLE IF EXISTS oauth_codes CASCADE;
DROP TABLE IF EXISTS oauth_clients CASCADE;
DROP TABLE IF EXISTS saml_assertions CASCADE;
DROP TABLE IF EXISTS sso_identities CASCADE;
DROP TABLE IF EXISTS sso_configs CASCADE;
DROP TABLE IF EXISTS access_tokens CASCADE;
DROP TABLE IF EXISTS refresh_tokens CASCADE;
DROP TABLE IF EXISTS session_families CASCADE;
DROP TABLE IF EXISTS account_tokens CASCADE;
DROP TABLE IF EXISTS account_logins CASCADE;
DROP TABLE IF EXISTS tenant_settings CASCADE;
DROP TABLE IF EXISTS memory_topics CASCADE;
DROP TABLE IF EXISTS entity_mentions CASCADE;
DROP TABLE IF EXISTS facts CASCADE;
DROP TABLE IF EXISTS entity_keys CASCADE;
DROP TABLE IF EXISTS entities CASCADE;
DROP TABLE IF EXISTS episodes CASCADE;
DROP TABLE IF EXISTS idempotency CASCADE;
DROP TABLE IF EXISTS audit_published CASCADE;
DROP TABLE IF EXISTS scope_stats CASCADE;
DROP TABLE IF EXISTS audit_holds CASCADE;
DROP TABLE IF EXISTS audit_retention CASCADE;
DROP TABLE IF EXISTS audit_nodes CASCADE;
DROP TABLE IF EXISTS audit_segments CASCADE;
DROP TABLE IF EXISTS audit_trees CASCADE;
DROP TABLE IF EXISTS audit_heads CASCADE;
DROP TABLE IF EXISTS audit_entries CASCADE;
DROP TABLE IF EXISTS postings CASCADE;
DROP TABLE IF EXISTS history CASCADE;
DROP TABLE IF EXISTS memories CASCADE;
DROP TABLE IF EXISTS tenant_keks CASCADE;
DROP TABLE IF EXISTS wrapped_keys CASCADE;
DROP TABLE IF EXISTS api_keys CASCADE;
DROP TABLE IF EXISTS accounts CASCADE;
DROP TABLE IF EXISTS tenants CASCADE;
