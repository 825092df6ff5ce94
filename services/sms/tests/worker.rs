//! The outbox worker against the in-memory outbox and gateway, with a hand-driven clock:
//! delivery, outage with backoff, permanent rejection, expiry, a crash mid-send, lost leases,
//! attempt limits and shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use simgate_core::{Clock as _, ManualClock, Msisdn};
use simgate_otp::gateway::testing::RecordingSmsGateway;
use simgate_otp::{GatewayReceipt, OtpError, SmsGateway, SmsText};
use simgate_sms::testing::{InMemoryOutbox, sms_text};
use simgate_sms::{
    DeliveryState, FailureReason, OutboundSms, OutboxWorker, RetryPolicy, SmsError, SmsMessageId,
    SmsOutbox, WorkerSettings,
};
use time::{Duration, OffsetDateTime, macros::datetime};

const START: OffsetDateTime = datetime!(2026-11-26 09:00:00 UTC);

struct Fixture {
    clock: Arc<ManualClock>,
    outbox: Arc<InMemoryOutbox>,
    worker: OutboxWorker,
}

fn settings(max_attempts: Option<u32>) -> WorkerSettings {
    WorkerSettings::new(
        Duration::seconds(60),
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(20),
        RetryPolicy::new(Duration::seconds(2), Duration::seconds(60), 0.5).unwrap(),
        max_attempts,
        Duration::seconds(30),
    )
    .unwrap()
}

fn fixture(gateway: Arc<dyn SmsGateway>, max_attempts: Option<u32>) -> Fixture {
    let clock = Arc::new(ManualClock::new(START));
    let outbox = Arc::new(InMemoryOutbox::new());
    let worker = OutboxWorker::new(
        outbox.clone(),
        gateway,
        clock.clone(),
        settings(max_attempts),
    );
    Fixture {
        clock,
        outbox,
        worker,
    }
}

impl Fixture {
    /// Queues a code valid for `lifetime` from now; returns its id and the code.
    async fn enqueue(&self, lifetime: Duration) -> (SmsMessageId, String) {
        let (text, code) = sms_text("{code} is your {carrier} code");
        let message = OutboundSms::new(
            Msisdn::parse("+33612345678").unwrap(),
            text,
            self.clock.now() + lifetime,
            self.clock.as_ref(),
        );
        let id = message.id.clone();
        self.outbox.enqueue(message).await.unwrap();
        (id, code)
    }

    async fn state(&self, id: &SmsMessageId) -> simgate_sms::SmsDeliveryStatus {
        self.outbox.status(id).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn a_queued_code_is_delivered_once_and_its_text_erased() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    let f = fixture(gateway.clone(), None);
    let (id, code) = f.enqueue(Duration::minutes(5)).await;
    assert_eq!(f.state(&id).await.state, DeliveryState::Queued);

    let round = f.worker.deliver_due().await.unwrap();
    assert_eq!(round.delivered, 1);
    let status = f.state(&id).await;
    assert_eq!(status.state, DeliveryState::Delivered);
    assert_eq!(status.attempts, 1);
    assert_eq!(status.delivered_at, Some(START));
    assert_eq!(status.gateway.as_deref(), Some("recording"));
    let sent = gateway.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].msisdn.as_e164(), "+33612345678");
    assert!(sent[0].text.as_str().starts_with(&code));
    assert!(
        !f.outbox.holds_text(&id),
        "the clear code must not outlive delivery"
    );

    f.clock.advance(Duration::minutes(2));
    assert_eq!(f.worker.deliver_due().await.unwrap().claimed(), 0);
    assert_eq!(gateway.sent().len(), 1);
}

#[tokio::test]
async fn an_outage_keeps_the_message_and_retries_with_growing_backoff() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    gateway.fail_with(Some(OtpError::GatewayUnavailable(
        "connection refused".into(),
    )));
    let f = fixture(gateway.clone(), None);
    let (id, _) = f.enqueue(Duration::minutes(5)).await;

    let mut previous_wait = Duration::ZERO;
    for attempt in 1..=4u32 {
        let round = f.worker.deliver_due().await.unwrap();
        assert_eq!(round.retrying, 1, "attempt {attempt}");
        let status = f.state(&id).await;
        assert_eq!(status.state, DeliveryState::Retrying);
        assert_eq!(status.attempts, attempt);
        assert!(status.last_error.unwrap().contains("connection refused"));
        let wait = status.next_attempt_at.unwrap() - f.clock.now();
        // Backoff 2 s doubling, of which up to half is jitter.
        let ceiling = Duration::seconds(2 * (1 << (attempt - 1)));
        assert!(
            wait >= ceiling / 2 && wait <= ceiling,
            "attempt {attempt}: {wait}"
        );
        assert!(wait > previous_wait, "backoff must grow");
        previous_wait = wait;

        // Not due yet: nothing is attempted.
        f.clock.advance(wait - Duration::milliseconds(1));
        assert_eq!(f.worker.deliver_due().await.unwrap().claimed(), 0);
        f.clock.advance(Duration::milliseconds(1));
    }
    assert!(gateway.sent().is_empty());

    gateway.fail_with(None);
    assert_eq!(f.worker.deliver_due().await.unwrap().delivered, 1);
    let status = f.state(&id).await;
    assert_eq!(status.state, DeliveryState::Delivered);
    assert_eq!(status.attempts, 5);
    assert_eq!(gateway.sent().len(), 1);
}

