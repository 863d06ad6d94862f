-- A search reads, besides the postings of its tokens, the length and scope
-- of every memory they point at, and the number and total length of the
-- memories in scope (BM25's statistics). Read from the table, each of those
-- is a visit to a wide row (sealed content and vector); this covering index
-- answers both from compact index entries: the join by (tenant_id, id), and
-- the statistics for any combination of scope fields.

-- +goose Up
CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id);

-- +goose Down
DROP INDEX memories_stats;
