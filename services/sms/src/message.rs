//! The values that travel through the outbox: ids, states, the message to send, a claim on it
//! and its readable delivery status.
//!
//! - [`SmsMessageId`], [`LeaseToken`]: UUIDs as text, parsed back from storage.
//! - [`OutboundSms`]: what `enqueue` stores; the text holds the code in clear, so it is redacted
//!   in `Debug` (by `SmsText`) and the store must seal it at rest and erase it once final.
//! - [`ClaimedSms`] and [`Claim`]: a due message leased to one worker; every update names the
//!   claim so a worker whose lease ran out cannot overwrite the next owner's result.
//! - [`DeliveryState`], [`FailureReason`], [`SmsDeliveryStatus`]: what a verification shows.

use std::fmt;

use serde::Serialize;
use simgate_core::{Clock, Msisdn};
use simgate_otp::SmsText;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::SmsError;

/// The outbox's id of one message; sent to gateways so resubmissions can be recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SmsMessageId(String);

impl SmsMessageId {
    /// A new random (v4 UUID) id.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// Validates an id read back from storage or a URL: a UUID in hyphenated lower-case form.
    pub fn parse(value: &str) -> Result<Self, SmsError> {
        let uuid = Uuid::try_parse(value)
            .map_err(|_| SmsError::invalid("SMS message id", "must be a UUID"))?;
        Ok(Self(uuid.hyphenated().to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SmsMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies one claim (lease) on a message; a new claim gets a new token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseToken(String);

impl LeaseToken {
    /// A new random token.
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// Validates a token read back from storage.
    pub fn parse(value: &str) -> Result<Self, SmsError> {
        let uuid = Uuid::try_parse(value)
            .map_err(|_| SmsError::invalid("SMS lease token", "must be a UUID"))?;
        Ok(Self(uuid.hyphenated().to_string()))
    }

    /// The token as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A message to put in the outbox.
#[derive(Debug, Clone)]
pub struct OutboundSms {
    /// Its id; store it with the verification to read the delivery status later.
    pub id: SmsMessageId,
    /// Destination.
    pub msisdn: Msisdn,
    /// Message text (contains the code).
    pub text: SmsText,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// When the code in it expires: the message is never sent at or after this instant.
    pub expires_at: OffsetDateTime,
}

impl OutboundSms {
    /// A message with a fresh id, queued at `clock`'s now, useless from `expires_at` on.
    pub fn new(
        msisdn: Msisdn,
        text: SmsText,
        expires_at: OffsetDateTime,
        clock: &dyn Clock,
    ) -> Self {
        Self {
            id: SmsMessageId::generate(),
            msisdn,
            text,
            created_at: clock.now(),
            expires_at,
        }
    }
}

/// One worker's lease on one message; every update after the claim must present it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The message.
    pub id: SmsMessageId,
    /// The lease this claim holds.
    pub lease: LeaseToken,
}

/// A due message handed to a worker by `claim_due`, now in state `sending`.
#[derive(Debug, Clone)]
pub struct ClaimedSms {
    /// The claim to present when recording the outcome.
    pub claim: Claim,
    /// Destination.
    pub msisdn: Msisdn,
    /// Message text.
    pub text: SmsText,
    /// When the code expires.
    pub expires_at: OffsetDateTime,
    /// Attempts so far, this one included (1 on the first claim).
    pub attempt: u32,
    /// The previous claim ended with no outcome recorded (a worker died mid-send): a gateway may
    /// already have taken the message.
    pub previous_attempt_unfinished: bool,
}

/// Where a message is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first attempt.
    Queued,
    /// Claimed by a worker; being handed to the gateway.
    Sending,
    /// The gateway accepted it (not a handset delivery report).
    Delivered,
    /// An attempt failed; another is scheduled.
    Retrying,
    /// Given up for good; see [`FailureReason`].
    Failed,
}

impl DeliveryState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Result<Self, SmsError> {
        Ok(match value {
            "queued" => Self::Queued,
            "sending" => Self::Sending,
            "delivered" => Self::Delivered,
            "retrying" => Self::Retrying,
            "failed" => Self::Failed,
            other => {
                return Err(SmsError::invalid(
                    "SMS delivery state",
                    format!("unknown state {other:?}"),
                ));
            }
        })
    }

    /// Whether nothing will happen to the message any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed)
    }
}

/// Why a message was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The gateway refused it for good (bad number, bad credentials, blocked content).
    Rejected,
    /// The code expired (or would have before it could be read) before it could be sent.
    Expired,
    /// An earlier attempt may have reached the gateway; not resent so no code is sent twice.
    OutcomeUnknown,
    /// The configured maximum number of attempts was reached.
    AttemptsExhausted,
}

impl FailureReason {
    /// The stored and displayed name, also the reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::AttemptsExhausted => "attempts_exhausted",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Result<Self, SmsError> {
        Ok(match value {
            "rejected" => Self::Rejected,
            "expired" => Self::Expired,
            "outcome_unknown" => Self::OutcomeUnknown,
            "attempts_exhausted" => Self::AttemptsExhausted,
            other => {
                return Err(SmsError::invalid(
                    "SMS failure reason",
                    format!("unknown reason {other:?}"),
                ));
            }
        })
    }
}

/// The delivery status of one message, as a verification shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsDeliveryStatus {
    /// The message.
    pub id: SmsMessageId,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts started so far.
    pub attempts: u32,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its state last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the next attempt is due (`queued` and `retrying` only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the gateway accepted it (`delivered` only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// Why it failed (`failed` only).
    pub failure: Option<FailureReason>,
    /// The last gateway error, for operators (no message text, no number).
    pub last_error: Option<String>,
    /// The gateway that accepted it.
    pub gateway: Option<String>,
    /// The gateway's id for it, for matching delivery reports.
    pub gateway_message_id: Option<String>,
}