#[tokio::test]
async fn a_rejected_message_fails_at_once_without_retry() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    gateway.fail_with(Some(OtpError::GatewayRejected("kannel: 403".into())));
    let f = fixture(gateway.clone(), None);
    let (id, _) = f.enqueue(Duration::minutes(5)).await;
    assert_eq!(f.worker.deliver_due().await.unwrap().failed, 1);
    let status = f.state(&id).await;
    assert_eq!(status.state, DeliveryState::Failed);
    assert_eq!(status.failure, Some(FailureReason::Rejected));
    assert!(!f.outbox.holds_text(&id));
    gateway.fail_with(None);
    f.clock.advance(Duration::minutes(1));
    assert_eq!(f.worker.deliver_due().await.unwrap().claimed(), 0);
    assert!(gateway.sent().is_empty());
}

#[tokio::test]
async fn an_expired_code_is_never_sent() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    let f = fixture(gateway.clone(), None);
    // Queued while the worker was down, found after the code expired.
    let (late, _) = f.enqueue(Duration::minutes(5)).await;
    f.clock.advance(Duration::minutes(5));
    // Less validity left than the configured 30 s minimum.
    let (short, _) = f.enqueue(Duration::seconds(20)).await;
    assert_eq!(f.worker.deliver_due().await.unwrap().failed, 2);
    for id in [&late, &short] {
        assert_eq!(f.state(id).await.failure, Some(FailureReason::Expired));
    }
    assert!(gateway.sent().is_empty());
}

#[tokio::test]
async fn an_outage_outlasting_the_code_ends_as_expired_not_as_a_late_send() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    gateway.fail_with(Some(OtpError::GatewayUnavailable("503".into())));
    let f = fixture(gateway.clone(), None);
    let (id, _) = f.enqueue(Duration::minutes(2)).await;
    for _ in 0..20 {
        f.worker.deliver_due().await.unwrap();
        if f.state(&id).await.state == DeliveryState::Failed {
            break;
        }
        f.clock.advance(Duration::seconds(70));
        gateway.fail_with(Some(OtpError::GatewayUnavailable("503".into())));
    }
    let status = f.state(&id).await;
    assert_eq!(status.failure, Some(FailureReason::Expired));
    gateway.fail_with(None);
    f.clock.advance(Duration::minutes(5));
    f.worker.deliver_due().await.unwrap();
    assert!(gateway.sent().is_empty());
}

#[tokio::test]
async fn an_attempt_interrupted_by_a_crash_is_not_resent_by_a_gateway_that_cannot_deduplicate() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    let f = fixture(gateway.clone(), None);
    let (id, _) = f.enqueue(Duration::minutes(5)).await;
    // A worker claims the message, the gateway accepts it, and the worker dies before recording.
    let claimed = f
        .outbox
        .claim_due(f.clock.now(), Duration::seconds(60), 1)
        .await
        .unwrap();
    let dying = &claimed[0];
    gateway.send(&dying.msisdn, &dying.text).await.unwrap();
    assert_eq!(f.state(&id).await.state, DeliveryState::Sending);

    // Within the lease nobody touches it.
    f.clock.advance(Duration::seconds(59));
    assert_eq!(f.worker.deliver_due().await.unwrap().claimed(), 0);
    f.clock.advance(Duration::seconds(1));
    assert_eq!(f.worker.deliver_due().await.unwrap().failed, 1);
    let status = f.state(&id).await;
    assert_eq!(status.failure, Some(FailureReason::OutcomeUnknown));
    assert_eq!(
        gateway.sent().len(),
        1,
        "the code must not be sent a second time"
    );
}

/// A gateway that remembers accepted ids and ignores resubmissions, as a provider honouring
/// `Idempotency-Key` does.
#[derive(Debug, Default)]
struct DeduplicatingGateway {
    inner: RecordingSmsGateway,
    seen: Mutex<HashSet<String>>,
    ids: Mutex<Vec<String>>,
}

#[async_trait]
impl SmsGateway for DeduplicatingGateway {
    async fn send(&self, _: &Msisdn, _: &SmsText) -> Result<GatewayReceipt, OtpError> {
        unreachable!("the worker always passes the message id")
    }

    async fn send_message(
        &self,
        message_id: &str,
        msisdn: &Msisdn,
        text: &SmsText,
    ) -> Result<GatewayReceipt, OtpError> {
        self.ids.lock().unwrap().push(message_id.to_owned());
        if self.seen.lock().unwrap().insert(message_id.to_owned()) {
            self.inner.send(msisdn, text).await?;
        }
        Ok(GatewayReceipt {
            gateway: "dedup".into(),
            message_id: Some(message_id.to_owned()),
        })
    }

