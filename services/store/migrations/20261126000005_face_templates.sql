-- Recent document-portrait face templates, for finding one face under several identities (a
-- 1:N search over the window the risk rule watches). Templates are biometric data: sealed
-- (AES-256-GCM, bound to the row id); the plain columns hold only opaque ids and keyed hashes.
CREATE TABLE face_templates (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    document_hash TEXT NOT NULL,
    template_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX face_templates_recent ON face_templates (tenant, created_at);
