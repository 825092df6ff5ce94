//! The webhook gateway against a local axum receiver that checks the signature the way a real
//! receiver would, plus the error mapping for busy, refusing, slow and absent receivers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use simgate_core::{Clock as _, ManualClock, Msisdn, SystemClock};
use simgate_otp::{OtpError, SmsGateway};
use simgate_sms::testing::sms_text;
use simgate_sms::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use simgate_sms::{WebhookConfig, WebhookGateway, verify_webhook_signature};
use time::macros::datetime;
use url::Url;

const SECRET: &str = "0123456789abcdef0123456789abcdef-webhook";

#[derive(Clone, Default)]
struct Receiver {
    accepted: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    answer: Arc<Mutex<Option<(StatusCode, StdDuration)>>>,
}

/// Verifies like a production receiver: signature over timestamp + body, 5-minute window.
async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let answer = *receiver.answer.lock().unwrap();
    if let Some((status, delay)) = answer {
        tokio::time::sleep(delay).await;
        return (status, "busy".into());
    }
    let verified = verify_webhook_signature(
        SECRET.as_bytes(),
        &header(TIMESTAMP_HEADER),
        &header(SIGNATURE_HEADER),
        &body,
        SystemClock.now(),
        time::Duration::minutes(5),
    );
    if verified.is_err() {
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    receiver
        .accepted
        .lock()
        .unwrap()
        .push((header(IDEMPOTENCY_HEADER), json));
    (StatusCode::ACCEPTED, r#"{"id":"provider-42"}"#.into())
}

async fn serve() -> (Url, Receiver) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route("/sms", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/sms", listener.local_addr().unwrap())).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

fn gateway(url: Url, secret: &str, clock: Arc<dyn simgate_core::Clock>) -> WebhookGateway {
    WebhookGateway::new(
        WebhookConfig {
            url,
            secret: secret.into(),
            from: Some("Orange".into()),
            timeout: StdDuration::from_millis(1500),
            deduplicates: false,
        },
        clock,
    )
    .unwrap()
}

#[tokio::test]
async fn a_signed_message_is_accepted_by_a_verifying_receiver() {
    let (url, receiver) = serve().await;
    let gateway = gateway(url, SECRET, Arc::new(SystemClock));
    let (text, code) = sms_text(simgate_otp::template::BUILTIN_EN);
    let msisdn = Msisdn::parse("+33612345678").unwrap();
    let id = "6f7d3f0e-8a55-4d8e-9d6c-2e7e8a0a3b11";
    let receipt = gateway.send_message(id, &msisdn, &text).await.unwrap();
    assert_eq!(receipt.gateway, "webhook");
    assert_eq!(receipt.message_id.as_deref(), Some("provider-42"));

    let accepted = receiver.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 1);
    let (idempotency_key, body) = &accepted[0];
    assert_eq!(idempotency_key, id);
    assert_eq!(body["message_id"], id);
    assert_eq!(body["to"], "+33612345678");
    assert_eq!(body["from"], "Orange");
    assert!(body["text"].as_str().unwrap().starts_with(&code));
}

#[tokio::test]
async fn a_wrong_secret_or_a_stale_timestamp_is_refused_by_the_receiver() {
    let (url, receiver) = serve().await;
    let (text, _) = sms_text("{code}");
    let msisdn = Msisdn::parse("+33612345678").unwrap();
    let wrong = gateway(
        url.clone(),
        "another-secret-of-at-least-32-bytes!!",
        Arc::new(SystemClock),
    );
    let error = wrong.send(&msisdn, &text).await.unwrap_err();
    assert!(
        matches!(error, OtpError::GatewayRejected(ref e) if e.contains("401")),
        "{error:?}"
    );
    // Signed with the right secret ten minutes ago: a replay.
    let stale_clock = Arc::new(ManualClock::new(
        SystemClock.now() - time::Duration::minutes(10),
    ));
    let stale = gateway(url, SECRET, stale_clock);
    assert!(stale.send(&msisdn, &text).await.is_err());
    assert!(receiver.accepted.lock().unwrap().is_empty());
}

#[tokio::test]
async fn busy_slow_and_absent_receivers_map_to_retry_or_unknown() {
    let (url, receiver) = serve().await;
    let (text, _) = sms_text("{code}");
    let msisdn = Msisdn::parse("+33612345678").unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-26 09:00:00 UTC)));
    let gw = gateway(url.clone(), SECRET, clock.clone());

    *receiver.answer.lock().unwrap() = Some((StatusCode::SERVICE_UNAVAILABLE, StdDuration::ZERO));
    let busy = gw.send(&msisdn, &text).await.unwrap_err();
    assert!(matches!(busy, OtpError::GatewayUnavailable(_)), "{busy:?}");

    *receiver.answer.lock().unwrap() = Some((StatusCode::ACCEPTED, StdDuration::from_secs(3)));
    let slow = gw.send(&msisdn, &text).await.unwrap_err();
    assert!(
        matches!(slow, OtpError::GatewayOutcomeUnknown(_)),
        "{slow:?}"
    );

    // Nothing listens on this port any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let absent = gateway(
        Url::parse(&format!("http://{closed}/sms")).unwrap(),
        SECRET,
        clock,
    );
    let refused = absent.send(&msisdn, &text).await.unwrap_err();
    assert!(
        matches!(refused, OtpError::GatewayUnavailable(_)),
        "{refused:?}"
    );
}

#[test]
fn short_secrets_are_refused() {
    let config = WebhookConfig {
        url: Url::parse("https://sms.example/hook").unwrap(),
        secret: "too-short".into(),
        from: None,
        timeout: StdDuration::from_secs(5),
        deduplicates: false,
    };
    assert!(WebhookGateway::new(config, Arc::new(SystemClock)).is_err());
}
