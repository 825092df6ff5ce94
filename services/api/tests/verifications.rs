//! Verification sessions end to end over HTTP with the real face models and fixture photos:
//! the approved path to a signed activation token, and every rejection path a subscriber or
//! attacker can reach (face mismatch, expired document, under-age holder, the document held up
//! to the camera, steps out of order, expiry), plus Idempotency-Key replays, tenant isolation,
//! the token lifecycle (introspect, redeem once, revoke) and signed webhooks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use simgate_core::ManualClock;
use simgate_store::Backend;
use support::{TestApp, photo, problem, two_faces_png};
use time::{Duration, OffsetDateTime, macros::datetime};

const EID: &str = "89049032123451234512345678901235";
const ICCID: &str = "8923000000000000005";
const START: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

/// ICAO 9303 check digit (weights 7, 3, 1; `<` = 0, letters A=10..Z=35).
fn check_digit(field: &str) -> char {
    let sum: u32 = field
        .chars()
        .zip([7u32, 3, 1].iter().cycle())
        .map(|(c, w)| {
            let value = match c {
                '0'..='9' => c as u32 - '0' as u32,
                'A'..='Z' => c as u32 - 'A' as u32 + 10,
                _ => 0,
            };
            value * w
        })
        .sum();
    char::from_digit(sum % 10, 10).unwrap()
}

/// A valid TD3 (passport) MRZ with the given surname, birth date and expiry (`YYMMDD`).
fn passport_mrz(surname: &str, birth: &str, expiry: &str) -> String {
    let mut line1 = format!("P<UTO{surname}<<ANNA");
    while line1.len() < 44 {
        line1.push('<');
    }
    let number = "L898902C3";
    let optional = "ZE184226B<<<<<";
    let fields = [
        format!("{number}{}", check_digit(number)),
        "UTO".to_owned(),
        format!("{birth}{}", check_digit(birth)),
        "F".to_owned(),
        format!("{expiry}{}", check_digit(expiry)),
        format!("{optional}{}", check_digit(optional)),
    ];
    let composite_input = format!("{}{}{}{}", fields[0], fields[2], fields[4], fields[5]);
    let line2 = format!("{}{}", fields.concat(), check_digit(&composite_input));
    format!("{line1}\n{line2}")
}

fn valid_mrz() -> String {
    passport_mrz("ERIKSSON", "900812", "341231")
}

struct Flow {
    app: TestApp,
    key: String,
}

impl Flow {
    async fn start(backend: Backend) -> Self {
        Self::start_with_clock(backend, Arc::new(ManualClock::new(START))).await
    }

    async fn start_with_clock(backend: Backend, clock: Arc<ManualClock>) -> Self {
        let app = TestApp::spawn_with_clock(backend, clock).await;
        let key = app.create_key("carrier-a", "verify,tokens").await;
        Self { app, key }
    }

    async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn open(&self, channel: &str) -> Value {
        let response = self
            .post_json(
                "/v1/verifications",
                json!({
                    "channel": channel,
                    "msisdn": "+230 5700 1234",
                    "eid": EID,
                    "iccid": ICCID,
                    "matching_id": "QR-G-5C-1LS-1W1Z9P7",
                    "smdp_address": "smdp.example.com",
                    "store_id": "port-louis-1",
                }),
            )
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn document(&self, id: &str, image: Vec<u8>, mrz: Option<&str>) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "image",
            reqwest::multipart::Part::bytes(image).file_name("document.jpg"),
        );
        if let Some(mrz) = mrz {
            form = form.text("mrz_text", mrz.to_owned());
        }
        self.app
            .client
            .post(self.app.url(&format!("/v1/verifications/{id}/document")))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    async fn selfie(&self, id: &str, frames: Vec<Vec<u8>>) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        for frame in frames {
            form = form.part(
                "frames",
                reqwest::multipart::Part::bytes(frame).file_name("frame.jpg"),
            );
        }
        self.app
            .client
            .post(self.app.url(&format!("/v1/verifications/{id}/selfie")))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    async fn activation(&self, id: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(&format!("/v1/verifications/{id}/activation")))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
    }

    /// Opens a kiosk session and passes its document step with person A's photo.
    async fn with_document(&self) -> String {
        let session = self.open("kiosk").await;
        let id = session["id"].as_str().unwrap().to_owned();
        let response = self
            .document(&id, photo("person_a_1.jpg"), Some(&valid_mrz()))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["outcome"]["passed"], true, "{body}");
        id
    }
}

