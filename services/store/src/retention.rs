//! Retention: deleting what has outlived its purpose. [`PurgeCutoffs`] says, per kind of record,
//! the instant before which it goes; [`crate::SqlStore::purge_expired`] deletes in one transaction per
//! table and reports how many rows each lost.
//!
//! What is purged and by which time:
//! - `verifications`: sessions last changed before `verifications` (a session changes at least
//!   once per step, so an old `updated_at` means it ended long ago);
//! - `idempotency_keys`: created before `idempotency_keys`;
//! - `activation_tokens`: expired before `activation_tokens`;
//! - `sms_codes`: expired before `otp`; `sms_sends` (rate-limit history): sent before `otp`;
//! - `outbox`, `sms_outbox`: messages last changed before `messages` (long after delivery or
//!   giving up);
//! - `risk_events`, `subscriber_locations`, `face_templates`: older than their cutoffs, which the
//!   caller keeps at least as long as the longest rule window that reads them;
//! - `alerts`: acknowledged before `acknowledged_alerts` (open alerts stay).
//!
//! Never purged: the audit log (its hash chain is the evidence; a gap would read as tampering),
//! API keys, signing keys, TOTP enrolments, freezes and service secrets.

use std::collections::BTreeMap;

use time::OffsetDateTime;

/// The instant before which each kind of record is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeCutoffs {
    /// Verification sessions (by last change).
    pub verifications: OffsetDateTime,
    /// Idempotency-Key records (by creation).
    pub idempotency_keys: OffsetDateTime,
    /// Activation-token bookkeeping (by expiry).
    pub activation_tokens: OffsetDateTime,
    /// SMS codes (by expiry) and SMS send history (by sending).
    pub otp: OffsetDateTime,
    /// Webhook and SMS outbox messages (by last change).
    pub messages: OffsetDateTime,
    /// Risk events (by time of the event).
    pub risk_events: OffsetDateTime,
    /// Subscriber sightings (by time).
    pub subscriber_locations: OffsetDateTime,
    /// Document-portrait templates for the 1:N search (by creation).
    pub face_templates: OffsetDateTime,
    /// Acknowledged alerts (by acknowledgement).
    pub acknowledged_alerts: OffsetDateTime,
}

/// Rows deleted per table.
pub type PurgeCounts = BTreeMap<&'static str, u64>;
