-- The change log behind index_generations (store.ChangeTx;
-- docs/ARCHITECTURE.md, "Caches across nodes"), as SQLite's migration
-- 00021: every move of a tenant's count also records which memory moved it
-- (memory_id '' for the destruction of a subject key), in the writing
-- transaction, so that a node whose in-memory index is at count g catches
-- up by reloading only the memories changed after g. The last 8192
-- entries of each tenant are kept (store.IndexChangeLog). Ids and counts
-- only. Row-level security as on index_generations.
--
-- Each change also notifies channel engram_changes (delivered at commit;
-- one per distinct payload per transaction) so that other nodes learn of
-- it early (store.Notifier): "m:" and the tenant id for a memory, "s:" for
-- a subject key destroyed, "k:" for another key destroyed (a rotation
-- retires tenant key versions). The count stays the correctness check.

-- +goose Up
CREATE TABLE index_changes (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    gen       BIGINT NOT NULL,
    memory_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, gen)
);
ALTER TABLE index_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE index_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON index_changes USING (engram_tenant_visible(tenant_id));

-- +goose StatementBegin
CREATE FUNCTION engram_index_change(tenant text, memory text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    g bigint;
BEGIN
    INSERT INTO index_generations AS x (tenant_id, gen) VALUES (tenant, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = x.gen + 1
    RETURNING x.gen INTO g;
    INSERT INTO index_changes (tenant_id, gen, memory_id) VALUES (tenant, g, memory);
    DELETE FROM index_changes WHERE tenant_id = tenant AND gen <= g - 8192;
    PERFORM pg_notify('engram_changes', CASE WHEN memory = '' THEN 's:' ELSE 'm:' END || tenant);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION engram_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('engram_changes', 'k:' || OLD.tenant_id);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER keys_notify AFTER DELETE ON wrapped_keys
    FOR EACH ROW WHEN (OLD.purpose <> 'subject') EXECUTE FUNCTION engram_keys_notify();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION engram_index_gen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM engram_index_change(NEW.tenant_id, NEW.id);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM engram_index_change(OLD.tenant_id, OLD.id);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION engram_index_snapshots_shred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM engram_index_change(OLD.tenant_id, '');
    DELETE FROM index_snapshot_chunks WHERE tenant_id = OLD.tenant_id;
    DELETE FROM index_snapshots WHERE tenant_id = OLD.tenant_id;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS keys_notify ON wrapped_keys;
DROP FUNCTION IF EXISTS engram_keys_notify();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION engram_index_gen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO index_generations AS g (tenant_id, gen) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET gen = g.gen + 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO index_generations AS g (tenant_id, gen) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET gen = g.gen + 1;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION engram_index_snapshots_shred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO index_generations AS g (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = g.gen + 1;
    DELETE FROM index_snapshot_chunks WHERE tenant_id = OLD.tenant_id;
    DELETE FROM index_snapshots WHERE tenant_id = OLD.tenant_id;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

DROP FUNCTION engram_index_change(text, text);
DROP TABLE index_changes;
