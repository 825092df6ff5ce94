-- The second factor: TOTP enrolments, the per-subscriber brute-force lock and TOTP replay marker,
-- SMS codes (only their keyed hash), the send history that rate limits SMS, and the SMS outbox.
-- Subscribers appear only as `subscriber_id`, the keyed hash of the MSISDN; a number in clear is
-- kept only inside the sealed outbox columns, and only until the message is final.

-- One TOTP enrolment per tenant and subscriber; `state` is `pending` until a first valid code.
CREATE TABLE totp_enrolments (
    tenant TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    state TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    activated_at BIGINT,
    PRIMARY KEY (tenant, subscriber_id)
);

-- Refused guesses since the last success (any method) and the highest TOTP step ever accepted.
-- Both are changed by conditional updates so replicas cannot lose a failure or reuse a step.
CREATE TABLE otp_subscriber_state (
    tenant TEXT NOT NULL,
    subscriber_id TEXT NOT NULL,
    consecutive_failures BIGINT NOT NULL,
    locked_at BIGINT,
    last_totp_step BIGINT,
    PRIMARY KEY (tenant, subscriber_id)
);

-- The current SMS code of a verification (a resend replaces it): HMAC only, never the code.
CREATE TABLE sms_codes (
    verification_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    message_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    consumed_at BIGINT
);

-- Every SMS code sent, for the cooldown and the hourly limits per number and per API client.
CREATE TABLE sms_sends (
    id TEXT PRIMARY KEY,
    subscriber_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);

CREATE INDEX sms_sends_subscriber ON sms_sends (subscriber_id, sent_at);
CREATE INDEX sms_sends_client ON sms_sends (client_id, sent_at);

-- SMS waiting for, in, or done with delivery. A claim holds a lease token; outcomes are recorded
-- only under the same token; `previous_state` tells a claim that the last attempt never finished.
-- Number and text are erased when the message is final.
CREATE TABLE sms_outbox (
    id TEXT PRIMARY KEY,
    msisdn_sealed TEXT,
    text_sealed TEXT,
    state TEXT NOT NULL,
    previous_state TEXT,
    attempts BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease_token TEXT,
    lease_until BIGINT,
    delivered_at BIGINT,
    failure TEXT,
    last_error TEXT,
    gateway TEXT,
    gateway_message_id TEXT
);

CREATE INDEX sms_outbox_due ON sms_outbox (state, next_attempt_at);
