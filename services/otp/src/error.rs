//! The crate's single error type.
//!
//! [`OtpError`] covers rejected input values and settings, every reason a presented code is
//! refused, send rate limits, gateway failures and QR rendering. Each variant maps to a stable
//! machine-readable [`OtpError::reason_code`] (`wrong`, `expired`, `locked`, `replayed`,
//! `rate_limited`, ...) so callers can build responses and audit records without matching on
//! display text. It knows nothing about HTTP.

use time::{Duration, OffsetDateTime};

use crate::rate_limit::SendLimit;

/// Everything that can go wrong while enrolling, issuing, sending or verifying a second factor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpError {
    /// A value from outside (code, MSISDN, template, setting, key) did not pass validation.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which kind of value was rejected (e.g. "MSISDN").
        what: &'static str,
        /// Why it was rejected, safe to show to the caller.
        reason: String,
    },
    /// The code does not match.
    #[error("the code is wrong")]
    WrongCode,
    /// The SMS code's lifetime is over.
    #[error("the code has expired")]
    Expired,
    /// This SMS code had its maximum number of verification attempts.
    #[error("too many attempts for this code; request a new one")]
    CodeLocked,
    /// The subscriber had too many consecutive failures and waits for an admin or a new verification.
    #[error("second factor locked after too many failed attempts")]
    SubscriberLocked {
        /// When the lock was set.
        since: OffsetDateTime,
    },
    /// The code (SMS code, or TOTP time step) was already used once.
    #[error("the code was already used")]
    Replayed,
    /// Sending another SMS now would exceed a limit.
    #[error("too many codes sent ({limit}); retry in {} s", retry_after_secs(*.retry_after))]
    RateLimited {
        /// The limit that refused the send.
        limit: SendLimit,
        /// How long until a send would be allowed, if nothing else is sent meanwhile.
        retry_after: Duration,
    },
    /// The TOTP enrolment has not been confirmed with a first valid code.
    #[error("TOTP enrolment is not active yet")]
    TotpNotActive,
    /// The TOTP enrolment was already confirmed.
    #[error("TOTP enrolment is already active")]
    TotpAlreadyActive,
    /// The SMS gateway did not take the message; worth retrying later.
    #[error("SMS gateway unavailable: {0}")]
    GatewayUnavailable(String),
    /// The request reached the SMS gateway but no answer came back: it may have taken the message.
    #[error("SMS gateway outcome unknown: {0}")]
    GatewayOutcomeUnknown(String),
    /// The SMS gateway refused the message for good (bad number, blocked content).
    #[error("SMS gateway rejected the message: {0}")]
    GatewayRejected(String),
    /// The otpauth URI could not be rendered as a QR code.
    #[error("could not render the QR code: {0}")]
    QrCode(String),
    /// The TOTP library refused parameters this crate had already validated (a bug).
    #[error("TOTP parameters refused: {0}")]
    Totp(String),
}

impl OtpError {
    /// A stable, machine-readable reason for responses, metrics and audit records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_input",
            Self::WrongCode => "wrong",
            Self::Expired => "expired",
            Self::CodeLocked | Self::SubscriberLocked { .. } => "locked",
            Self::Replayed => "replayed",
            Self::RateLimited { .. } => "rate_limited",
            Self::TotpNotActive => "totp_not_active",
            Self::TotpAlreadyActive => "totp_already_active",
            Self::GatewayUnavailable(_) => "gateway_unavailable",
            Self::GatewayRejected(_) => "gateway_rejected",
            Self::GatewayOutcomeUnknown(_) => "gateway_outcome_unknown",
            Self::QrCode(_) | Self::Totp(_) => "internal",
        }
    }

    /// Whether this refusal is a guess that counts toward the subscriber's consecutive-failure lock.
    ///
    /// Every presented code that is not accepted counts, including replays and codes for an
    /// exhausted or expired SMS code: all of them are attempts an attacker could be making.
    /// Refusals that involve no guess (rate limits, an existing lock, gateway trouble) do not.
    pub fn counts_as_failed_attempt(&self) -> bool {
        matches!(
            self,
            Self::InvalidInput { .. }
                | Self::WrongCode
                | Self::Expired
                | Self::CodeLocked
                | Self::Replayed
        )
    }

    /// Whether a gateway failure may succeed when tried again later, with no risk of a duplicate.
    ///
    /// [`Self::GatewayOutcomeUnknown`] is not: retrying it is safe only with a gateway that
    /// deduplicates message ids, which the caller knows and this error does not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::GatewayUnavailable(_))
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}

impl From<simgate_core::InvalidInput> for OtpError {
    fn from(value: simgate_core::InvalidInput) -> Self {
        Self::InvalidInput {
            what: value.what,
            reason: value.reason,
        }
    }
}

/// Whole seconds to wait, rounded up, as an HTTP `Retry-After` header wants them.
pub fn retry_after_secs(retry_after: Duration) -> u64 {
    let nanos = u128::try_from(retry_after.whole_nanoseconds()).unwrap_or(0);
    u64::try_from(nanos.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::seconds(3)), 3);
        assert_eq!(retry_after_secs(Duration::milliseconds(2001)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 0);
        assert_eq!(retry_after_secs(Duration::seconds(-5)), 0);
    }

    #[test]
    fn refusals_carry_the_documented_reason_codes() {
        assert_eq!(OtpError::WrongCode.reason_code(), "wrong");
        assert_eq!(OtpError::Expired.reason_code(), "expired");
        assert_eq!(OtpError::CodeLocked.reason_code(), "locked");
        assert_eq!(
            OtpError::SubscriberLocked {
                since: OffsetDateTime::UNIX_EPOCH
            }
            .reason_code(),
            "locked"
        );
        assert_eq!(OtpError::Replayed.reason_code(), "replayed");
        assert_eq!(
            OtpError::RateLimited {
                limit: SendLimit::Cooldown,
                retry_after: Duration::seconds(1)
            }
            .reason_code(),
            "rate_limited"
        );
    }

    #[test]
    fn an_invalid_msisdn_becomes_invalid_input() {
        let error = OtpError::from(simgate_core::Msisdn::parse("0170").unwrap_err());
        assert_eq!(error.reason_code(), "invalid_input");
        assert!(error.to_string().contains("MSISDN"));
    }
}
