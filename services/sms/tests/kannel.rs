//! The Kannel gateway against a real Kannel (Debian `kannel` + `kannel-extras`) on loopback: codes
//! reach the fake SMSC with the right recipient and text, a wrong password is a permanent
//! rejection, and with Kannel down the worker keeps the message and retries with backoff, then
//! delivers it exactly once when Kannel is back.
//!
//! Skips with a printed reason when Kannel is not installed, except under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use simgate_core::{Clock as _, ManualClock, Msisdn};
use simgate_otp::{OtpError, SmsGateway};
use simgate_sms::testing::kannel::{self, KannelHarness};
use simgate_sms::testing::{InMemoryOutbox, sms_text};
use simgate_sms::{
    DeliveryState, FailureReason, KannelConfig, KannelGateway, OutboundSms, OutboxWorker,
    RetryPolicy, SmsOutbox, WorkerSettings,
};
use time::{Duration, macros::datetime};

fn gateway(harness: &KannelHarness, password: &str) -> KannelGateway {
    KannelGateway::new(KannelConfig {
        sendsms_url: harness.sendsms_url(),
        username: kannel::USERNAME.into(),
        password: password.into(),
        from: Some("Orange".into()),
        smsc: None,
        dlr_mask: None,
        dlr_url: None,
        timeout: StdDuration::from_secs(5),
    })
    .unwrap()
}

#[tokio::test]
async fn codes_reach_the_smsc_with_recipient_and_text_intact() {
    let Some(binaries) = kannel::kannel_binaries() else {
        return;
    };
    let harness = KannelHarness::start(binaries).unwrap();
    let gateway = gateway(&harness, kannel::PASSWORD);

    let french = simgate_otp::template::BUILTIN_FR;
    let (gsm7, code) = sms_text(french);
    let msisdn = Msisdn::parse("+33 6 12 34 56 78").unwrap();
    let receipt = gateway.send(&msisdn, &gsm7).await.unwrap();
    assert_eq!(receipt.gateway, "kannel");
    // Outside GSM-7: goes as UCS-2 and must still arrive intact.
    let (ucs2, cyr_code) = sms_text("Ваш код {code} — {carrier}");
    let other = Msisdn::parse("+380501234567").unwrap();
    gateway.send(&other, &ucs2).await.unwrap();

    let received = harness.wait_for_messages(2, StdDuration::from_secs(15));
    assert_eq!(received.len(), 2, "fake SMSC got: {received:?}");
    let first = &received[0];
    assert_eq!(first.to, "+33612345678");
    assert_eq!(first.from, "Orange");
    assert_eq!(first.text, gsm7.as_str());
    assert!(first.text.starts_with(&code));
    assert!(first.text.contains("vérification"));
    assert_eq!(received[1].to, "+380501234567");
    assert_eq!(received[1].text, format!("Ваш код {cyr_code} — Orange"));
}

#[tokio::test]
async fn a_wrong_password_is_rejected_for_good() {
    let Some(binaries) = kannel::kannel_binaries() else {
        return;
    };
    let harness = KannelHarness::start(binaries).unwrap();
    let (text, _) = sms_text("{code}");
    let error = gateway(&harness, "not-the-password")
        .send(&Msisdn::parse("+33612345678").unwrap(), &text)
        .await
        .unwrap_err();
    assert!(matches!(error, OtpError::GatewayRejected(_)), "{error:?}");
    assert!(error.to_string().contains("403"), "{error}");
    assert!(!error.to_string().contains("not-the-password"));
    assert!(harness.received().is_empty());
}

#[tokio::test]
async fn a_kannel_outage_delays_the_code_which_is_then_delivered_exactly_once() {
    let Some(binaries) = kannel::kannel_binaries() else {
        return;
    };
    let mut harness = KannelHarness::start(binaries).unwrap();
    harness.stop_kannel();

    let clock = Arc::new(ManualClock::new(datetime!(2026-11-26 09:00:00 UTC)));
    let outbox = Arc::new(InMemoryOutbox::new());
    let settings = WorkerSettings::new(
        Duration::seconds(60),
        StdDuration::from_secs(5),
        StdDuration::from_millis(50),
        RetryPolicy::new(Duration::seconds(2), Duration::seconds(30), 0.5).unwrap(),
        None,
        Duration::seconds(30),
    )
    .unwrap();
    let worker = OutboxWorker::new(
        outbox.clone(),
        Arc::new(gateway(&harness, kannel::PASSWORD)),
        clock.clone(),
        settings,
    );
    let (text, code) = sms_text(simgate_otp::template::BUILTIN_EN);
    let message = OutboundSms::new(
        Msisdn::parse("+447700900123").unwrap(),
        text,
        clock.now() + Duration::minutes(5),
        clock.as_ref(),
    );
    let id = message.id.clone();
    outbox.enqueue(message).await.unwrap();

    let mut waits = Vec::new();
    for attempt in 1..=3 {
        let round = worker.deliver_due().await.unwrap();
        assert_eq!(round.retrying, 1, "attempt {attempt}: {round:?}");
        let status = outbox.status(&id).await.unwrap().unwrap();
        assert_eq!(status.state, DeliveryState::Retrying);
        assert!(
            status
                .last_error
                .as_deref()
                .unwrap()
                .contains("cannot connect"),
            "{status:?}"
        );
        let wait = status.next_attempt_at.unwrap() - clock.now();
        waits.push(wait);
        // Not due before the backoff has passed.
        assert_eq!(worker.deliver_due().await.unwrap().claimed(), 0);
        clock.advance(wait);
    }
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]),
        "backoff grows: {waits:?}"
    );
    assert!(harness.received().is_empty());

    harness.start_kannel().unwrap();
    let round = worker.deliver_due().await.unwrap();
    assert_eq!(round.delivered, 1, "{round:?}");
    let status = outbox.status(&id).await.unwrap().unwrap();
    assert_eq!(status.state, DeliveryState::Delivered);
    assert_eq!(status.attempts, 4);

    let received = harness.wait_for_messages(1, StdDuration::from_secs(15));
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, "+447700900123");
    assert!(received[0].text.starts_with(&code));
    // Later rounds send nothing more, and nothing else arrives.
    clock.advance(Duration::minutes(1));
    assert_eq!(worker.deliver_due().await.unwrap().claimed(), 0);
    std::thread::sleep(StdDuration::from_secs(1));
    assert_eq!(harness.received().len(), 1, "delivered exactly once");
    assert_ne!(status.failure, Some(FailureReason::OutcomeUnknown));
}
