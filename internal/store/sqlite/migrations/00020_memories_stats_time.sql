-- A search ranks its 100–200 candidates on what the in-memory indexes say
-- and on each candidate's scope, visibility, creation time and expiry
-- (MemoryHeads), and decrypts only the few it returns. memories_stats
-- already covers the scope and visibility; it now covers the two times too,
-- so that ranking reads no candidate's row (each holds a sealed ~2 KB
-- vector) and only the returned memories are read whole.

-- +goose Up
DROP INDEX memories_stats;
CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id, visibility, author_account_id,
    created_at, expires_at);

-- +goose Down
DROP INDEX memories_stats;
CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id, visibility, author_account_id);
