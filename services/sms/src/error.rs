//! The crate's single error type.
//!
//! [`SmsError`] covers invalid settings and stored values, outbox storage failures and a lost
//! claim. Gateway failures are not here: gateways implement `simgate_otp::SmsGateway` and report
//! `OtpError::Gateway*`, which the worker turns into outbox state. It knows nothing about HTTP.

/// Everything that can go wrong configuring SMS delivery or running the outbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    /// A setting or a value read back from storage did not pass validation.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which value was rejected (e.g. "sms.kannel.url").
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The outbox storage failed (database unavailable, constraint violated).
    #[error("SMS outbox storage failed: {0}")]
    Outbox(String),
    /// The claim on a message expired and another worker may own it; the update was not applied.
    #[error("the claim on SMS message {0} was lost (lease expired); update not applied")]
    LeaseLost(String),
    /// A message id was enqueued twice.
    #[error("SMS message {0} is already in the outbox")]
    DuplicateMessage(String),
}

impl SmsError {
    /// A stable, machine-readable reason for logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::Outbox(_) => "outbox_unavailable",
            Self::LeaseLost(_) => "lease_lost",
            Self::DuplicateMessage(_) => "duplicate_message",
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }
}
