-- Read-only share links (SPEC section 6): one migration each. Only the
-- SHA-256 of the token is stored; the token itself is shown once, when the
-- link is created.
CREATE TABLE switchyard.share_links (
    id            bigserial PRIMARY KEY,
    migration_id  bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    token_sha256  bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    label         text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz,
    revoked_by    text
);
CREATE INDEX share_links_migration_idx ON switchyard.share_links (migration_id);
