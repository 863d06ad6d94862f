-- Sealed audit segments, signed checkpoints, retention and legal holds
-- (docs/AUDIT.md). Every row is metadata: hashes, ranges, times, codes.
-- tenant_id '' is the system chain. A tenant's rows go with the tenant
-- (DeleteTenant), like its chain.

-- +goose Up
-- The tenant's log tree after its latest seal: size and compact range
-- (frontier, the concatenated 32-byte hashes), enough to seal the next
-- segment without rehashing history.
CREATE TABLE audit_trees (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    size      INTEGER NOT NULL,
    frontier  BLOB    NOT NULL
) WITHOUT ROWID;

-- One row per sealed segment [first, last] (seqs, from 1). checkpoint is the
-- signed note; chain_mac the chain MAC of entry last (also signed inside
-- the checkpoint). dropped_at/tombstone are set when retention dropped the
-- entries: the row is then the segment's tombstone, kept for ever.
CREATE TABLE audit_segments (
    tenant_id   TEXT    NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    root        BLOB    NOT NULL,
    range_hashes BLOB   NOT NULL,
    tree_size   INTEGER NOT NULL,
    tree_root   BLOB    NOT NULL,
    checkpoint  BLOB    NOT NULL,
    chain_mac   BLOB    NOT NULL,
    sealed_at   INTEGER NOT NULL, -- Unix microseconds
    dropped_at  INTEGER,          -- Unix microseconds; NULL while entries are kept
    PRIMARY KEY (tenant_id, first_seq)
) WITHOUT ROWID;

-- Perfect-subtree node hashes the tree reported while sealing, so proofs
-- cost O(log n) reads. Level 0 holds leaf hashes.
CREATE TABLE audit_nodes (
    tenant_id TEXT    NOT NULL,
    level     INTEGER NOT NULL,
    idx       INTEGER NOT NULL,
    hash      BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, level, idx)
) WITHOUT ROWID;

-- Per-tenant retention of sealed segments, in days (absent: the default).
CREATE TABLE audit_retention (
    tenant_id TEXT    NOT NULL PRIMARY KEY,
    days      INTEGER NOT NULL
) WITHOUT ROWID;

-- Legal holds. user_ref is the keyed pseudonym of a held user_id ('' holds
-- the whole tenant); reason_code a short code, never free text.
CREATE TABLE audit_holds (
    tenant_id   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    user_ref    TEXT    NOT NULL DEFAULT '',
    reason_code TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE audit_holds;
DROP TABLE audit_retention;
DROP TABLE audit_nodes;
DROP TABLE audit_segments;
DROP TABLE audit_trees;
