//! The second factor over HTTP, with a hand-driven clock and an SMS gateway that records what
//! it is given (and can be switched off like an outage): TOTP enrolment confirmed with codes
//! computed by `oathtool` from the returned otpauth URI, replay refusal across verifications,
//! SMS codes (wrong, expired, per-code attempt limit, resend cooldown, hourly limits per number
//! and per API key), the consecutive-failure lock and its admin unlock, and a gateway outage
//! that loses no code and sends none twice, visible on the verification.
//!
//! The sessions here require only the `otp` step, so each scenario exercises the second factor
//! without spending face inference; the default kiosk and mobile paths with document, selfie
//! and code are in `end_to_end.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use simgate_api::{Overrides, Settings};
use simgate_core::{Clock as _, ManualClock};
use simgate_flow::Step;
use simgate_otp::{OtpError, gateway::testing::RecordingSmsGateway};
use simgate_store::Backend;
use support::{TestApp, face_engine, oathtool_code, problem, secret_of, wrong_code};
use time::{Duration, OffsetDateTime, macros::datetime};

const EID: &str = "89049032123451234512345678901235";
const ICCID: &str = "8923000000000000005";
const MSISDN: &str = "+33612345678";
const START: OffsetDateTime = datetime!(2026-11-26 10:00:00 UTC);

struct OtpApp {
    app: TestApp,
    clock: Arc<ManualClock>,
    gateway: Arc<RecordingSmsGateway>,
    key: String,
    admin: String,
}

