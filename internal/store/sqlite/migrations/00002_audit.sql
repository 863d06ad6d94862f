-- The tamper-evident audit trail. Entries hold metadata only (ids,
-- pseudonyms, codes, times, addresses): never content, queries or secrets.
-- tenant_id is '' for the system chain, so it cannot reference tenants; a
-- tenant's chain is deleted with the tenant (see DeleteTenant).

-- +goose Up
CREATE TABLE audit_entries (
    tenant_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL, -- Unix microseconds, UTC
    actor       TEXT    NOT NULL DEFAULT '',
    key_id      TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,
    target_type TEXT    NOT NULL DEFAULT '',
    target_id   TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    ip          TEXT    NOT NULL DEFAULT '',
    request_id  TEXT    NOT NULL DEFAULT '',
    transport   TEXT    NOT NULL DEFAULT '',
    key_version INTEGER NOT NULL,
    mac         BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor, seq);
CREATE INDEX audit_entries_target ON audit_entries (tenant_id, target_id, seq);

-- One row per chain: its latest seq and MAC, under head_mac. Written in the
-- transaction of every append, so a deleted tail shows.
CREATE TABLE audit_heads (
    tenant_id   TEXT    NOT NULL PRIMARY KEY,
    seq         INTEGER NOT NULL,
    mac         BLOB    NOT NULL,
    key_version INTEGER NOT NULL,
    head_mac    BLOB    NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE audit_heads;
DROP TABLE audit_entries;
