//! The delivery worker: claims due messages from the outbox, hands them to the gateway, records
//! the outcome, and schedules retries with capped exponential backoff.
//!
//! Time comes from a [`Clock`] (due times, expiry, backoff), so tests drive it with a
//! `ManualClock` and [`OutboxWorker::deliver_due`]; [`OutboxWorker::run`] adds the polling loop
//! and stops when the shutdown future completes.
//!
//! # Never sending a code twice
//!
//! Crashes and outages give two windows where a gateway may have taken a message whose outcome
//! the outbox does not know: the worker dies between "gateway accepted" and `mark_delivered`
//! (its lease expires and the next claim says `previous_attempt_unfinished`), or the request
//! reached the gateway but the answer did not come back (`OtpError::GatewayOutcomeUnknown`).
//! In both cases the message is resent only if the gateway deduplicates message ids
//! (`SmsGateway::deduplicates_message_ids`: the same outbox id is passed on every attempt);
//! otherwise it is marked `failed` with reason `outcome_unknown` and the subscriber can ask for
//! a new code. The guarantee is therefore:
//! - a code reaches the gateway **at most once**; with a deduplicating gateway, exactly once
//!   unless the code expires first;
//! - a gateway outage (connection refused, 5xx, `3: Queued` is *not* an outage) loses nothing:
//!   the message stays `retrying` until the gateway takes it or the code expires;
//! - a code is never sent at or after `expires_at - min_remaining_validity`;
//! - one worker at a time owns a message (lease), and a worker whose lease ran out cannot
//!   record an outcome over the next owner's (`SmsError::LeaseLost`). The lease must be longer
//!   than the gateway's request timeout, which [`WorkerSettings::new`] checks.
//!
//! Messages are claimed one at a time, so a shutdown never leaves a claimed but unattempted
//! message behind (it would later look unfinished and be given up); an attempt in flight when
//! shutdown is requested is finished and recorded first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use simgate_core::Clock;
use simgate_otp::{OtpError, SmsGateway};
use time::Duration;
use tokio::sync::Notify;

use crate::error::SmsError;
use crate::message::{ClaimedSms, DeliveryState, FailureReason};
use crate::outbox::SmsOutbox;
use crate::retry::RetryPolicy;

/// How the worker paces and bounds delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    lease: Duration,
    poll_interval: std::time::Duration,
    retry: RetryPolicy,
    max_attempts: Option<u32>,
    min_remaining_validity: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::seconds(60),
            poll_interval: std::time::Duration::from_secs(1),
            retry: RetryPolicy::default(),
            max_attempts: None,
            min_remaining_validity: Duration::seconds(30),
        }
    }
}

impl WorkerSettings {
    /// Settings; the lease must exceed `gateway_timeout` by at least 5 s so that a live attempt
    /// never loses its claim.
    pub fn new(
        lease: Duration,
        gateway_timeout: std::time::Duration,
        poll_interval: std::time::Duration,
        retry: RetryPolicy,
        max_attempts: Option<u32>,
        min_remaining_validity: Duration,
    ) -> Result<Self, SmsError> {
        let timeout = Duration::try_from(gateway_timeout)
            .map_err(|_| SmsError::invalid("SMS gateway timeout", "too large"))?;
        if lease < timeout + Duration::seconds(5) {
            return Err(SmsError::invalid(
                "SMS outbox lease",
                "must exceed the gateway timeout by at least 5 seconds",
            ));
        }
        if poll_interval.is_zero() {
            return Err(SmsError::invalid(
                "SMS outbox poll interval",
                "must be positive",
            ));
        }
        if max_attempts == Some(0) {
            return Err(SmsError::invalid("SMS max attempts", "must be at least 1"));
        }
        if min_remaining_validity.is_negative() {
            return Err(SmsError::invalid(
                "SMS minimum remaining validity",
                "must not be negative",
            ));
        }
        Ok(Self {
            lease,
            poll_interval,
            retry,
            max_attempts,
            min_remaining_validity,
        })
    }

    /// How long a claim holds a message.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How often an idle worker looks for due messages.
    pub fn poll_interval(&self) -> std::time::Duration {
        self.poll_interval
    }

    /// Backoff between attempts.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Attempts before giving up (besides expiry), if limited.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// A code with less validity left than this is not sent any more.
    pub fn min_remaining_validity(&self) -> Duration {
        self.min_remaining_validity
    }
}

/// What one [`OutboxWorker::deliver_due`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    /// Messages the gateway accepted.
    pub delivered: usize,
    /// Messages that failed an attempt and were rescheduled.
    pub retrying: usize,
    /// Messages given up for good.
    pub failed: usize,
    /// Outcomes not recorded because the claim was lost or the outbox failed.
    pub unrecorded: usize,
}

impl DeliveryRound {
    fn count(&mut self, state: DeliveryState) {
        match state {
            DeliveryState::Delivered => self.delivered += 1,
            DeliveryState::Retrying => self.retrying += 1,
            DeliveryState::Failed => self.failed += 1,
            DeliveryState::Queued | DeliveryState::Sending => {}
        }
    }

    /// Messages claimed in the round.
    pub fn claimed(&self) -> usize {
        self.delivered + self.retrying + self.failed + self.unrecorded
    }
}

/// Delivers outbox messages through one gateway.
#[derive(Debug)]
pub struct OutboxWorker {
    outbox: Arc<dyn SmsOutbox>,
    gateway: Arc<dyn SmsGateway>,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    wake: Notify,
}

/// Most messages one round claims, so a round always ends and shutdown is checked.
const MAX_MESSAGES_PER_ROUND: usize = 500;

