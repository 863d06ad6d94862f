-- Idempotency records belong to the principal that made them: the key
-- space of Idempotency-Key is (tenant, principal), so another key of the
-- tenant replaying the same header value finds nothing (issue 11). The
-- primary key changes, so the table is rebuilt. Records made before this
-- migration name no principal and cannot be attributed: they are dropped
-- (they live 24 hours at most; a retry across the upgrade writes again).

-- +goose Up
DROP TABLE idempotency;
CREATE TABLE idempotency (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    principal    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    result       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, principal, key)
) WITHOUT ROWID;
-- Expiry sweeps every tenant by age.
CREATE INDEX idempotency_created ON idempotency (created_at);

-- +goose Down
DROP TABLE idempotency;
CREATE TABLE idempotency (
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    result       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);
