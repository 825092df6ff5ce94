-- Risk monitoring: the events rules count over sliding windows, and the alerts they raise.
--
-- Keys are keyed hashes (HMAC with a generated service secret) of the MSISDN, EID, document,
-- store, client IP or API key, so the table holds no personal data and every replica counts the
-- same keys. One observed event is one row per key it is grouped by.
CREATE TABLE risk_events (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    signal TEXT NOT NULL,
    key_kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX risk_events_window ON risk_events (tenant, signal, key_kind, key_hash, at);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    action TEXT NOT NULL,
    signal TEXT NOT NULL,
    key_kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    total BIGINT NOT NULL,
    threshold BIGINT NOT NULL,
    raised_at BIGINT NOT NULL,
    acked_at BIGINT,
    acked_by TEXT
);

CREATE INDEX alerts_by_state ON alerts (tenant, acked_at, raised_at);
CREATE INDEX alerts_by_key ON alerts (tenant, rule, key_hash, acked_at);
