//! Store trait and rows for the second factor: TOTP enrolments, the per-subscriber lock and TOTP
//! replay marker, SMS codes and the SMS send history.
//!
//! The values are the otp crate's own ([`SubscriberOtpState`], [`StoredSmsCode`]), so what the
//! domain computes is what is stored. Every change that replicas could race on is a conditional
//! update here (failure counter increments in SQL, TOTP step and SMS-code attempts by
//! compare-and-set), so the limits hold with any number of replicas. The SMS outbox itself is the
//! sms crate's [`simgate_sms::SmsOutbox`] trait, implemented by [`crate::SqlStore`] too.

use async_trait::async_trait;
use simgate_core::TenantId;
use simgate_otp::{StoredSmsCode, SubscriberOtpState, TotpEnrolmentState};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::StoreError;

/// A TOTP enrolment as stored, secret opened.
#[derive(Clone)]
pub struct TotpEnrolmentRow {
    /// The shared secret's bytes.
    pub secret: Zeroizing<Vec<u8>>,
    /// Pending until confirmed with a first valid code.
    pub state: TotpEnrolmentState,
    /// When the secret was issued.
    pub enrolled_at: OffsetDateTime,
    /// When it was confirmed.
    pub activated_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for TotpEnrolmentRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolmentRow")
            .field("state", &self.state)
            .field("enrolled_at", &self.enrolled_at)
            .field("activated_at", &self.activated_at)
            .finish_non_exhaustive()
    }
}

/// A verification's current SMS code and the outbox message that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCodeRow {
    /// The code's hash and counters.
    pub code: StoredSmsCode,
    /// The SMS outbox message id.
    pub message_id: String,
}

/// Persistence of the second factor's state.
#[async_trait]
pub trait SecondFactorStore: Send + Sync {
    /// Stores a new pending enrolment, replacing a pending one; false (nothing stored) when an
    /// active enrolment exists.
    async fn put_pending_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        secret: &[u8],
        enrolled_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The subscriber's enrolment, if any.
    async fn find_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<Option<TotpEnrolmentRow>, StoreError>;
    /// Activates the pending enrolment issued at `enrolled_at`; false when it is no longer that
    /// pending enrolment (replaced, or activated by a racing request).
    async fn activate_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        enrolled_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Deletes the subscriber's enrolment (admin reset after a lost phone); false when none.
    async fn delete_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<bool, StoreError>;

    /// The subscriber's lock state and replay marker (defaults when never seen).
    async fn otp_state(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<SubscriberOtpState, StoreError>;
    /// Counts one refused guess atomically, locking at `max_consecutive_failures`; returns the
    /// state after the change.
    async fn record_otp_failure(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        max_consecutive_failures: u32,
        now: OffsetDateTime,
    ) -> Result<SubscriberOtpState, StoreError>;
    /// Resets the failure count after an accepted code.
    async fn record_otp_success(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<(), StoreError>;
    /// Records TOTP step `step` as used if it is above every step used before; false when a
    /// racing request already used it (or a later one): the code is then a replay.
    async fn advance_totp_step(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        step: u64,
    ) -> Result<bool, StoreError>;
    /// Lifts the lock (admin decision or a new verification); the replay marker is kept.
    async fn unlock_otp(&self, tenant: &TenantId, subscriber_id: &str) -> Result<(), StoreError>;

    /// Stores the verification's new SMS code, replacing (and so invalidating) an earlier one.
    async fn put_sms_code(
        &self,
        tenant: &TenantId,
        verification_id: &str,
        row: &SmsCodeRow,
    ) -> Result<(), StoreError>;
    /// The verification's current SMS code.
    async fn find_sms_code(
        &self,
        tenant: &TenantId,
        verification_id: &str,
    ) -> Result<Option<SmsCodeRow>, StoreError>;
    /// Stores the code's counters after a verification attempt, if nobody counted an attempt
    /// since `previous_attempts` was read; false otherwise (the caller reports a conflict).
    async fn update_sms_code_attempt(
        &self,
        tenant: &TenantId,
        verification_id: &str,
        previous_attempts: u32,
        updated: &StoredSmsCode,
    ) -> Result<bool, StoreError>;

    /// Records one SMS code sent to `subscriber_id` on behalf of API client `client_id`.
    async fn record_sms_send(
        &self,
        subscriber_id: &str,
        client_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Send times since `since`: to the subscriber (any client) and by the client (any number).
    async fn sms_send_history(
        &self,
        subscriber_id: &str,
        client_id: &str,
        since: OffsetDateTime,
    ) -> Result<simgate_otp::SendHistory, StoreError>;
}
