//! Per-subscriber second-factor state that outlives a single code: the brute-force lock and
//! the TOTP replay marker.
//!
//! [`SubscriberOtpState`] is a plain value the store loads and persists (three columns). Every
//! refused guess, TOTP or SMS, counts toward `max_consecutive_failures`; reaching it sets
//! `locked_at`, and from then on [`SubscriberOtpState::ensure_unlocked`] refuses before any code
//! is compared, until an admin unlocks or a new verification starts. A success resets the count.
//! `last_totp_step` only ever grows, so a TOTP step once accepted is refused from then on.
//!
//! With several replicas the store must apply these changes atomically (a conditional
//! `UPDATE ... SET consecutive_failures = consecutive_failures + 1`, and a compare-and-set on
//! `last_totp_step`), using the values computed here as the intended result.

use time::OffsetDateTime;

use crate::error::OtpError;
use crate::totp::AcceptedStep;

/// What the store keeps per subscriber for the second factor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriberOtpState {
    /// Refused guesses since the last success, unlock or new verification.
    pub consecutive_failures: u32,
    /// When the subscriber was locked, if they are.
    pub locked_at: Option<OffsetDateTime>,
    /// The highest TOTP step ever accepted for this subscriber.
    pub last_totp_step: Option<u64>,
}

impl SubscriberOtpState {
    /// Whether too many consecutive failures locked the second factor.
    pub fn is_locked(&self) -> bool {
        self.locked_at.is_some()
    }

    /// Refuses every verification while the subscriber is locked; call it before comparing a code.
    pub fn ensure_unlocked(&self) -> Result<(), OtpError> {
        match self.locked_at {
            Some(since) => Err(OtpError::SubscriberLocked { since }),
            None => Ok(()),
        }
    }

    /// Applies the result of a TOTP verification: success resets failures and records the step.
    pub fn record_totp_attempt(
        &mut self,
        result: &Result<AcceptedStep, OtpError>,
        max_consecutive_failures: u32,
        now: OffsetDateTime,
    ) {
        match result {
            Ok(AcceptedStep(step)) => {
                self.last_totp_step =
                    Some(self.last_totp_step.map_or(*step, |last| last.max(*step)));
                self.consecutive_failures = 0;
            }
            Err(error) => self.record_refusal(error, max_consecutive_failures, now),
        }
    }

    /// Applies the result of an SMS code verification: success resets failures.
    pub fn record_sms_attempt(
        &mut self,
        result: &Result<(), OtpError>,
        max_consecutive_failures: u32,
        now: OffsetDateTime,
    ) {
        match result {
            Ok(()) => self.consecutive_failures = 0,
            Err(error) => self.record_refusal(error, max_consecutive_failures, now),
        }
    }

    /// Lifts a lock on an admin's decision; the TOTP replay marker is kept.
    pub fn unlock_by_admin(&mut self) {
        self.consecutive_failures = 0;
        self.locked_at = None;
    }

    /// Lifts a lock because a new verification (document and face again) has started.
    pub fn reset_for_new_verification(&mut self) {
        // The subscriber re-proves identity from scratch, which is what the lock was guarding.
        self.unlock_by_admin();
    }

    fn record_refusal(
        &mut self,
        error: &OtpError,
        max_consecutive_failures: u32,
        now: OffsetDateTime,
    ) {
        if !error.counts_as_failed_attempt() {
            return;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures >= max_consecutive_failures && self.locked_at.is_none() {
            self.locked_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: OffsetDateTime = time::macros::datetime!(2026-11-25 12:00 UTC);

    #[test]
    fn success_resets_the_failure_count_and_keeps_the_highest_step() {
        let mut state = SubscriberOtpState::default();
        state.record_sms_attempt(&Err(OtpError::WrongCode), 100, NOW);
        state.record_totp_attempt(&Err(OtpError::WrongCode), 100, NOW);
        assert_eq!(state.consecutive_failures, 2);
        state.record_totp_attempt(&Ok(AcceptedStep(10)), 100, NOW);
        assert_eq!(state.consecutive_failures, 0);
        assert_eq!(state.last_totp_step, Some(10));
        state.record_totp_attempt(&Ok(AcceptedStep(7)), 100, NOW);
        assert_eq!(state.last_totp_step, Some(10));
    }

    #[test]
    fn refusals_without_a_guess_do_not_count() {
        let mut state = SubscriberOtpState::default();
        state.record_sms_attempt(&Err(OtpError::GatewayUnavailable("down".into())), 1, NOW);
        state.record_sms_attempt(&Err(OtpError::SubscriberLocked { since: NOW }), 1, NOW);
        assert_eq!(state, SubscriberOtpState::default());
    }

    #[test]
    fn admin_unlock_keeps_the_replay_marker() {
        let mut state = SubscriberOtpState {
            consecutive_failures: 100,
            locked_at: Some(NOW),
            last_totp_step: Some(42),
        };
        state.unlock_by_admin();
        assert!(state.ensure_unlocked().is_ok());
        assert_eq!(state.last_totp_step, Some(42));
    }
}