impl OtpApp {
    async fn start(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Self {
        let clock = Arc::new(ManualClock::new(START));
        let gateway = Arc::new(RecordingSmsGateway::new());
        let overrides = Overrides {
            clock: Some(clock.clone()),
            face_engine: Some(face_engine()),
            sms_gateway: Some(gateway.clone()),
        };
        let app = TestApp::spawn_with_overrides(
            backend,
            |settings| {
                settings.flow.kiosk.required_steps = vec![Step::Otp];
                settings.sms.outbox.poll_interval_ms = 50;
                settings.otp.carrier_name = "Orange".into();
                adjust(settings);
            },
            overrides,
        )
        .await;
        simgate_api::signing_keys::rotate_signing_key(
            app.state.store.as_ref(),
            simgate_tokens::SigningAlgorithm::EdDSA,
            std::time::Duration::from_secs(3600),
            START,
        )
        .await
        .unwrap();
        let key = app.create_key("carrier-a", "verify,otp,tokens").await;
        let admin = app.create_key("carrier-a", "admin").await;
        Self {
            app,
            clock,
            gateway,
            key,
            admin,
        }
    }

    async fn post(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.app.post_json(key, path, body).await
    }

    async fn open(&self, msisdn: &str) -> String {
        let response = self
            .post(
                &self.key,
                "/v1/verifications",
                json!({"channel": "kiosk", "msisdn": msisdn, "eid": EID, "iccid": ICCID,
                    "consent": support::consent()}),
            )
            .await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["required_steps"], json!(["otp"]), "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    async fn start_otp(&self, id: &str, method: &str) -> reqwest::Response {
        self.post(
            &self.key,
            &format!("/v1/verifications/{id}/otp"),
            json!({ "method": method }),
        )
        .await
    }

    async fn verify(&self, id: &str, code: &str) -> reqwest::Response {
        self.post(
            &self.key,
            &format!("/v1/verifications/{id}/otp/verify"),
            json!({ "code": code }),
        )
        .await
    }

    async fn get(&self, id: &str) -> Value {
        self.app
            .get_with_key(&format!("/v1/verifications/{id}"), &self.key)
            .await
            .json()
            .await
            .unwrap()
    }

    /// Waits (bounded) until the verification shows its SMS in `state`; returns the delivery.
    async fn delivery_once(&self, id: &str, state: &str) -> Value {
        let mut delivery = Value::Null;
        for _ in 0..100 {
            delivery = self.get(id).await["otp"]["delivery"].clone();
            if delivery["state"] == state {
                return delivery;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the delivery never reached {state} within 5 s: {delivery}");
    }

    /// Waits (bounded) until the gateway holds `count` messages; returns the last one's code.
    async fn sms_code(&self, count: usize) -> String {
        for _ in 0..100 {
            let sent = self.gateway.sent();
            if sent.len() >= count {
                assert_eq!(sent.len(), count, "more messages than codes requested");
                let text = sent[count - 1].text.as_str().to_owned();
                assert!(
                    text.contains("Orange") && text.to_lowercase().contains("never"),
                    "{text}"
                );
                return text
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .trim_matches(|c: char| !c.is_ascii_digit())
                    .to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no SMS reached the gateway within 5 s");
    }
}

async fn totp_enrolled_with_oathtool_is_accepted_once_and_a_replay_is_refused(backend: Backend) {
    let t = OtpApp::start(backend, |_| {}).await;
    let msisdn_path = "/v1/subscribers/%2B33612345678/totp";

    // Before any enrolment, TOTP cannot be selected.
    let early = t.open(MSISDN).await;
    let refused = problem(t.start_otp(&early, "totp").await, 409).await;
    assert_eq!(refused["reason"], "totp_not_active");

    let response = t.post(&t.key, msisdn_path, json!({})).await;
    assert_eq!(response.status(), 201);
    let enrolment: Value = response.json().await.unwrap();
    assert_eq!(enrolment["state"], "pending");
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Orange:"), "{uri}");
    assert!(
        uri.contains("33612345678") && uri.contains("issuer=Orange"),
        "{uri}"
    );
    let png = base64_decode(enrolment["qr_png"].as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"), "the QR code is a PNG");
    let secret = secret_of(uri);
    assert!(secret.len() >= 32, "160-bit secret in base32");

    // Pending: still not usable as a second factor.
    let pending = problem(t.start_otp(&early, "totp").await, 409).await;
    assert_eq!(pending["reason"], "totp_not_active");

    let wrong = problem(
        t.post(
            &t.key,
            &format!("{msisdn_path}/confirm"),
            json!({"code": wrong_code(&oathtool_code(&secret, START))}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(wrong["reason"], "wrong");
    let confirmed = t
        .post(
            &t.key,
            &format!("{msisdn_path}/confirm"),
            json!({"code": oathtool_code(&secret, START)}),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    assert_eq!(confirmed.json::<Value>().await.unwrap()["state"], "active");
    // An active enrolment is not replaced by a second enrolment request.
    let again = problem(t.post(&t.key, msisdn_path, json!({})).await, 409).await;
    assert_eq!(again["reason"], "totp_already_active");

    // The confirming code's time step is used up: the same code in a session is a replay.
    let first = t.open(MSISDN).await;
    assert_eq!(t.start_otp(&first, "totp").await.status(), 200);
    let replay = problem(t.verify(&first, &oathtool_code(&secret, START)).await, 422).await;
    assert_eq!(replay["reason"], "replayed");

    t.clock.advance(Duration::seconds(30));
    let code = oathtool_code(&secret, t.clock.now());
    let accepted = t.verify(&first, &code).await;
    assert_eq!(accepted.status(), 200);
    let body: Value = accepted.json().await.unwrap();
    assert_eq!(body["result"], "accepted");
    assert_eq!(body["verification"]["status"], "approved");

    // The same code presented in another verification of the same subscriber is refused.
    let second = t.open(MSISDN).await;
    assert_eq!(t.start_otp(&second, "totp").await.status(), 200);
    let replay = problem(t.verify(&second, &code).await, 422).await;
    assert_eq!(replay["reason"], "replayed");

    // The activation token says how the subscriber was proven.
    let activation = t
        .post(
            &t.key,
            &format!("/v1/verifications/{first}/activation"),
            json!({}),
        )
        .await;
    assert_eq!(activation.status(), 201, "{:?}", activation.text().await);
}

async fn sms_codes_expire_refuse_wrong_guesses_and_respect_the_cooldown(backend: Backend) {
    let t = OtpApp::start(backend, |_| {}).await;
    let id = t.open(MSISDN).await;

    let not_started = problem(t.verify(&id, "123456").await, 409).await;
    assert_eq!(not_started["type"], "urn:simgate:problem:otp-not-started");

    let sent = t.start_otp(&id, "sms").await;
    assert_eq!(sent.status(), 202);
    let sent: Value = sent.json().await.unwrap();
    assert_eq!(sent["otp"]["method"], "sms");
    assert_eq!(sent["otp"]["attempts_left"], 5);
    let code = t.sms_code(1).await;
    assert_eq!(code.len(), 6);
    assert_eq!(t.gateway.sent()[0].msisdn.as_e164(), MSISDN);

    // Delivery status is visible on the verification (recorded just after the gateway took it).
    let delivery = t.delivery_once(&id, "delivered").await;
    assert_eq!(delivery["attempts"], 1);

    let wrong = problem(t.verify(&id, &wrong_code(&code)).await, 422).await;
    assert_eq!(wrong["reason"], "wrong");
    assert_eq!(t.get(&id).await["otp"]["attempts_left"], 4);

    // Resending at once is refused by the cooldown, with a Retry-After.
    let cooldown = t.start_otp(&id, "sms").await;
    assert_eq!(cooldown.status(), 429);
    let retry_after: u64 = cooldown.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 60);
    let cooldown = problem(cooldown, 429).await;
    assert_eq!(
        (cooldown["reason"].as_str(), cooldown["limit"].as_str()),
        (Some("rate_limited"), Some("resend_cooldown"))
    );

    // Past its 5-minute lifetime the right code is refused as expired.
    t.clock.advance(Duration::minutes(5));
    let expired = problem(t.verify(&id, &code).await, 422).await;
    assert_eq!(expired["reason"], "expired");

    // A new code replaces the old one; the old one no longer works, the new one does.
    assert_eq!(t.start_otp(&id, "sms").await.status(), 202);
    let fresh = t.sms_code(2).await;
    if fresh != code {
        let old = problem(t.verify(&id, &code).await, 422).await;
        assert_eq!(old["reason"], "wrong");
    }
    let accepted = t.verify(&id, &fresh).await;
    assert_eq!(accepted.status(), 200);
    let body: Value = accepted.json().await.unwrap();
    assert_eq!(body["verification"]["status"], "approved");
    let used = problem(t.verify(&id, &fresh).await, 409).await;
    assert_eq!(
        used["type"], "urn:simgate:problem:illegal-transition",
        "the session is decided"
    );

    // The token records the SMS second factor in `amr`.
    let activation: Value = t
        .post(
            &t.key,
            &format!("/v1/verifications/{id}/activation"),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let claims = decode_claims(activation["token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["sms"]));
}

async fn a_code_allows_five_attempts_then_is_locked_even_for_the_right_digits(backend: Backend) {
    let t = OtpApp::start(backend, |_| {}).await;
    let id = t.open(MSISDN).await;
    assert_eq!(t.start_otp(&id, "sms").await.status(), 202);
    let code = t.sms_code(1).await;
    for _ in 0..5 {
        let wrong = problem(t.verify(&id, &wrong_code(&code)).await, 422).await;
        assert_eq!(wrong["reason"], "wrong");
    }
    let locked = problem(t.verify(&id, &code).await, 422).await;
    assert_eq!(
        locked["reason"], "locked",
        "the code is spent after 5 attempts"
    );
    assert_eq!(t.get(&id).await["otp"]["attempts_left"], 0);
}

async fn consecutive_failures_lock_the_subscriber_until_an_admin_unlocks(backend: Backend) {
    let t = OtpApp::start(backend, |s| {
        s.otp.max_consecutive_failures = 3;
    })
    .await;
    let id = t.open(MSISDN).await;
    assert_eq!(t.start_otp(&id, "sms").await.status(), 202);
    let code = t.sms_code(1).await;
    for _ in 0..3 {
        let wrong = problem(t.verify(&id, &wrong_code(&code)).await, 422).await;
        assert_eq!(wrong["reason"], "wrong");
    }
    // Locked: even the right code is not compared, and no new code is sent.
    let locked = problem(t.verify(&id, &code).await, 423).await;
    assert_eq!(locked["reason"], "locked");
    t.clock.advance(Duration::minutes(2));
    let no_send = problem(t.start_otp(&id, "sms").await, 423).await;
    assert_eq!(no_send["reason"], "locked");
    // A key without the admin scope cannot unlock.
    let forbidden = t
        .post(
            &t.key,
            "/v1/subscribers/%2B33612345678/otp/unlock",
            json!({}),
        )
        .await;
    assert_eq!(forbidden.status(), 403);
    let unlocked = t
        .post(
            &t.admin,
            "/v1/subscribers/%2B33612345678/otp/unlock",
            json!({}),
        )
        .await;
    assert_eq!(unlocked.status(), 204);
    assert_eq!(t.verify(&id, &code).await.status(), 200);
}

async fn sends_are_limited_per_number_and_per_api_key(backend: Backend) {
    let t = OtpApp::start(backend, |s| {
        s.otp.resend_cooldown_secs = 0;
        s.otp.max_sends_per_msisdn_per_hour = 2;
        s.otp.max_sends_per_client_per_hour = 3;
    })
    .await;
    let id = t.open(MSISDN).await;
    assert_eq!(t.start_otp(&id, "sms").await.status(), 202);
    assert_eq!(t.start_otp(&id, "sms").await.status(), 202);
    let per_number = problem(t.start_otp(&id, "sms").await, 429).await;
    assert_eq!(per_number["limit"], "msisdn_per_hour");

    let other = t.open("+33612345679").await;
    assert_eq!(t.start_otp(&other, "sms").await.status(), 202);
    let per_client = problem(t.start_otp(&other, "sms").await, 429).await;
    assert_eq!(per_client["limit"], "client_per_hour");
    assert_eq!(t.sms_code(3).await.len(), 6, "three codes sent, no more");

    // An hour later the window has moved on (the first sessions have expired by then).
    t.clock.advance(Duration::minutes(61));
    let later = t.open("+33612345679").await;
    assert_eq!(t.start_otp(&later, "sms").await.status(), 202);
}

async fn a_gateway_outage_keeps_the_code_queued_and_sends_it_once_when_back(backend: Backend) {
    let t = OtpApp::start(backend, |_| {}).await;
    t.gateway.fail_with(Some(OtpError::GatewayUnavailable(
        "connection refused".into(),
    )));
    let id = t.open(MSISDN).await;
    // The request returns once the message is queued, whatever the gateway's state.
    assert_eq!(t.start_otp(&id, "sms").await.status(), 202);
    let mut delivery = Value::Null;
    for _ in 0..100 {
        delivery = t.get(&id).await["otp"]["delivery"].clone();
        if delivery["state"] == "retrying" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(delivery["state"], "retrying", "{delivery}");
    assert!(
        delivery["last_error"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    assert!(t.gateway.sent().is_empty());

    t.gateway.fail_with(None);
    t.clock.advance(Duration::seconds(10));
    let code = t.sms_code(1).await;
    // Give the worker time to (wrongly) send again; it must not.
    t.clock.advance(Duration::seconds(120));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        t.gateway.sent().len(),
        1,
        "the code reached the gateway exactly once"
    );
    let delivery = t.delivery_once(&id, "delivered").await;
    assert!(delivery["attempts"].as_u64().unwrap() >= 2);
    assert_eq!(t.verify(&id, &code).await.status(), 200);
}

fn base64_decode(value: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap()
}

fn decode_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

on_both_backends!(
    totp_enrolled_with_oathtool_is_accepted_once_and_a_replay_is_refused,
    sms_codes_expire_refuse_wrong_guesses_and_respect_the_cooldown,
    a_code_allows_five_attempts_then_is_locked_even_for_the_right_digits,
    consecutive_failures_lock_the_subscriber_until_an_admin_unlocks,
    sends_are_limited_per_number_and_per_api_key,
    a_gateway_outage_keeps_the_code_queued_and_sends_it_once_when_back,
);
