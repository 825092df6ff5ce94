//! When to try again after a failed attempt: capped exponential backoff with jitter.
//!
//! Attempt `n` (1-based) that failed waits `min(initial * 2^(n-1), max)`, of which the last
//! `jitter` fraction is random: with the default 0.5, between half and all of it. The random
//! part spreads the retries of many messages queued during one outage, so a gateway coming back
//! is not hit by all of them in the same second.

use time::Duration;

use crate::error::SmsError;

/// Backoff between attempts of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::seconds(2),
            max: Duration::seconds(60),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// A policy; `initial` > 0, `max` >= `initial`, `jitter` in [0, 1].
    pub fn new(initial: Duration, max: Duration, jitter: f64) -> Result<Self, SmsError> {
        if !initial.is_positive() {
            return Err(SmsError::invalid(
                "SMS retry backoff",
                "initial must be positive",
            ));
        }
        if max < initial {
            return Err(SmsError::invalid(
                "SMS retry backoff",
                "max must not be below initial",
            ));
        }
        if !(0.0..=1.0).contains(&jitter) {
            return Err(SmsError::invalid(
                "SMS retry jitter",
                "must be between 0 and 1",
            ));
        }
        Ok(Self {
            initial,
            max,
            jitter,
        })
    }

    /// The wait before the next attempt, before jitter: `min(initial * 2^(failed - 1), max)`.
    pub fn ceiling(&self, failed_attempt: u32) -> Duration {
        let doublings = failed_attempt.saturating_sub(1).min(30);
        let factor = 1i32 << doublings;
        self.initial
            .checked_mul(factor)
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// The wait before the next attempt; `unit` in [0, 1) is the random draw.
    pub fn delay(&self, failed_attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(failed_attempt);
        let unit = unit.clamp(0.0, 1.0);
        ceiling * (1.0 - self.jitter * (1.0 - unit))
    }

    /// The wait before the next attempt with a fresh random draw.
    pub fn random_delay(&self, failed_attempt: u32) -> Duration {
        self.delay(failed_attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<i64> = (1..=7).map(|n| policy.ceiling(n).whole_seconds()).collect();
        assert_eq!(ceilings, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy.ceiling(u32::MAX), Duration::seconds(60));
    }

    #[test]
    fn jitter_keeps_the_delay_between_half_and_all_of_the_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(3, 0.0), Duration::seconds(4));
        assert_eq!(policy.delay(3, 1.0), Duration::seconds(8));
        for _ in 0..200 {
            let delay = policy.random_delay(3);
            assert!((Duration::seconds(4)..=Duration::seconds(8)).contains(&delay));
        }
        let none = RetryPolicy::new(Duration::seconds(1), Duration::seconds(5), 0.0).unwrap();
        assert_eq!(none.delay(2, 0.3), Duration::seconds(2));
    }

    #[test]
    fn nonsensical_policies_are_refused() {
        assert!(RetryPolicy::new(Duration::ZERO, Duration::seconds(1), 0.5).is_err());
        assert!(RetryPolicy::new(Duration::seconds(2), Duration::seconds(1), 0.5).is_err());
        assert!(RetryPolicy::new(Duration::seconds(1), Duration::seconds(1), 1.5).is_err());
    }
}
