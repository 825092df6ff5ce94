-- Incident response: a tamper-evident audit log and subscriber freezes.
--
-- audit_log is append-only and hash-chained: each entry's `hash` is SHA-256 over its own fields
-- and the previous entry's hash (`prev_hash`), so editing or deleting an entry breaks the chain
-- at that entry, and `simgate audit verify` reports where. `seq` is dense (1, 2, 3...); a
-- concurrent append that loses the race for the next `seq` retries on the new head. Entries hold
-- no personal data: subscribers appear as their keyed-hash ids.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX audit_log_subject ON audit_log (tenant, subject, seq);

-- A frozen subscriber gets no new verification and no activation token until unfrozen.
CREATE TABLE subscriber_freezes (
    tenant TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    frozen_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (tenant, subscriber_id)
);
