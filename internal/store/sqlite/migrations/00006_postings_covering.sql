-- Loading a tenant's in-memory keyword index reads every posting of a page
-- of memories by memory id. postings_memory held (memory_id, tenant_id) and,
-- the table being WITHOUT ROWID, the primary key's token, but not tf: each
-- posting cost a second seek into the table for its frequency, 90% of a
-- load. With tf in the index the read is a walk of the index alone. Deletes
-- by memory id use it as before.

-- +goose Up
DROP INDEX postings_memory;
CREATE INDEX postings_memory ON postings (memory_id, tenant_id, token, tf);

-- +goose Down
DROP INDEX postings_memory;
CREATE INDEX postings_memory ON postings (memory_id, tenant_id);
