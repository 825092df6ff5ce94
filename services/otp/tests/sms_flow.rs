//! The whole SMS path as the wiring will use it, with the in-memory gateway: decide the send,
//! issue, render, deliver, read the code off the "handset", verify; and a gateway outage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures::executor::block_on;
use simgate_core::{Clock as _, ManualClock};
use simgate_otp::gateway::testing::RecordingSmsGateway;
use simgate_otp::{
    CarrierName, Msisdn, OtpCode, OtpError, SendHistory, SmsCodeKey, SmsCodeSettings, SmsGateway,
    SmsTemplates, SubscriberOtpState, decide_sms_send, issue_sms_code, verify_sms_code,
};
use time::{Duration, macros::datetime};

#[test]
fn a_code_sent_through_the_gateway_verifies_once() {
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let settings = SmsCodeSettings::default();
    let key = SmsCodeKey::generate().unwrap();
    let recorder = Arc::new(RecordingSmsGateway::new());
    let gateway: Arc<dyn SmsGateway> = recorder.clone();
    let msisdn = Msisdn::parse("+33 6 12 34 56 78").unwrap();
    let mut history = SendHistory::default();
    let mut subscriber = SubscriberOtpState::default();

    decide_sms_send(&history, &settings, clock.now()).unwrap();
    let issued = issue_sms_code(&settings, &key, &clock);
    let text = SmsTemplates::builtin().unwrap().template_for(None).render(
        &CarrierName::parse("Orange").unwrap(),
        &issued.plain_code,
        settings.lifetime_minutes(),
    );
    let receipt = block_on(gateway.send(&msisdn, &text)).unwrap();
    assert_eq!(receipt.gateway, "recording");
    history.msisdn_sends.push(clock.now());
    history.client_sends.push(clock.now());
    drop(issued.plain_code);

    // The subscriber reads the code off their phone.
    let delivered = recorder.sent();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].msisdn.as_e164(), "+33612345678");
    let typed: String = delivered[0].text.as_str().chars().take(6).collect();

    clock.advance(Duration::seconds(20));
    // Impatient resend is refused by the cooldown.
    assert!(matches!(
        decide_sms_send(&history, &settings, clock.now()),
        Err(OtpError::RateLimited { .. })
    ));

    subscriber.ensure_unlocked().unwrap();
    let check = verify_sms_code(
        &issued.stored,
        &OtpCode::parse(&typed, 6).unwrap(),
        &key,
        clock.now(),
    );
    subscriber.record_sms_attempt(
        &check.result,
        settings.max_consecutive_failures(),
        clock.now(),
    );
    assert_eq!(check.result, Ok(()));
    let replay = verify_sms_code(
        &check.updated,
        &OtpCode::parse(&typed, 6).unwrap(),
        &key,
        clock.now(),
    );
    assert_eq!(replay.result, Err(OtpError::Replayed));
}

#[test]
fn a_gateway_outage_is_reported_as_retryable_and_sends_nothing() {
    let gateway = RecordingSmsGateway::new();
    gateway.fail_with(Some(OtpError::GatewayUnavailable(
        "connection refused".into(),
    )));
    let msisdn = Msisdn::parse("+491701234567").unwrap();
    let clock = ManualClock::new(datetime!(2026-11-25 12:00:00 UTC));
    let issued = issue_sms_code(
        &SmsCodeSettings::default(),
        &SmsCodeKey::generate().unwrap(),
        &clock,
    );
    let text = SmsTemplates::builtin().unwrap().template_for(None).render(
        &CarrierName::parse("Telekom").unwrap(),
        &issued.plain_code,
        5,
    );
    let error = block_on(gateway.send(&msisdn, &text)).unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.reason_code(), "gateway_unavailable");
    assert!(gateway.sent().is_empty());

    gateway.fail_with(None);
    block_on(gateway.send(&msisdn, &text)).unwrap();
    assert_eq!(gateway.sent().len(), 1);
    assert!(!OtpError::GatewayRejected("unknown subscriber".into()).is_retryable());
}