    fn deduplicates_message_ids(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn with_a_deduplicating_gateway_an_interrupted_attempt_is_resent_under_the_same_id() {
    let gateway = Arc::new(DeduplicatingGateway::default());
    let f = fixture(gateway.clone(), None);
    let (id, _) = f.enqueue(Duration::minutes(5)).await;
    let claimed = f
        .outbox
        .claim_due(f.clock.now(), Duration::seconds(60), 1)
        .await
        .unwrap();
    let dying = &claimed[0];
    gateway
        .send_message(id.as_str(), &dying.msisdn, &dying.text)
        .await
        .unwrap();

    f.clock.advance(Duration::seconds(61));
    assert_eq!(f.worker.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(f.state(&id).await.state, DeliveryState::Delivered);
    assert_eq!(*gateway.ids.lock().unwrap(), [id.as_str(), id.as_str()]);
    assert_eq!(gateway.inner.sent().len(), 1, "the handset gets one SMS");
}

#[tokio::test]
async fn an_unknown_outcome_is_given_up_unless_the_gateway_deduplicates() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    gateway.fail_with(Some(OtpError::GatewayOutcomeUnknown(
        "no answer in 10 s".into(),
    )));
    let f = fixture(gateway.clone(), None);
    let (id, _) = f.enqueue(Duration::minutes(5)).await;
    assert_eq!(f.worker.deliver_due().await.unwrap().failed, 1);
    assert_eq!(
        f.state(&id).await.failure,
        Some(FailureReason::OutcomeUnknown)
    );
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_cannot_overwrite_the_next_claim() {
    let outbox = InMemoryOutbox::new();
    let clock = ManualClock::new(START);
    let (text, _) = sms_text("{code}");
    let message = OutboundSms::new(
        Msisdn::parse("+491701234567").unwrap(),
        text,
        START + Duration::minutes(5),
        &clock,
    );
    let id = message.id.clone();
    outbox.enqueue(message.clone()).await.unwrap();
    assert!(matches!(
        outbox.enqueue(message).await,
        Err(SmsError::DuplicateMessage(_))
    ));
    let lease = Duration::seconds(30);
    let slow = outbox.claim_due(START, lease, 10).await.unwrap().remove(0);
    assert!(outbox.claim_due(START, lease, 10).await.unwrap().is_empty());
    let later = START + Duration::seconds(31);
    let next = outbox.claim_due(later, lease, 10).await.unwrap().remove(0);
    assert!(next.previous_attempt_unfinished);
    assert_eq!(next.attempt, 2);
    let receipt = GatewayReceipt {
        gateway: "x".into(),
        message_id: None,
    };
    assert!(matches!(
        outbox.mark_delivered(&slow.claim, &receipt, later).await,
        Err(SmsError::LeaseLost(_))
    ));
    outbox
        .mark_failed(&next.claim, FailureReason::OutcomeUnknown, "test", later)
        .await
        .unwrap();
    assert_eq!(
        outbox.status(&id).await.unwrap().unwrap().state,
        DeliveryState::Failed
    );
}

#[tokio::test]
async fn the_attempt_limit_ends_retries() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    gateway.fail_with(Some(OtpError::GatewayUnavailable("down".into())));
    let f = fixture(gateway.clone(), Some(2));
    let (id, _) = f.enqueue(Duration::minutes(5)).await;
    assert_eq!(f.worker.deliver_due().await.unwrap().retrying, 1);
    f.clock.advance(Duration::seconds(3));
    assert_eq!(f.worker.deliver_due().await.unwrap().failed, 1);
    let status = f.state(&id).await;
    assert_eq!(status.failure, Some(FailureReason::AttemptsExhausted));
    assert_eq!(status.attempts, 2);
}

#[tokio::test]
async fn the_running_worker_delivers_when_woken_and_stops_on_shutdown() {
    let gateway = Arc::new(RecordingSmsGateway::new());
    let f = fixture(gateway.clone(), None);
    let worker = Arc::new(f.worker);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await;
        }
    });
    let (text, _) = sms_text("{code}");
    let message = OutboundSms::new(
        Msisdn::parse("+33612345678").unwrap(),
        text,
        f.clock.now() + Duration::minutes(5),
        f.clock.as_ref(),
    );
    let id = message.id.clone();
    f.outbox.enqueue(message).await.unwrap();
    worker.wake();
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while f.outbox.status(&id).await.unwrap().unwrap().state != DeliveryState::Delivered {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the running worker delivers");
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), running)
        .await
        .expect("the worker stops on shutdown")
        .unwrap();
    assert_eq!(gateway.sent().len(), 1);
}

#[test]
fn settings_refuse_a_lease_shorter_than_a_gateway_attempt() {
    let retry = RetryPolicy::default();
    let short = WorkerSettings::new(
        Duration::seconds(12),
        std::time::Duration::from_secs(10),
        std::time::Duration::from_secs(1),
        retry,
        None,
        Duration::seconds(30),
    );
    assert!(short.is_err());
}
