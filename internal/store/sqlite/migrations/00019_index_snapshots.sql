-- Snapshots of a tenant's in-memory search indexes (docs/ARCHITECTURE.md,
-- "Index snapshots"), so that a restart or an eviction reloads an index
-- from a few large sealed chunks instead of opening every memory's sealed
-- vector one by one.
--
-- index_generations counts, per tenant, every change to its memories and
-- every destruction of one of its subject keys, maintained by triggers in
-- the writing transaction: whoever writes (serve, an offline CLI command,
-- another node), the count moves. A snapshot records the count it was
-- taken at and is used only while the count is still that.
--
-- A snapshot is a header (index_snapshots) naming the chunks of its id
-- (index_snapshot_chunks). Chunks are written in several transactions and
-- the header last, replacing the previous snapshot and its chunks. Each
-- chunk holds the entries of one key subject, sealed under that subject's
-- key: destroying a subject key (erasing a user) shreds its share of every
-- snapshot as it shreds the memories, and the trigger below also deletes
-- the tenant's snapshots in the erasing transaction.

-- +goose Up
CREATE TABLE index_generations (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    gen       INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO index_generations (tenant_id, gen) SELECT id, 1 FROM tenants;

CREATE TABLE index_snapshots (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL, -- 'vectors'
    snapshot_id TEXT    NOT NULL,
    gen         INTEGER NOT NULL, -- index_generations.gen it was taken at
    model       TEXT    NOT NULL, -- what made its content (the embedding model)
    chunks      INTEGER NOT NULL,
    entries     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

CREATE TABLE index_snapshot_chunks (
    tenant_id   TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    snapshot_id TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    subject     TEXT    NOT NULL, -- the key subject whose key seals it
    key_version INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, kind, snapshot_id, seq)
);

-- +goose StatementBegin
CREATE TRIGGER index_gen_insert AFTER INSERT ON memories BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER index_gen_update AFTER UPDATE ON memories BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO index_generations (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER index_gen_delete AFTER DELETE ON memories BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER index_snapshots_shred AFTER DELETE ON wrapped_keys WHEN OLD.purpose = 'subject' BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    DELETE FROM index_snapshot_chunks WHERE tenant_id = OLD.tenant_id;
    DELETE FROM index_snapshots WHERE tenant_id = OLD.tenant_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER index_snapshots_shred;
DROP TRIGGER index_gen_delete;
DROP TRIGGER index_gen_update;
DROP TRIGGER index_gen_insert;
DROP TABLE index_snapshot_chunks;
DROP TABLE index_snapshots;
DROP TABLE index_generations;
