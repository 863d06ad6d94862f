-- Observe (docs/OBSERVE.md): episodes, entities, facts, the links between
-- memories and entities, and topic labels. As everywhere, every name, alias,
-- predicate, value, sentence and message is sealed (BLOB), and everything a
-- query must compare arrives as a blind token: only ids, scope ids, the
-- coarse entity type, times and counts are in clear.

-- +goose Up
-- An observed conversation. messages is NULL once the tenant's data
-- minimisation discarded it after extraction; result holds ids and events
-- only (JSON), never text.
CREATE TABLE episodes (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT    NOT NULL DEFAULT '',
    agent_id    TEXT    NOT NULL DEFAULT '',
    run_id      TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    extractor   TEXT    NOT NULL,
    messages    BLOB,
    result      TEXT    NOT NULL DEFAULT '{}',
    error_code  TEXT    NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX episodes_user ON episodes (tenant_id, user_id, id);
CREATE INDEX episodes_subject ON episodes (tenant_id, subject, key_version);
CREATE INDEX episodes_status ON episodes (status, id);

-- An entity is its own key subject (subject = 'e:' || id), so forgetting it
-- destroys its key. body seals its name, aliases and the caller's label.
CREATE TABLE entities (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL,
    key_version INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    mentions    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX entities_tenant ON entities (tenant_id, id);
CREATE INDEX entities_user ON entities (tenant_id, user_id, id);
CREATE INDEX entities_subject ON entities (tenant_id, subject, key_version);

-- The blind index of entity names: one row per key of entity.EntityKeys,
-- each an HMAC under a per-tenant key. Resolution looks up the tokens of a
-- mention within (tenant, user).
CREATE TABLE entity_keys (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    token     BLOB NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, token, entity_id),
    FOREIGN KEY (tenant_id, entity_id) REFERENCES entities (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX entity_keys_entity ON entity_keys (tenant_id, entity_id);

-- A fact, sealed under the key of its scope's subject (like memories).
-- body seals predicate, value and sentence; predicate_tok is the blind token
-- of the predicate, for filtering; episodes is a JSON array of ids.
CREATE TABLE facts (
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id        TEXT    NOT NULL DEFAULT '',
    agent_id       TEXT    NOT NULL DEFAULT '',
    run_id         TEXT    NOT NULL DEFAULT '',
    subject        TEXT    NOT NULL,
    key_version    INTEGER NOT NULL,
    subject_entity TEXT    NOT NULL,
    object_entity  TEXT    NOT NULL DEFAULT '',
    predicate_tok  BLOB    NOT NULL,
    body           BLOB    NOT NULL,
    episodes       TEXT    NOT NULL DEFAULT '[]',
    valid_at       INTEGER NOT NULL,
    invalid_at     INTEGER,
    created_at     INTEGER NOT NULL,
    expired_at     INTEGER,
    vector         BLOB,
    vector_model   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX facts_user ON facts (tenant_id, user_id, id);
CREATE INDEX facts_subject_entity ON facts (tenant_id, subject_entity);
CREATE INDEX facts_object_entity ON facts (tenant_id, object_entity);
CREATE INDEX facts_subject ON facts (tenant_id, subject, key_version);

-- Which memories mention which entities: the graph signal of search.
CREATE TABLE entity_mentions (
    tenant_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    memory_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, memory_id),
    FOREIGN KEY (tenant_id, entity_id) REFERENCES entities (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, memory_id) REFERENCES memories (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX entity_mentions_memory ON entity_mentions (tenant_id, memory_id);

-- Topic labels of memories, each a blind token of the label.
CREATE TABLE memory_topics (
    tenant_id TEXT NOT NULL,
    memory_id TEXT NOT NULL,
    user_id   TEXT NOT NULL DEFAULT '',
    token     BLOB NOT NULL,
    PRIMARY KEY (tenant_id, memory_id, token),
    FOREIGN KEY (tenant_id, memory_id) REFERENCES memories (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX memory_topics_user ON memory_topics (tenant_id, user_id, token);

-- Per-tenant settings (name -> value), e.g. data minimisation.
CREATE TABLE tenant_settings (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE tenant_settings;
DROP TABLE memory_topics;
DROP TABLE entity_mentions;
DROP TABLE facts;
DROP TABLE entity_keys;
DROP TABLE entities;
DROP TABLE episodes;
