//! The clock as a trait: production reads the system clock, tests move time by hand.

use time::OffsetDateTime;

/// Source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told: tests of expiry, retention and rotation use it.
#[derive(Debug)]
pub struct ManualClock {
    now: std::sync::Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        Self {
            now: std::sync::Mutex::new(start),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Converts an instant to Unix milliseconds, the representation stored in the database.
pub fn to_unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Converts Unix milliseconds read from the database back to an instant.
pub fn from_unix_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = time::macros::datetime!(2026-11-25 12:00 UTC);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(time::Duration::minutes(11));
        assert_eq!(clock.now(), time::macros::datetime!(2026-11-25 12:11 UTC));
    }

    #[test]
    fn unix_millis_round_trip_keeps_millisecond_precision() {
        let at = time::macros::datetime!(2026-11-25 12:34:56.789 UTC);
        assert_eq!(from_unix_millis(to_unix_millis(at)), at);
        assert_eq!(to_unix_millis(at), 1_795_610_096_789);
    }
}
