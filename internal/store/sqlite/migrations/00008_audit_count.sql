-- Aggregated audit entries: an auth.failure entry counts the credentials
-- refused from one source in one window (engram.AuditEntry.Count), so a
-- client without a key cannot grow the trail by one row per request. 0 is
-- an entry that records one action, as every entry before this did.

-- +goose Up
ALTER TABLE audit_entries ADD COLUMN count INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE audit_entries DROP COLUMN count;
