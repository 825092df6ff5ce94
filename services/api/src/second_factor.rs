//! The second factor as the service runs it: the otp crate's settings built from `[otp]`, the
//! SMS-code HMAC key, and the SMS outbox worker that delivers codes.
//!
//! [`SecondFactor`] is built once at start-up and held in the app state. The HMAC key is a
//! service secret generated on first use and shared by every replica through the store (as the
//! subscriber-id key is), so a code issued by one replica verifies on another. The worker is the
//! sms crate's [`OutboxWorker`] over the store's SMS outbox; handlers wake it after queueing so a
//! code leaves at once instead of at the next poll.

use std::sync::Arc;

use simgate_otp::SmsCodeKey;
use simgate_sms::OutboxWorker;
use zeroize::Zeroizing;

use crate::{config::OtpPolicy, error::ApiError, sessions::service_secret, state::AppState};

/// What the OTP handlers need besides the store and the clock.
pub struct SecondFactor {
    /// TOTP parameters, SMS code limits, texts and carrier name.
    pub policy: OtpPolicy,
    /// Delivers queued SMS through the configured gateway.
    pub sms_worker: Arc<OutboxWorker>,
    sms_code_key: tokio::sync::OnceCell<Zeroizing<Vec<u8>>>,
}

impl SecondFactor {
    /// Holds `policy` and the worker; the HMAC key is read from the store on first use.
    pub fn new(policy: OtpPolicy, sms_worker: Arc<OutboxWorker>) -> Self {
        Self {
            policy,
            sms_worker,
            sms_code_key: tokio::sync::OnceCell::new(),
        }
    }
}

/// The key SMS codes are hashed under: generated once per deployment, shared by every replica.
pub async fn sms_code_key(state: &AppState) -> Result<SmsCodeKey, ApiError> {
    let cell = &state.second_factor.sms_code_key;
    let bytes = service_secret(state, cell, "sms_code_key").await?;
    SmsCodeKey::from_bytes(bytes).map_err(|e| ApiError::internal(&e))
}
