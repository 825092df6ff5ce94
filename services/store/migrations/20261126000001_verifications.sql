-- Verification sessions. The aggregate (applicant, step outcomes, templates) is personal data and
-- is stored sealed (AES-256-GCM, key id inside the value) in `body`; the plain columns are what
-- queries filter on and hold no personal data (`subscriber_id` is a keyed hash of the MSISDN).
-- `version` increments on every update so two replicas cannot both apply a step to one session.
CREATE TABLE verifications (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    body_sealed TEXT NOT NULL
);

CREATE INDEX verifications_subscriber ON verifications (tenant, subscriber_id, created_at);

-- Idempotency-Key records: the first request with a key runs, later ones get its stored answer.
-- `locked_until` lets a retry take over a request whose process died before answering.
CREATE TABLE idempotency_keys (
    tenant TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    locked_until BIGINT NOT NULL,
    status_code BIGINT,
    response_sealed TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, idempotency_key)
);

-- Activation tokens issued: what introspection, revocation and single-use redemption consult.
CREATE TABLE activation_tokens (
    jti TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    verification_id TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    kid TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT,
    redeemed_at BIGINT
);

CREATE INDEX activation_tokens_subscriber ON activation_tokens (tenant, subscriber_id);

-- Service-wide secrets generated on first use (e.g. the key that derives subscriber ids), sealed,
-- so every replica derives the same values without an operator having to provision them.
CREATE TABLE service_secrets (
    name TEXT PRIMARY KEY,
    value_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Outgoing messages (webhooks, SMS) delivered by workers with retries. A row is claimed with a
-- lease; a worker that dies leaves the lease to expire and another picks the row up.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    tenant TEXT NOT NULL,
    payload_sealed TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT,
    expires_at BIGINT
);

CREATE INDEX outbox_due ON outbox (kind, status, next_attempt_at);
