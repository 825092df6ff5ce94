-- API keys. Only the SHA-256 of a key is stored; the key itself is shown once at creation.
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Times are Unix milliseconds.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX api_keys_tenant ON api_keys (tenant);
