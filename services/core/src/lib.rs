//! Types every simgate crate shares.
//!
//! - [`tenant`]: the validated tenant identifier that scopes every stored row.
//! - [`scope`]: API-key scopes and sets of them.
//! - [`clock`]: the clock trait, so tests control time.
//! - [`api_key`]: API-key secret generation and hashing.
//! - [`msisdn`]: validated E.164 subscriber numbers, redacted in `Debug`.
//! - [`qr`]: QR codes as PNG (otpauth URIs, activation codes).

pub mod api_key;
pub mod clock;
pub mod msisdn;
pub mod qr;
pub mod scope;
pub mod tenant;

pub use clock::{Clock, ManualClock, SystemClock};
pub use msisdn::Msisdn;
pub use scope::{Scope, ScopeSet};
pub use tenant::TenantId;

/// A value from outside that did not pass validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct InvalidInput {
    /// Which kind of value was rejected (e.g. "tenant").
    pub what: &'static str,
    /// Why it was rejected, safe to show to the caller.
    pub reason: String,
}
