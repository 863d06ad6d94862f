-- What SQLite's triggers keep up to date, kept by PostgreSQL's:
-- scope_stats (the BM25 corpus statistics of each scope) and
-- index_generations (the version of a tenant's in-memory indexes that a
-- sealed index snapshot must match), and the shredding of index snapshots
-- with a subject key.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION engram_scope_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE scope_stats SET docs = docs - 1, total_len = total_len - OLD.doc_len
         WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND agent_id = OLD.agent_id AND run_id = OLD.run_id;
        DELETE FROM scope_stats
         WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND agent_id = OLD.agent_id AND run_id = OLD.run_id
           AND docs <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO scope_stats AS s (tenant_id, user_id, agent_id, run_id, docs, total_len)
        VALUES (NEW.tenant_id, NEW.user_id, NEW.agent_id, NEW.run_id, 1, NEW.doc_len)
        ON CONFLICT (tenant_id, user_id, agent_id, run_id)
        DO UPDATE SET docs = s.docs + 1, total_len = s.total_len + excluded.total_len;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER scope_stats_insert AFTER INSERT ON memories
    FOR EACH ROW EXECUTE FUNCTION engram_scope_stats();
CREATE TRIGGER scope_stats_delete AFTER DELETE ON memories
    FOR EACH ROW EXECUTE FUNCTION engram_scope_stats();
CREATE TRIGGER scope_stats_update AFTER UPDATE OF tenant_id, user_id, agent_id, run_id, doc_len ON memories
    FOR EACH ROW EXECUTE FUNCTION engram_scope_stats();

-- +goose StatementBegin
CREATE FUNCTION engram_index_gen() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER index_gen_insert AFTER INSERT ON memories
    FOR EACH ROW EXECUTE FUNCTION engram_index_gen();
CREATE TRIGGER index_gen_update AFTER UPDATE ON memories
    FOR EACH ROW EXECUTE FUNCTION engram_index_gen();
CREATE TRIGGER index_gen_delete AFTER DELETE ON memories
    FOR EACH ROW EXECUTE FUNCTION engram_index_gen();

-- +goose StatementBegin
CREATE FUNCTION engram_index_snapshots_shred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO index_generations AS g (tenant_id, gen) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET gen = g.gen + 1;
    DELETE FROM index_snapshot_chunks WHERE tenant_id = OLD.tenant_id;
    DELETE FROM index_snapshots WHERE tenant_id = OLD.tenant_id;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER index_snapshots_shred AFTER DELETE ON wrapped_keys
    FOR EACH ROW WHEN (OLD.purpose = 'subject') EXECUTE FUNCTION engram_index_snapshots_shred();

-- +goose Down
DROP TRIGGER IF EXISTS index_snapshots_shred ON wrapped_keys;
DROP TRIGGER IF EXISTS index_gen_delete ON memories;
DROP TRIGGER IF EXISTS index_gen_update ON memories;
DROP TRIGGER IF EXISTS index_gen_insert ON memories;
DROP TRIGGER IF EXISTS scope_stats_update ON memories;
DROP TRIGGER IF EXISTS scope_stats_delete ON memories;
DROP TRIGGER IF EXISTS scope_stats_insert ON memories;
DROP FUNCTION IF EXISTS engram_index_snapshots_shred();
DROP FUNCTION IF EXISTS engram_index_gen();
DROP FUNCTION IF EXISTS engram_scope_stats();