async fn approved_kiosk_flow_issues_a_token_bound_to_the_esim(backend: Backend) {
    let flow = Flow::start(backend).await;
    simgate_api::signing_keys::rotate_signing_key(
        flow.app.state.store.as_ref(),
        simgate_tokens::SigningAlgorithm::EdDSA,
        std::time::Duration::from_secs(3600),
        START,
    )
    .await
    .unwrap();
    let session = flow.open("kiosk").await;
    assert_eq!(session["status"], "in_progress");
    assert_eq!(session["required_steps"], json!(["document", "selfie"]));
    let id = session["id"].as_str().unwrap();
    assert!(session["expires_at"].as_str().is_some());

    let document: Value = flow
        .document(id, photo("person_a_1.jpg"), Some(&valid_mrz()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(document["outcome"]["passed"], true, "{document}");
    assert_eq!(document["verification"]["document"]["type"], "passport");
    assert_eq!(document["verification"]["pending_steps"], json!(["selfie"]));

    let selfie: Value = flow
        .selfie(id, vec![photo("person_a_2.jpg")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(selfie["outcome"]["passed"], true, "{selfie}");
    assert_eq!(selfie["verification"]["status"], "approved");
    let face_match = selfie["outcome"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "face_match")
        .unwrap()
        .clone();
    assert!(face_match["score"].as_f64().unwrap() >= face_match["threshold"].as_f64().unwrap());
    assert_eq!(selfie["verification"]["decision"]["status"], "approved");

    let response = flow.activation(id).await;
    assert_eq!(response.status(), 201);
    let activation: Value = response.json().await.unwrap();
    assert_eq!(activation["token_type"], "esim-activation+jwt");
    assert_eq!(
        activation["activation_code"],
        "LPA:1$smdp.example.com$QR-G-5C-1LS-1W1Z9P7"
    );
    assert!(activation["activation_code_qr_png"].as_str().unwrap().len() > 100);
    let token = activation["token"].as_str().unwrap();

    // The provisioning side verifies against the published JWKS.
    let jwks = flow
        .app
        .client
        .get(flow.app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let jwks = simgate_tokens::JwkSet::from_json(&jwks.text().await.unwrap()).unwrap();
    let claims = simgate_tokens::verify_activation_token(
        token,
        &jwks,
        &simgate_tokens::Issuer::parse("simgate").unwrap(),
        &simgate_tokens::Audience::parse("esim-provisioning").unwrap(),
        START,
    )
    .unwrap();
    assert_eq!(claims.eid.as_str(), EID);
    assert_eq!(claims.verification_id.as_str(), id);
    assert!(claims.matches_iccid(&simgate_tokens::Iccid::parse(ICCID).unwrap()));
    assert!(!claims.sub.as_str().contains("57001234"), "sub is opaque");
    assert_eq!(
        claims.amr,
        vec![
            simgate_tokens::AuthMethod::Doc,
            simgate_tokens::AuthMethod::Face
        ]
    );

    // Once activated the session refuses a second token.
    let again = problem(flow.activation(id).await, 409).await;
    assert_eq!(again["verification_status"], "activated");

    let introspected: Value = flow
        .post_json("/v1/tokens/introspect", json!({ "token": token }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["jti"], activation["jti"]);
    let redeemed = flow
        .post_json("/v1/tokens/redeem", json!({ "token": token }))
        .await;
    assert_eq!(redeemed.status(), 200);
    let twice = problem(
        flow.post_json("/v1/tokens/redeem", json!({ "token": token }))
            .await,
        409,
    )
    .await;
    assert_eq!(twice["reason"], "already_redeemed");
    let introspected: Value = flow
        .post_json("/v1/tokens/introspect", json!({ "token": token }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected, json!({ "active": false }));
}

async fn face_mismatch_is_retried_then_rejected(backend: Backend) {
    let flow = Flow::start(backend).await;
    let id = flow.with_document().await;
    for attempt in 1..=3 {
        let body: Value = flow
            .selfie(&id, vec![photo("impostor_1.jpg")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["outcome"]["passed"], false);
        assert_eq!(
            body["outcome"]["reasons"],
            json!(["face_mismatch"]),
            "attempt {attempt}"
        );
        let expected = if attempt < 3 {
            "in_progress"
        } else {
            "rejected"
        };
        assert_eq!(body["verification"]["status"], expected);
    }
    let session: Value = flow
        .app
        .get_with_key(&format!("/v1/verifications/{id}"), &flow.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["decision"]["reasons"],
        json!(["face_mismatch", "selfie_attempts_exhausted"])
    );
    assert_eq!(
        problem(flow.activation(&id).await, 409).await["verification_status"],
        "rejected"
    );
}

async fn document_rules_reject_expired_and_under_age_holders(backend: Backend) {
    let flow = Flow::start(backend).await;
    for (mrz, reason) in [
        (
            passport_mrz("ERIKSSON", "900812", "240101"),
            "document_expired",
        ),
        (
            passport_mrz("ERIKSSON", "100812", "341231"),
            "holder_under_age",
        ),
    ] {
        let id = flow.open("kiosk").await["id"].as_str().unwrap().to_owned();
        let body: Value = flow
            .document(&id, photo("person_a_1.jpg"), Some(&mrz))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["outcome"]["reasons"], json!([reason]), "{body}");
        assert_eq!(body["verification"]["status"], "rejected", "fatal at once");
    }
    // An unread MRZ is a retake, not a rejection.
    let id = flow.open("kiosk").await["id"].as_str().unwrap().to_owned();
    let body: Value = flow
        .document(&id, photo("person_a_1.jpg"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["outcome"]["passed"], false, "{body}");
    assert!(
        body["outcome"]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("mrz_not_read")),
        "{body}"
    );
    assert_eq!(body["verification"]["status"], "in_progress");
}

async fn the_document_held_up_to_the_camera_is_an_attack(backend: Backend) {
    let flow = Flow::start(backend).await;
    let id = flow.with_document().await;
    let body: Value = flow
        .selfie(&id, vec![photo("person_a_1.jpg")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["outcome"]["reasons"],
        json!(["selfie_is_document_portrait"])
    );
    assert_eq!(body["verification"]["status"], "rejected");
}

async fn a_second_face_in_frame_is_reported_and_steps_keep_their_order(backend: Backend) {
    let flow = Flow::start(backend).await;
    let session = flow.open("kiosk").await;
    let id = session["id"].as_str().unwrap();
    let early = problem(flow.selfie(id, vec![photo("person_a_2.jpg")]).await, 409).await;
    assert_eq!(early["type"], "urn:simgate:problem:step-out-of-order");
    let body: Value = flow
        .document(id, photo("person_a_1.jpg"), Some(&valid_mrz()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["outcome"]["passed"], true);
    let body: Value = flow
        .selfie(id, vec![two_faces_png("person_a_2.jpg", "impostor_1.jpg")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["outcome"]["reasons"], json!(["multiple_faces"]));
    assert_eq!(body["verification"]["steps"][1]["attempts_left"], 2);
    // The document step already passed and cannot be replaced.
    let again = problem(
        flow.document(id, photo("person_b_1.jpg"), Some(&valid_mrz()))
            .await,
        409,
    )
    .await;
    assert_eq!(again["type"], "urn:simgate:problem:step-already-passed");
}

async fn sessions_expire_and_are_invisible_to_other_tenants(backend: Backend) {
    let clock = Arc::new(ManualClock::new(START));
    let flow = Flow::start_with_clock(backend, Arc::clone(&clock)).await;
    let id = flow.open("mobile").await["id"].as_str().unwrap().to_owned();
    let other = flow.app.create_key("carrier-b", "verify").await;
    problem(
        flow.app
            .get_with_key(&format!("/v1/verifications/{id}"), &other)
            .await,
        404,
    )
    .await;
    problem(
        flow.app
            .get_with_key("/v1/verifications/ver_nope", &flow.key)
            .await,
        404,
    )
    .await;

    clock.advance(Duration::minutes(31));
    let expired = problem(
        flow.document(&id, photo("person_a_1.jpg"), Some(&valid_mrz()))
            .await,
        409,
    )
    .await;
    assert_eq!(expired["verification_status"], "expired");
    let session: Value = flow
        .app
        .get_with_key(&format!("/v1/verifications/{id}"), &flow.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["status"], "expired");
    assert_eq!(session["decision"]["reasons"], json!(["session_expired"]));
}

async fn bad_requests_are_refused_with_the_field_named(backend: Backend) {
    let flow = Flow::start(backend).await;
    for (body, field) in [
        (
            json!({"channel": "shop", "msisdn": "+23057001234", "eid": EID, "iccid": ICCID}),
            "channel",
        ),
        (
            json!({"channel": "kiosk", "msisdn": "05700", "eid": EID, "iccid": ICCID}),
            "msisdn",
        ),
        (
            json!({"channel": "kiosk", "msisdn": "+23057001234", "eid": "123", "iccid": ICCID}),
            "eid",
        ),
        (
            json!({"channel": "kiosk", "msisdn": "+23057001234", "eid": EID}),
            "iccid",
        ),
    ] {
        let response = flow.post_json("/v1/verifications", body).await;
        let problem = problem(response, 422).await;
        if field != "channel" {
            assert_eq!(problem["field"], field);
        }
    }
    let verify_only = flow.app.create_key("carrier-a", "verify").await;
    let response = flow
        .app
        .client
        .post(flow.app.url("/v1/tokens/introspect"))
        .bearer_auth(&verify_only)
        .json(&json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
}

async fn idempotency_keys_replay_the_first_answer(backend: Backend) {
    let flow = Flow::start(backend).await;
    let body = json!({"channel": "kiosk", "msisdn": "+23057001234", "eid": EID, "iccid": ICCID});
    let send = |body: Value, key: &'static str| {
        flow.app
            .client
            .post(flow.app.url("/v1/verifications"))
            .bearer_auth(&flow.key)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send(body.clone(), "kiosk-7-request-1").await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let second = send(body.clone(), "kiosk-7-request-1").await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["id"], second["id"], "one session, not two");
    let mut changed = body.clone();
    changed["msisdn"] = json!("+23057009999");
    let reused = problem(send(changed, "kiosk-7-request-1").await.unwrap(), 422).await;
    assert_eq!(reused["type"], "urn:simgate:problem:idempotency-key-reused");
    let fresh: Value = send(body, "kiosk-7-request-2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["id"], first["id"]);
}

/// What a webhook receiver saw: (headers, body).
type Received = Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>>;

async fn webhook_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: bytes::Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn decisions_and_revocations_are_pushed_as_signed_webhooks(backend: Backend) {
    let (url, received) = webhook_receiver().await;
    let secret = "whsec-test-0123456789abcdef";
    let app = TestApp::spawn_with(
        backend,
        |settings| {
            settings.webhooks.url = url.clone();
            settings.webhooks.secret = simgate_api::config::Secret(secret.into());
            settings.webhooks.poll_interval_ms = 50;
        },
        true,
    )
    .await;
    let key = app.create_key("carrier-a", "verify,tokens").await;
    simgate_api::signing_keys::rotate_signing_key(
        app.state.store.as_ref(),
        simgate_tokens::SigningAlgorithm::EdDSA,
        std::time::Duration::from_secs(3600),
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let flow = Flow { app, key };
    let id = flow.with_document().await;
    let body: Value = flow
        .selfie(&id, vec![photo("person_a_2.jpg")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["verification"]["status"], "approved");
    let activation: Value = flow.activation(&id).await.json().await.unwrap();
    let revoked: Value = flow
        .post_json(
            "/v1/tokens/revoke",
            json!({"jti": activation["jti"], "reason": "lost_device"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revoked"], true);
    let introspected: Value = flow
        .post_json(
            "/v1/tokens/introspect",
            json!({"token": activation["token"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], false);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while received.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one decision and one revocation");
    for (headers, body) in &received {
        let signature = headers["simgate-signature"].to_str().unwrap();
        let timestamp: i64 = signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            simgate_api::webhooks::sign_webhook(secret.as_bytes(), timestamp, body),
            "the receiver can verify the signature"
        );
        let tampered = [body.as_ref(), b" "].concat();
        assert_ne!(
            signature,
            simgate_api::webhooks::sign_webhook(secret.as_bytes(), timestamp, &tampered)
        );
    }
    let events: Vec<Value> = received
        .iter()
        .map(|(_, b)| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "verification.decided");
    assert_eq!(events[0]["status"], "approved");
    assert_eq!(events[0]["verification_id"], id);
    assert_eq!(events[1]["type"], "token.revoked");
    assert_eq!(events[1]["reason"], "lost_device");
    assert!(
        !String::from_utf8_lossy(&received[0].1).contains("57001234"),
        "no MSISDN in events"
    );
}

on_both_backends!(
    approved_kiosk_flow_issues_a_token_bound_to_the_esim,
    face_mismatch_is_retried_then_rejected,
    document_rules_reject_expired_and_under_age_holders,
    the_document_held_up_to_the_camera_is_an_attack,
    a_second_face_in_frame_is_reported_and_steps_keep_their_order,
    sessions_expire_and_are_invisible_to_other_tenants,
    bad_requests_are_refused_with_the_field_named,
    idempotency_keys_replay_the_first_answer,
    decisions_and_revocations_are_pushed_as_signed_webhooks,
);
