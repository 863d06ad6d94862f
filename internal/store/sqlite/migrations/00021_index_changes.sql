-- The change log behind index_generations (store.ChangeTx;
-- docs/ARCHITECTURE.md, "Caches across nodes"). Every move of a tenant's
-- count also records which memory moved it (memory_id '' for the
-- destruction of a subject key), in the writing transaction, so that a
-- process whose in-memory index is at count g can catch up by reloading
-- only the memories changed after g instead of the whole index. The last
-- 8192 entries of each tenant are kept (store.IndexChangeLog): each new
-- entry deletes the one 8192 counts older. Ids and counts only.

-- +goose Up
CREATE TABLE index_changes (
    tenant_id TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    gen       INTEGER NOT NULL, -- index_generations.gen this change moved it to
    memory_id TEXT    NOT NULL, -- '' when a subject key was destroyed
    PRIMARY KEY (tenant_id, gen)
) WITHOUT ROWID;

-- The log keeps a tenant's last 8192 entries: each move of the count
-- deletes the entry 8192 counts older.
-- +goose StatementBegin
CREATE TRIGGER index_changes_prune AFTER UPDATE OF gen ON index_generations BEGIN
    DELETE FROM index_changes WHERE tenant_id = NEW.tenant_id AND gen <= NEW.gen - 8192;
END;
-- +goose StatementEnd

DROP TRIGGER index_gen_insert;
DROP TRIGGER index_gen_update;
DROP TRIGGER index_gen_delete;
DROP TRIGGER index_snapshots_shred;

-- +goose StatementBegin
CREATE TRIGGER index_gen_insert AFTER INSERT ON memories BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO index_changes (tenant_id, gen, memory_id)
    SELECT tenant_id, gen, NEW.id FROM index_generations WHERE tenant_id = NEW.tenant_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER index_gen_update AFTER UPDATE ON memories BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO index_changes (tenant_id, gen, memory_id)
    SELECT tenant_id, gen, NEW.id FROM index_generations WHERE tenant_id = NEW.tenant_id;
    INSERT INTO index_generations (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO index_changes (tenant_id, gen, memory_id)
    SELECT tenant_id, gen, OLD.id FROM index_generations WHERE tenant_id = OLD.tenant_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER index_gen_delete AFTER DELETE ON memories BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO index_changes (tenant_id, gen, memory_id)
    SELECT tenant_id, gen, OLD.id FROM index_generations WHERE tenant_id = OLD.tenant_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER index_snapshots_shred AFTER DELETE ON wrapped_keys WHEN OLD.purpose = 'subject' BEGIN
    INSERT INTO index_generations (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = gen + 1;
    INSERT INTO index_changes (tenant_id, gen, memory_id)
    SELECT tenant_id, gen, '' FROM index_generations WHERE tenant_id = OLD.tenant_id;
    DELETE FROM index_snapshot_chunks WHERE tenant_id = OLD.tenant_id;
    DELETE FROM index_snapshots WHERE tenant_id = OLD.tenant_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER index_changes_prune;
DROP TRIGGER index_gen_insert;
DROP TRIGGER index_gen_update;
DROP TRIGGER index_gen_delete;
DROP TRIGGER index_snapshots_shred;

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

DROP TABLE index_changes;
