-- The publication watermark of each audit chain (tenant_id '' is the
-- system chain): every entry with seq <= seq has been accepted by at least
-- one audit sink, so the back-fill (docs/AUDIT-SINKS.md) resumes after it.
-- Written only by a server with sinks, by its back-fill pass, never on the
-- request path; a chain without a row starts from seq 1. Like the chain,
-- the row goes with its tenant (see DeleteTenant).

-- +goose Up
CREATE TABLE audit_published (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    seq       INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE audit_published;
