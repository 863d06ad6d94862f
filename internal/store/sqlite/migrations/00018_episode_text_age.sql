-- Retention of conversation text (docs/LIFECYCLE.md, "Retention"): under a
-- plan with a window, the hourly sweep discards the sealed messages of
-- episodes created before it. The sweep asks "which episodes of this tenant
-- still hold text and are older than the cut": only those rows are indexed.

-- +goose Up
CREATE INDEX episodes_text_age ON episodes (tenant_id, created_at) WHERE messages IS NOT NULL;

-- +goose Down
DROP INDEX episodes_text_age;
