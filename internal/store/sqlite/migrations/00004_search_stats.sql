-- A search reads, besides the postings of its tokens, the length and scope
-- of every memory they point at, and the number and total length of the
-- memories in scope (BM25's statistics). Read from the memories table, both
-- visit wide rows (sealed content and vector), and the statistics visit
-- every memory of the tenant on every search.
--
-- memories_stats covers search's join by (tenant_id, id). scope_stats keeps
-- the statistics per combination of scope fields, maintained by triggers in
-- the writing transaction, so a search sums a handful of rows instead of
-- counting the tenant.

-- +goose Up
CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id);

CREATE TABLE scope_stats (
    tenant_id TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    agent_id  TEXT    NOT NULL,
    run_id    TEXT    NOT NULL,
    docs      INTEGER NOT NULL,
    total_len INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, agent_id, run_id)
) WITHOUT ROWID;

INSERT INTO scope_stats (tenant_id, user_id, agent_id, run_id, docs, total_len)
SELECT tenant_id, user_id, agent_id, run_id, COUNT(*), SUM(doc_len) FROM memories
 GROUP BY tenant_id, user_id, agent_id, run_id;

-- +goose StatementBegin
CREATE TRIGGER scope_stats_insert AFTER INSERT ON memories BEGIN
    INSERT INTO scope_stats (tenant_id, user_id, agent_id, run_id, docs, total_len)
    VALUES (NEW.tenant_id, NEW.user_id, NEW.agent_id, NEW.run_id, 1, NEW.doc_len)
    ON CONFLICT (tenant_id, user_id, agent_id, run_id)
    DO UPDATE SET docs = docs + 1, total_len = total_len + excluded.total_len;
END;
-- +goose StatementEnd

-- A scope whose last memory goes loses its row, so an erased tenant or
-- user leaves no scope ids behind.
-- +goose StatementBegin
CREATE TRIGGER scope_stats_delete AFTER DELETE ON memories BEGIN
    UPDATE scope_stats SET docs = docs - 1, total_len = total_len - OLD.doc_len
     WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND agent_id = OLD.agent_id AND run_id = OLD.run_id;
    DELETE FROM scope_stats
     WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND agent_id = OLD.agent_id AND run_id = OLD.run_id
       AND docs <= 0;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER scope_stats_update AFTER UPDATE OF tenant_id, user_id, agent_id, run_id, doc_len ON memories BEGIN
    UPDATE scope_stats SET docs = docs - 1, total_len = total_len - OLD.doc_len
     WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND agent_id = OLD.agent_id AND run_id = OLD.run_id;
    DELETE FROM scope_stats
     WHERE tenant_id = OLD.tenant_id AND user_id = OLD.user_id AND agent_id = OLD.agent_id AND run_id = OLD.run_id
       AND docs <= 0;
    INSERT INTO scope_stats (tenant_id, user_id, agent_id, run_id, docs, total_len)
    VALUES (NEW.tenant_id, NEW.user_id, NEW.agent_id, NEW.run_id, 1, NEW.doc_len)
    ON CONFLICT (tenant_id, user_id, agent_id, run_id)
    DO UPDATE SET docs = docs + 1, total_len = total_len + excluded.total_len;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER scope_stats_update;
DROP TRIGGER scope_stats_delete;
DROP TRIGGER scope_stats_insert;
DROP TABLE scope_stats;
DROP INDEX memories_stats;
