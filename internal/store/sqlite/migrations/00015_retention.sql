-- Retention (docs/LIFECYCLE.md, "Retention"). A memory may carry its own
-- expiry (mem0's expiration_date), stored in clear as microseconds since
-- the epoch: it is metadata about the memory's lifetime, not its content,
-- and the sweep must find due memories without decrypting anything.
-- NULL (every existing row) never expires.

-- +goose Up
ALTER TABLE memories ADD COLUMN expires_at INTEGER;
-- The sweep's two questions: which memories have expired, and (by
-- created_at) which are past the plan's window.
CREATE INDEX memories_expiry ON memories (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX memories_created ON memories (tenant_id, created_at);

-- +goose Down
DROP INDEX memories_created;
DROP INDEX memories_expiry;
ALTER TABLE memories DROP COLUMN expires_at;
