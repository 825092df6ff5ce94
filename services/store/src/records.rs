//! Rows and store traits for verification sessions, idempotency keys, activation tokens,
//! generated service secrets and the delivery outbox.
//!
//! The store knows nothing of the flow or token types: a verification is an opaque JSON body
//! (sealed at rest) plus the plain columns queries need. Each trait is a supertrait of
//! [`crate::Store`], so the API's `Arc<dyn Store>` reaches all of them.

use async_trait::async_trait;
use simgate_core::TenantId;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::StoreError;

/// A verification session as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationRow {
    /// Public id.
    pub id: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// `kiosk`, `mobile` or `batch`.
    pub channel: String,
    /// State-machine status.
    pub status: String,
    /// Keyed hash of the MSISDN.
    pub subscriber_id: String,
    /// When it opened.
    pub created_at: OffsetDateTime,
    /// When it expires if undecided.
    pub expires_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// Optimistic-concurrency counter; 1 on insert.
    pub version: i64,
    /// The aggregate as JSON (sealed at rest).
    pub body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for VerificationRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationRow")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What a request carrying an Idempotency-Key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key (or a takeover after a crashed attempt): run the request.
    Started,
    /// The key already answered: send this answer again.
    Replay {
        /// HTTP status of the stored answer.
        status_code: u16,
        /// Body of the stored answer.
        body: Zeroizing<Vec<u8>>,
    },
    /// Another request with this key is running now.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

/// The answer an Idempotency-Key replays, stored in the same transaction as the change it
/// answers for (so a crash or an outage between the two cannot let a retry repeat the change).
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    /// The client's Idempotency-Key (the tenant is the changed row's).
    pub key: String,
    /// HTTP status of the answer.
    pub status_code: u16,
    /// Body of the answer, exactly as sent.
    pub body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for IdempotentAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotentAnswer")
            .field("key", &self.key)
            .field("status_code", &self.status_code)
            .finish_non_exhaustive()
    }
}

/// An issued activation token's bookkeeping (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationTokenRow {
    /// The token's `jti`.
    pub jti: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// The verification that justified it.
    pub verification_id: String,
    /// The token's `sub`.
    pub subscriber_id: String,
    /// The signing key's id.
    pub kid: String,
    /// Issue time.
    pub issued_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// When the provisioning side redeemed it, if it did.
    pub redeemed_at: Option<OffsetDateTime>,
}

/// Delivery state of an outbox message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its first attempt.
    Queued,
    /// Claimed by a worker.
    Sending,
    /// The target accepted it.
    Delivered,
    /// An attempt failed; another is scheduled.
    Retrying,
    /// Given up: permanent error, too many attempts, or expired before delivery.
    Failed,
}

impl OutboxStatus {
    /// The status's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Retrying => "retrying",
            OutboxStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        [
            OutboxStatus::Queued,
            OutboxStatus::Sending,
            OutboxStatus::Delivered,
            OutboxStatus::Retrying,
            OutboxStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == value)
    }
}

/// A message to deliver later.
#[derive(Clone)]
pub struct NewOutboxMessage {
    /// Unique id (also given to the target where it supports de-duplication).
    pub id: String,
    /// Which worker delivers it, e.g. `webhook`, `sms`.
    pub kind: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// What to deliver (sealed at rest).
    pub payload: Zeroizing<Vec<u8>>,
    /// Earliest delivery time.
    pub deliver_after: OffsetDateTime,
    /// Latest useful delivery time (an SMS code past its lifetime is never sent).
    pub expires_at: Option<OffsetDateTime>,
}

