//! The second factor of simgate: TOTP (authenticator apps) and SMS one-time codes.
//!
//! Domain logic only: no HTTP, no SQL, no network, no system clock. Time comes in as a
//! [`simgate_core::Clock`] or an `OffsetDateTime`; whatever must survive a request (secrets,
//! code rows, counters, send history) is a plain value the store persists, and SMS delivery is
//! the [`SmsGateway`] trait.
//!
//! - [`code`], [`carrier`]: untrusted input parsed into newtypes at the edge ([`OtpCode`],
//!   [`CarrierName`]); MSISDNs are `simgate_core`'s [`Msisdn`], re-exported here.
//! - [`totp`]: settings, secrets, enrolment (pending until a first valid code) and verification
//!   with skew and replay protection.
//! - [`sms_code`]: settings, issuing codes stored only as an HMAC, and verification with
//!   expiry, attempt limit and single use.
//! - [`subscriber_state`]: the consecutive-failure lock and the TOTP replay marker per subscriber.
//! - [`rate_limit`]: resend cooldown and hourly send limits per MSISDN and per client.
//! - [`template`]: localisable message texts and GSM-7 length.
//! - [`gateway`]: the SMS gateway trait (in-memory version with the `testing` feature).
//! - [`error`]: [`OtpError`], the crate's single error type, with reason codes.

pub mod carrier;
pub mod code;
pub mod error;
pub mod gateway;
pub mod rate_limit;
pub mod sms_code;
pub mod subscriber_state;
pub mod template;
pub mod totp;

pub use carrier::CarrierName;
pub use code::OtpCode;
pub use error::{OtpError, retry_after_secs};
pub use gateway::{GatewayReceipt, SmsGateway};
// The subscriber number type is shared workspace-wide; re-exported so callers need one import.
pub use rate_limit::{SendHistory, SendLimit, decide_sms_send};
pub use simgate_core::Msisdn;
pub use sms_code::{
    IssuedSmsCode, PlainSmsCode, SmsCodeHash, SmsCodeKey, SmsCodeSettings, SmsCodeVerification,
    StoredSmsCode, issue_sms_code, verify_sms_code,
};
pub use subscriber_state::SubscriberOtpState;
pub use template::{SmsLocale, SmsTemplate, SmsTemplates, SmsText, gsm7_septets};
pub use totp::{
    AcceptedStep, ConfirmedTotpEnrolment, TotpAlgorithm, TotpEnrolment, TotpEnrolmentState,
    TotpSecret, TotpSettings, confirm_totp_enrolment, enrol_totp, generate_totp_code,
    totp_otpauth_uri, verify_totp_code,
};
