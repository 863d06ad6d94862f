-- Memories gain an author and a visibility (docs/IDENTITY.md, "RBAC
-- enforcement"). author_account_id is the account whose session or key
-- wrote the memory: NULL for memories written before accounts, which are
-- the tenant's shared knowledge. visibility is 'shared' (the default, and
-- every existing row) or 'private' (only the author, and an owner, may
-- read it). History rows carry the same two columns, copied from their
-- memory when written, because history outlives the memory it describes
-- and must stay exactly as readable as the memory was.

-- +goose Up
ALTER TABLE memories ADD COLUMN author_account_id TEXT;
ALTER TABLE memories ADD COLUMN visibility TEXT NOT NULL DEFAULT 'shared'
    CHECK (visibility IN ('shared', 'private'));
ALTER TABLE history ADD COLUMN author_account_id TEXT;
ALTER TABLE history ADD COLUMN visibility TEXT NOT NULL DEFAULT 'shared'
    CHECK (visibility IN ('shared', 'private'));

-- The keyword search's join (memories_stats) covers the visibility filter
-- too, so filtering before ranking reads no wide row.
DROP INDEX memories_stats;
CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id, visibility, author_account_id);
-- A member's own memories (reach own) without scanning the tenant.
CREATE INDEX memories_author ON memories (tenant_id, author_account_id, id);

-- +goose Down
DROP INDEX memories_author;
DROP INDEX memories_stats;
CREATE INDEX memories_stats ON memories (tenant_id, id, doc_len, user_id, agent_id, run_id);
ALTER TABLE history DROP COLUMN visibility;
ALTER TABLE history DROP COLUMN author_account_id;
ALTER TABLE memories DROP COLUMN visibility;
ALTER TABLE memories DROP COLUMN author_account_id;
