//! `[retention]`: how long each kind of record is kept, and the purge cutoffs that gives at a
//! given instant ([`purge_cutoffs`], used by `simgate purge`). Cutoffs never undercut what the
//! service still reads: risk events are kept at least as long as the longest rule window, face
//! templates as long as the 1:N search looks back, sightings as long as the unusual-region
//! look-back.

use serde::{Deserialize, Serialize};
use simgate_risk::Signal;
use simgate_store::retention::PurgeCutoffs;
use time::{Duration, OffsetDateTime};

use crate::config::Settings;

/// `[retention]`, in days unless named otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Verification sessions, after their last change (default 90).
    pub verification_days: u32,
    /// Idempotency-Key records, after creation, in hours (default 48).
    pub idempotency_hours: u32,
    /// Activation-token bookkeeping, after expiry (default 30).
    pub token_days: u32,
    /// SMS codes after expiry and SMS send history (default 7).
    pub otp_days: u32,
    /// Webhook and SMS outbox messages, after their last change (default 30).
    pub message_days: u32,
    /// Risk events (default 90; at least the longest rule window).
    pub risk_event_days: u32,
    /// Subscriber sightings (default 60; at least the unusual-region look-back).
    pub location_days: u32,
    /// Document-portrait templates of the 1:N search (default 30; at least its rule window).
    pub face_template_days: u32,
    /// Acknowledged alerts, after acknowledgement (default 365).
    pub acknowledged_alert_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            verification_days: 90,
            idempotency_hours: 48,
            token_days: 30,
            otp_days: 7,
            message_days: 30,
            risk_event_days: 90,
            location_days: 60,
            face_template_days: 30,
            acknowledged_alert_days: 365,
        }
    }
}

/// The cutoffs of a purge run at `now`.
pub fn purge_cutoffs(settings: &Settings, now: OffsetDateTime) -> PurgeCutoffs {
    let retention = &settings.retention;
    let rules = &settings.risk.rules;
    let days = |value: u32| Duration::days(i64::from(value));
    let seconds = |value: u64| Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX));
    let face_window = rules
        .for_signal(Signal::FaceOtherIdentity)
        .map(|rule| rule.window_secs)
        .max()
        .unwrap_or(0);
    let lookback = days(settings.risk.geography.usual_region_days) + Duration::days(1);
    PurgeCutoffs {
        verifications: now - days(retention.verification_days),
        idempotency_keys: now - Duration::hours(i64::from(retention.idempotency_hours)),
        activation_tokens: now - days(retention.token_days),
        otp: now - days(retention.otp_days),
        messages: now - days(retention.message_days),
        risk_events: now
            - days(retention.risk_event_days).max(seconds(rules.longest_window_secs())),
        subscriber_locations: now - days(retention.location_days).max(lookback),
        face_templates: now - days(retention.face_template_days).max(seconds(face_window)),
        acknowledged_alerts: now - days(retention.acknowledged_alert_days),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn cutoffs_never_undercut_the_windows_the_rules_read() {
        let mut settings = Settings::default();
        settings.retention.risk_event_days = 1;
        settings.retention.face_template_days = 1;
        settings.retention.location_days = 1;
        let now = datetime!(2026-11-26 12:00 UTC);
        let cutoffs = purge_cutoffs(&settings, now);
        // The shipped rules look back 30 days (document_many_msisdns, face_under_other_identity).
        assert_eq!(cutoffs.risk_events, now - Duration::days(30));
        assert_eq!(cutoffs.face_templates, now - Duration::days(30));
        assert_eq!(cutoffs.subscriber_locations, now - Duration::days(31));
        assert_eq!(cutoffs.verifications, now - Duration::days(90));
        assert_eq!(cutoffs.idempotency_keys, now - Duration::hours(48));
    }
}
