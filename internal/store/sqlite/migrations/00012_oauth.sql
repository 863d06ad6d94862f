-- OAuth for MCP hosts (docs/IDENTITY.md, "OAuth for MCP hosts"): the
-- clients hosts register themselves (RFC 7591) and the authorization codes
-- issued to them. A client is an application, not a person or tenant
-- data: its name and redirect URIs are what an anonymous caller sent and
-- what the consent page shows, so they are kept in clear (there is no
-- tenant key to seal them with before anyone signs in). A code is kept
-- only as a digest; everything else in its row is ids, times and scopes.

-- +goose Up
CREATE TABLE oauth_clients (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    redirect_uris TEXT    NOT NULL, -- JSON array
    created_at    INTEGER NOT NULL
);

CREATE TABLE oauth_codes (
    digest       BLOB    NOT NULL PRIMARY KEY,
    client_id    TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    redirect_uri TEXT    NOT NULL,
    challenge    TEXT    NOT NULL,
    resource     TEXT    NOT NULL,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    account_id   TEXT    NOT NULL,
    scopes       TEXT    NOT NULL, -- JSON array
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    spent_at     INTEGER,
    family_id    TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);
CREATE INDEX oauth_codes_tenant ON oauth_codes (tenant_id);

-- +goose Down
DROP TABLE oauth_codes;
DROP TABLE oauth_clients;
