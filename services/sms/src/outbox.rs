//! The persistent outbox as a trait, so the delivery logic is independent of SQL.
//!
//! A request enqueues a message and returns; the worker ([`crate::worker`]) claims due messages,
//! hands them to the gateway and records the outcome. The store implements [`SmsOutbox`] on a
//! table (one row per message), e.g.:
//!
//! ```text
//! sms_outbox(id TEXT PK, msisdn TEXT, text_sealed BLOB NULL, state TEXT, attempts INT,
//!            created_at, updated_at, expires_at, next_attempt_at NULL,
//!            lease_token TEXT NULL, lease_until NULL, delivered_at NULL,
//!            failure TEXT NULL, last_error TEXT NULL, gateway TEXT NULL, gateway_message_id TEXT NULL)
//! index on (state, next_attempt_at)
//! ```
//!
//! Contract every implementation keeps (the in-memory one in [`testing`] is the reference):
//! - `claim_due` is atomic across replicas (PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR
//!   UPDATE SKIP LOCKED) RETURNING`; SQLite: one `UPDATE ... RETURNING` in a write transaction).
//!   Due means `queued`/`retrying` with `next_attempt_at <= now`, or `sending` whose
//!   `lease_until <= now` (its worker died mid-attempt: returned with
//!   `previous_attempt_unfinished`). Expired messages are returned too, so the worker can mark
//!   them failed. Claiming sets `sending`, a new lease token, `lease_until = now + lease` and
//!   counts the attempt, oldest due first.
//! - `mark_*` apply only while the row is `sending` under the same lease token, else
//!   [`SmsError::LeaseLost`]. `mark_delivered` and `mark_failed` erase the text: the clear code
//!   lives in the outbox only while it may still be sent (seal it at rest meanwhile).

use async_trait::async_trait;
use simgate_otp::GatewayReceipt;
use time::{Duration, OffsetDateTime};

use crate::error::SmsError;
use crate::message::{
    Claim, ClaimedSms, FailureReason, OutboundSms, SmsDeliveryStatus, SmsMessageId,
};

/// Persistent storage of messages waiting for, in, or done with delivery.
#[async_trait]
pub trait SmsOutbox: Send + Sync + std::fmt::Debug {
    /// Stores a new message as `queued`, due at once; refuses an id already present.
    async fn enqueue(&self, message: OutboundSms) -> Result<(), SmsError>;

    /// Leases up to `limit` due messages to the caller for `lease`, marking them `sending`.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedSms>, SmsError>;

    /// Records that the gateway accepted the message; final.
    async fn mark_delivered(
        &self,
        claim: &Claim,
        receipt: &GatewayReceipt,
        at: OffsetDateTime,
    ) -> Result<(), SmsError>;