/// A message as stored, payload opened.
#[derive(Clone)]
pub struct OutboxMessage {
    /// Unique id.
    pub id: String,
    /// Which worker delivers it.
    pub kind: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// What to deliver.
    pub payload: Zeroizing<Vec<u8>>,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Attempts started so far (including the current claim).
    pub attempts: u32,
    /// Next attempt time.
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// When it was delivered.
    pub delivered_at: Option<OffsetDateTime>,
    /// Latest useful delivery time.
    pub expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Verification sessions and the Idempotency-Key records of the requests that change them.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    async fn insert_verification(&self, row: &VerificationRow) -> Result<(), StoreError>;
    /// Stores a new session and, atomically with it, the answer its Idempotency-Key replays;
    /// the key must have been claimed with [`SessionStore::begin_idempotent_request`].
    async fn insert_verification_answering(
        &self,
        row: &VerificationRow,
        answer: &IdempotentAnswer,
    ) -> Result<(), StoreError>;
    /// The tenant's session with this id (another tenant's id finds nothing).
    async fn find_verification(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<VerificationRow>, StoreError>;
    /// Replaces a session if it is still at `row.version - 1`; false when someone else changed
    /// it first (the caller reloads and retries or reports a conflict).
    async fn update_verification(&self, row: &VerificationRow) -> Result<bool, StoreError>;
    /// [`SessionStore::update_verification`] and, atomically with it, the answer its claimed
    /// Idempotency-Key replays; false (nothing stored) when someone else changed the session.
    async fn update_verification_answering(
        &self,
        row: &VerificationRow,
        answer: &IdempotentAnswer,
    ) -> Result<bool, StoreError>;
    /// One page of the tenant's sessions created in `[since, until)`, in (created, id) order,
    /// starting after `after` (the previous page's last (created, id)); at most `limit`.
    async fn verifications_created_between(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        after: Option<(OffsetDateTime, String)>,
        limit: u32,
    ) -> Result<Vec<VerificationRow>, StoreError>;

    /// Claims an Idempotency-Key for a request whose canonical hash is `request_hash`.
    async fn begin_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
        lock_for: Duration,
    ) -> Result<IdempotencyBegin, StoreError>;
    /// Stores the answer to replay for the key, unless one is stored already.
    async fn complete_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &str,
        status_code: u16,
        body: &[u8],
    ) -> Result<(), StoreError>;
    /// Forgets a key whose request failed in a way a retry may fix (5xx).
    async fn abandon_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<(), StoreError>;
}

/// Activation-token bookkeeping and generated service secrets.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Records an issued token.
    async fn insert_activation_token(&self, row: &ActivationTokenRow) -> Result<(), StoreError>;
    /// The token with this `jti`, whatever its tenant (callers check the tenant).
    async fn find_activation_token(
        &self,
        jti: &str,
    ) -> Result<Option<ActivationTokenRow>, StoreError>;
    /// Revokes one token of the tenant; false when there is no such unrevoked token.
    async fn revoke_activation_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<bool, StoreError>;
    /// Marks a live token redeemed, atomically: true for exactly one caller, false when it was
    /// already redeemed, revoked or never issued to this tenant.
    async fn redeem_activation_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Returns the secret named `name`, storing `candidate` first if there is none yet. Every
    /// replica gets the same value whichever created it.
    async fn get_or_create_secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: OffsetDateTime,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError>;
}

/// The delivery outbox shared by the webhook and SMS workers.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues a message.
    async fn enqueue_outbox(&self, message: &NewOutboxMessage) -> Result<(), StoreError>;
    /// Claims up to `limit` due messages of `kind` for `lease`; a claim whose lease ran out
    /// (its worker died) is due again. Each claim counts as an attempt.
    async fn claim_due_outbox(
        &self,
        kind: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    /// Records a successful delivery.
    async fn mark_outbox_delivered(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError>;
    /// Records a failed attempt and when to try again.
    async fn mark_outbox_retry(
        &self,
        id: &str,
        next_attempt_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Gives up on a message.
    async fn mark_outbox_failed(
        &self,
        id: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// One message, for delivery status.
    async fn find_outbox(&self, id: &str) -> Result<Option<OutboxMessage>, StoreError>;
}