impl OutboxWorker {
    /// A worker over `outbox` sending through `gateway`, with time from `clock`.
    pub fn new(
        outbox: Arc<dyn SmsOutbox>,
        gateway: Arc<dyn SmsGateway>,
        clock: Arc<dyn Clock>,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            outbox,
            gateway,
            clock,
            settings,
            wake: Notify::new(),
        }
    }

    /// Asks a running worker to look for due messages now (call after `enqueue`).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Delivers every message due now, one at a time, and returns what happened.
    pub async fn deliver_due(&self) -> Result<DeliveryRound, SmsError> {
        self.deliver_due_unless(&mut || false).await
    }

    /// Delivers due messages until `shutdown` completes, polling and reacting to [`Self::wake`].
    ///
    /// An attempt in flight when shutdown comes is finished and recorded before returning.
    pub async fn run<F>(&self, shutdown: F)
    where
        F: Future<Output = ()> + Send,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut stopped = false;
        tracing::info!(gateway = ?self.gateway, "SMS outbox worker started");
        loop {
            let round = self
                .deliver_due_unless(&mut || {
                    stopped = stopped || is_ready(shutdown.as_mut());
                    stopped
                })
                .await;
            match round {
                Ok(round) if round.claimed() > 0 => tracing::debug!(?round, "SMS outbox round"),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, reason = error.reason_code(), "SMS outbox round failed")
                }
            }
            if stopped {
                break;
            }
            tokio::select! {
                () = shutdown.as_mut() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
        tracing::info!("SMS outbox worker stopped");
    }

    async fn deliver_due_unless(
        &self,
        stop: &mut (dyn FnMut() -> bool + Send),
    ) -> Result<DeliveryRound, SmsError> {
        let mut round = DeliveryRound::default();
        while round.claimed() < MAX_MESSAGES_PER_ROUND && !stop() {
            let now = self.clock.now();
            let Some(message) = self
                .outbox
                .claim_due(now, self.settings.lease, 1)
                .await?
                .into_iter()
                .next()
            else {
                break;
            };
            let id = message.claim.id.clone();
            match self.deliver(message).await {
                Ok(state) => round.count(state),
                Err(error) => {
                    tracing::warn!(message_id = %id, %error, "SMS outcome not recorded");
                    round.unrecorded += 1;
                }
            }
        }
        Ok(round)
    }

    /// Makes one attempt on a claimed message and records the outcome; returns the new state.
    async fn deliver(&self, message: ClaimedSms) -> Result<DeliveryState, SmsError> {
        let claim = &message.claim;
        let id = claim.id.as_str();
        let last_useful_instant = message.expires_at - self.settings.min_remaining_validity;
        let now = self.clock.now();
        if now >= last_useful_instant {
            tracing::info!(message_id = id, "SMS code expired before it could be sent");
            let error = "the code expired before it could be sent";
            return self.fail(&message, FailureReason::Expired, error).await;
        }
        let deduplicates = self.gateway.deduplicates_message_ids();
        if message.previous_attempt_unfinished && !deduplicates {
            tracing::warn!(
                message_id = id,
                "earlier SMS attempt interrupted; not resent"
            );
            let error = "an earlier attempt was interrupted and may have reached the gateway; \
                         not resent so the code is not sent twice";
            return self
                .fail(&message, FailureReason::OutcomeUnknown, error)
                .await;
        }
        let result = self
            .gateway
            .send_message(id, &message.msisdn, &message.text)
            .await;
        let at = self.clock.now();
        let error = match result {
            Ok(receipt) => {
                tracing::info!(message_id = id, attempt = message.attempt, gateway = %receipt.gateway, "SMS accepted by the gateway");
                self.outbox.mark_delivered(claim, &receipt, at).await?;
                return Ok(DeliveryState::Delivered);
            }
            Err(error) => error,
        };
        let retry_is_safe = error.is_retryable()
            || (deduplicates && matches!(error, OtpError::GatewayOutcomeUnknown(_)));
        let detail = error.to_string();
        if !retry_is_safe {
            let reason = match error {
                OtpError::GatewayOutcomeUnknown(_) => FailureReason::OutcomeUnknown,
                _ => FailureReason::Rejected,
            };
            tracing::warn!(message_id = id, attempt = message.attempt, reason = reason.as_str(), %error, "SMS given up");
            return self.fail(&message, reason, &detail).await;
        }
        if self
            .settings
            .max_attempts
            .is_some_and(|max| message.attempt >= max)
        {
            let reason = FailureReason::AttemptsExhausted;
            tracing::warn!(message_id = id, attempt = message.attempt, %error, "SMS attempts exhausted");
            return self.fail(&message, reason, &detail).await;
        }
        let next_attempt_at = at + self.settings.retry.random_delay(message.attempt);
        if next_attempt_at >= last_useful_instant {
            tracing::warn!(message_id = id, attempt = message.attempt, %error, "SMS code would expire before the next attempt");
            return self.fail(&message, FailureReason::Expired, &detail).await;
        }
        tracing::info!(message_id = id, attempt = message.attempt, %error, %next_attempt_at, "SMS attempt failed; retrying");
        self.outbox
            .mark_retrying(claim, next_attempt_at, &detail, at)
            .await?;
        Ok(DeliveryState::Retrying)
    }

    async fn fail(
        &self,
        message: &ClaimedSms,
        reason: FailureReason,
        detail: &str,
    ) -> Result<DeliveryState, SmsError> {
        self.outbox
            .mark_failed(&message.claim, reason, detail, self.clock.now())
            .await?;
        Ok(DeliveryState::Failed)
    }
}

/// Whether `future` has completed, without waiting (a no-op waker: the caller awaits it later).
fn is_ready<F: Future>(future: Pin<&mut F>) -> bool {
    let mut context = Context::from_waker(Waker::noop());
    matches!(future.poll(&mut context), Poll::Ready(_))
}