    /// Records a failed attempt worth repeating at `next_attempt_at` (state `retrying`).
    async fn mark_retrying(
        &self,
        claim: &Claim,
        next_attempt_at: OffsetDateTime,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<(), SmsError>;

    /// Gives the message up for good; final.
    async fn mark_failed(
        &self,
        claim: &Claim,
        reason: FailureReason,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<(), SmsError>;

    /// The delivery status of one message, `None` if unknown.
    async fn status(&self, id: &SmsMessageId) -> Result<Option<SmsDeliveryStatus>, SmsError>;
}

/// In-memory outbox for tests.
#[cfg(feature = "testing")]
pub mod testing {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, PoisonError};

    use simgate_core::Msisdn;
    use simgate_otp::SmsText;

    use super::*;
    use crate::message::{DeliveryState, LeaseToken};

    #[derive(Debug)]
    struct Row {
        msisdn: Msisdn,
        text: Option<SmsText>,
        expires_at: OffsetDateTime,
        lease: Option<(LeaseToken, OffsetDateTime)>,
        status: SmsDeliveryStatus,
    }

    /// Keeps the outbox in a map; behaves as the [`SmsOutbox`] contract says.
    #[derive(Debug, Default)]
    pub struct InMemoryOutbox {
        rows: Mutex<BTreeMap<SmsMessageId, Row>>,
    }

    impl InMemoryOutbox {
        /// An empty outbox.
        pub fn new() -> Self {
            Self::default()
        }

        /// Whether the text of a message is still kept (it must be erased once final).
        pub fn holds_text(&self, id: &SmsMessageId) -> bool {
            self.lock().get(id).is_some_and(|row| row.text.is_some())
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SmsMessageId, Row>> {
            self.rows.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn update(&self, claim: &Claim, apply: impl FnOnce(&mut Row)) -> Result<(), SmsError> {
            let mut rows = self.lock();
            let row = rows
                .get_mut(&claim.id)
                .ok_or_else(|| SmsError::LeaseLost(claim.id.to_string()))?;
            let holds = row.status.state == DeliveryState::Sending
                && row
                    .lease
                    .as_ref()
                    .is_some_and(|(token, _)| *token == claim.lease);
            if !holds {
                return Err(SmsError::LeaseLost(claim.id.to_string()));
            }
            row.lease = None;
            apply(row);
            Ok(())
        }
    }

    #[async_trait]
    impl SmsOutbox for InMemoryOutbox {
        async fn enqueue(&self, message: OutboundSms) -> Result<(), SmsError> {
            let mut rows = self.lock();
            if rows.contains_key(&message.id) {
                return Err(SmsError::DuplicateMessage(message.id.to_string()));
            }
            let status = SmsDeliveryStatus {
                id: message.id.clone(),
                state: DeliveryState::Queued,
                attempts: 0,
                created_at: message.created_at,
                updated_at: message.created_at,
                next_attempt_at: Some(message.created_at),
                delivered_at: None,
                failure: None,
                last_error: None,
                gateway: None,
                gateway_message_id: None,
            };
            rows.insert(
                message.id,
                Row {
                    msisdn: message.msisdn,
                    text: Some(message.text),
                    expires_at: message.expires_at,
                    lease: None,
                    status,
                },
            );
            Ok(())
        }

        async fn claim_due(
            &self,
            now: OffsetDateTime,
            lease: Duration,
            limit: usize,
        ) -> Result<Vec<ClaimedSms>, SmsError> {
            let mut rows = self.lock();
            let mut due: Vec<(OffsetDateTime, SmsMessageId)> = rows
                .iter()
                .filter_map(|(id, row)| {
                    let due_at = match row.status.state {
                        DeliveryState::Queued | DeliveryState::Retrying => {
                            row.status.next_attempt_at?
                        }
                        DeliveryState::Sending => row.lease.as_ref()?.1,
                        DeliveryState::Delivered | DeliveryState::Failed => return None,
                    };
                    (due_at <= now && row.text.is_some()).then(|| (due_at, id.clone()))
                })
                .collect();
            due.sort();
            let mut claimed = Vec::new();
            for (_, id) in due.into_iter().take(limit) {
                let Some(row) = rows.get_mut(&id) else {
                    continue;
                };
                let Some(text) = row.text.clone() else {
                    continue;
                };
                let unfinished = row.status.state == DeliveryState::Sending;
                let token = LeaseToken::generate();
                row.lease = Some((token.clone(), now + lease));
                row.status.state = DeliveryState::Sending;
                row.status.attempts = row.status.attempts.saturating_add(1);
                row.status.next_attempt_at = None;
                row.status.updated_at = now;
                claimed.push(ClaimedSms {
                    claim: Claim { id, lease: token },
                    msisdn: row.msisdn.clone(),
                    text,
                    expires_at: row.expires_at,
                    attempt: row.status.attempts,
                    previous_attempt_unfinished: unfinished,
                });
            }
            Ok(claimed)
        }

        async fn mark_delivered(
            &self,
            claim: &Claim,
            receipt: &GatewayReceipt,
            at: OffsetDateTime,
        ) -> Result<(), SmsError> {
            self.update(claim, |row| {
                row.text = None;
                row.status.state = DeliveryState::Delivered;
                row.status.updated_at = at;
                row.status.delivered_at = Some(at);
                row.status.gateway = Some(receipt.gateway.clone());
                row.status.gateway_message_id = receipt.message_id.clone();
            })
        }

        async fn mark_retrying(
            &self,
            claim: &Claim,
            next_attempt_at: OffsetDateTime,
            error: &str,
            at: OffsetDateTime,
        ) -> Result<(), SmsError> {
            self.update(claim, |row| {
                row.status.state = DeliveryState::Retrying;
                row.status.updated_at = at;
                row.status.next_attempt_at = Some(next_attempt_at);
                row.status.last_error = Some(error.to_owned());
            })
        }

        async fn mark_failed(
            &self,
            claim: &Claim,
            reason: FailureReason,
            error: &str,
            at: OffsetDateTime,
        ) -> Result<(), SmsError> {
            self.update(claim, |row| {
                row.text = None;
                row.status.state = DeliveryState::Failed;
                row.status.updated_at = at;
                row.status.failure = Some(reason);
                row.status.last_error = Some(error.to_owned());
            })
        }

        async fn status(&self, id: &SmsMessageId) -> Result<Option<SmsDeliveryStatus>, SmsError> {
            Ok(self.lock().get(id).map(|row| row.status.clone()))
        }
    }
}
