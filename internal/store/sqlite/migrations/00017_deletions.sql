-- Deletion with a grace period (docs/LIFECYCLE.md, "Deletion"). A row is
-- a scheduled deletion of an account (kind 'account', subject_id its id)
-- or of an end user (kind 'user', subject_id its user_id): pending until
-- scheduled_at, when the deletion sweep erases the subject, or cancelled
-- before. Once the row leaves 'pending' its subject_id is emptied: what
-- remains names the subject only by subject_ref, the audit pseudonym.
--
-- audit_entries.detail is a completed deletion's compliance record
-- (engram.AuditDetail as JSON: counts per kind, requested and scheduled
-- times); '' for every other entry, which keeps its MAC (audit.Canonical
-- encodes a detail only when there is one).

-- +goose Up
CREATE TABLE deletions (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('account', 'user')),
    subject_id   TEXT NOT NULL,
    subject_ref  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'cancelled', 'done')),
    requested_at INTEGER NOT NULL,
    scheduled_at INTEGER NOT NULL,
    ended_at     INTEGER,
    PRIMARY KEY (tenant_id, id)
);
-- One pending deletion per subject; the write gate's lookup.
CREATE UNIQUE INDEX deletions_pending ON deletions (tenant_id, kind, subject_id) WHERE state = 'pending';
-- The sweep's question: which pending deletions are due.
CREATE INDEX deletions_due ON deletions (scheduled_at) WHERE state = 'pending';

ALTER TABLE audit_entries ADD COLUMN detail TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_entries DROP COLUMN detail;
DROP INDEX deletions_due;
DROP INDEX deletions_pending;
DROP TABLE deletions;
