//! Verification sessions end to end over HTTP with the real face models and fixture photos:
//! the approved path to a signed activation token, and every rejection path a subscriber or
//! attacker can reach (face mismatch, expired document, under-age holder, the document held up
//! to the camera, steps out of order, expiry), plus Idempotency-Key replays, tenant isolation,
//! the token lifecycle (introspect, redeem once, revoke) and signed webhooks.
//!
//! Active liveness on the mobile channel: the frames are synthetic captures made from a real
//! photo (a head turn warps one side of the face, an approach zooms in), produced for whichever
//! action the server issued, so the test answers the challenge it was given. Passive PAD runs
//! with the real MiniFASNet models when they are present (`../shared/models/pad`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // tests fail loudly and print PAD scores

mod support;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use simgate_biometrics::testing::{self, synthetic};
use simgate_core::ManualClock;
use simgate_store::Backend;
use support::{
    TestApp, face_engine, frames_for, passport_mrz, photo, problem, still_frames, two_faces_png,
    valid_mrz,
};
use time::{Duration, OffsetDateTime, macros::datetime};

const EID: &str = "89049032123451234512345678901235";
const ICCID: &str = "8923000000000000005";
const START: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

struct Flow {
    app: TestApp,
    key: String,
}

impl Flow {
    async fn start(backend: Backend) -> Self {
        Self::start_with_clock(backend, Arc::new(ManualClock::new(START))).await
    }

    async fn start_with_clock(backend: Backend, clock: Arc<ManualClock>) -> Self {
        let overrides = simgate_api::Overrides {
            face_engine: Some(face_engine()),
            clock: Some(clock),
            ..simgate_api::Overrides::default()
        };
        let app = TestApp::spawn_with_overrides(
            backend,
            support::document_and_single_frame_selfie,
            overrides,
        )
        .await;
        let key = app.create_key("carrier-a", "verify,tokens").await;
        Self { app, key }
    }

    /// Makes a current EdDSA signing key at START, earlier keys retiring after `overlap_secs`.
    async fn rotate_signing_key(&self, overlap_secs: u64) {
        simgate_api::signing_keys::rotate_signing_key(
            self.app.state.store.as_ref(),
            simgate_tokens::SigningAlgorithm::EdDSA,
            std::time::Duration::from_secs(overlap_secs),
            START,
        )
        .await
        .unwrap();
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
                    "consent": support::consent(),
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
        self.app
            .post_document(&self.key, id, image, mrz.map(str::to_owned))
            .await
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
    flow.rotate_signing_key(3600).await;
    let session = flow.open("kiosk").await;
    assert_eq!(session["status"], "in_progress");
    assert_eq!(session["required_steps"], json!(["document", "selfie"]));
    let id = session["id"].as_str().unwrap();
    assert!(session["expires_at"].as_str().is_some());
    assert!(session.get("liveness_challenge").is_none(), "{session}");

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

    // A kiosk sends its activation with an Idempotency-Key: if the answer is lost on the way, the
    // retry must get the same token (the session is already activated; the token exists only in
    // the answer, stored with the session's change).
    let activate = || {
        flow.app
            .client
            .post(flow.app.url(&format!("/v1/verifications/{id}/activation")))
            .bearer_auth(&flow.key)
            .header("idempotency-key", "kiosk-7-activate-1")
            .send()
    };
    let response = activate().await.unwrap();
    assert_eq!(response.status(), 201);
    let first = response.text().await.unwrap();
    let retry = activate().await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry.text().await.unwrap(),
        first,
        "the same token, byte for byte"
    );
    let activation: Value = serde_json::from_str(&first).unwrap();
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

/// Kiosk and mobile sessions open only with the subscriber's consent covering identity
/// verification and biometric matching; what was consented to, how, to which notice and when
/// (the server's clock) is kept with the session and shown; batch needs none.
async fn consent_is_required_where_the_policy_says_and_kept_with_the_session(backend: Backend) {
    let flow = Flow::start(backend).await;
    let body = |channel: &str, consent: Value| {
        let mut body =
            json!({"channel": channel, "msisdn": "+23057001234", "eid": EID, "iccid": ICCID});
        if !consent.is_null() {
            body["consent"] = consent;
        }
        body
    };
    let given = |purposes: Value, method: &str, version: &str| json!({"notice_version": version, "purposes": purposes, "method": method});
    let both = json!(["identity_verification", "biometric_matching"]);
    for (consent, missing) in [
        (
            Value::Null,
            json!(["identity_verification", "biometric_matching"]),
        ),
        (
            given(
                json!(["identity_verification", "fraud_monitoring"]),
                "on_screen",
                "v1",
            ),
            json!(["biometric_matching"]),
        ),
    ] {
        for channel in ["kiosk", "mobile"] {
            let refused = problem(
                flow.post_json("/v1/verifications", body(channel, consent.clone()))
                    .await,
                422,
            )
            .await;
            assert_eq!(
                refused["type"], "urn:simgate:problem:consent-required",
                "{refused}"
            );
            assert_eq!(refused["field"], "consent");
            assert_eq!(refused["missing_purposes"], missing, "{channel}: {refused}");
        }
    }
    for (consent, field) in [
        (
            given(json!(["marketing"]), "on_screen", "v1"),
            "consent.purposes",
        ),
        (given(json!([]), "on_screen", "v1"), "consent.purposes"),
        (given(both.clone(), "assumed", "v1"), "consent.method"),
        (
            given(both.clone(), "on_screen", "v1 <b>"),
            "consent.notice_version",
        ),
    ] {
        let refused = problem(
            flow.post_json("/v1/verifications", body("kiosk", consent))
                .await,
            422,
        )
        .await;
        assert_eq!(refused["field"], field, "{refused}");
    }
    let opened = flow
        .post_json(
            "/v1/verifications",
            body(
                "kiosk",
                given(
                    json!(["biometric_matching", "identity_verification"]),
                    "signed_form",
                    "shop-form-7",
                ),
            ),
        )
        .await;
    assert_eq!(opened.status(), 201);
    let opened: Value = opened.json().await.unwrap();
    let expected = json!({
        "notice_version": "shop-form-7",
        "purposes": ["identity_verification", "biometric_matching"],
        "method": "signed_form",
        "captured_at": "2026-11-26T10:00:00Z",
    });
    assert_eq!(opened["consent"], expected);
    let id = opened["id"].as_str().unwrap();
    let shown: Value = flow
        .app
        .get_with_key(&format!("/v1/verifications/{id}"), &flow.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["consent"], expected, "kept with the session");
    let batch = flow
        .post_json("/v1/verifications", body("batch", Value::Null))
        .await;
    assert_eq!(
        batch.status(),
        201,
        "no subscriber is present to consent in a batch job"
    );
    assert!(
        batch
            .json::<Value>()
            .await
            .unwrap()
            .get("consent")
            .is_none()
    );
}

async fn idempotency_keys_replay_the_first_answer(backend: Backend) {
    let flow = Flow::start(backend).await;
    let body = json!({"channel": "kiosk", "msisdn": "+23057001234", "eid": EID, "iccid": ICCID,
        "consent": support::consent()});
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
    let first_text = first.text().await.unwrap();
    let second = send(body.clone(), "kiosk-7-request-1").await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    // The stored answer (written in the session's own transaction) is what was sent.
    assert_eq!(second.text().await.unwrap(), first_text, "byte for byte");
    let first: Value = serde_json::from_str(&first_text).unwrap();
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

/// Found by the API fuzzing (api-tests/): the Idempotency-Key layer refused a malformed key with
/// 400 before authentication ran, so a request with no API key learned about the key's format
/// instead of getting the documented 401.
async fn a_malformed_idempotency_key_is_judged_after_authentication(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.create_key("t", "verify").await;
    let send = |bearer: Option<&str>, idempotency_key: &'static str| {
        let mut request = app
            .client
            .post(app.url("/v1/verifications"))
            .header("Idempotency-Key", idempotency_key)
            .json(
                &json!({"channel": "kiosk", "msisdn": "+23057001234", "eid": EID, "iccid": ICCID,
                    "consent": support::consent()}),
            );
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let anonymous = problem(send(None, "has space").await.unwrap(), 401).await;
    assert_eq!(anonymous["type"], "urn:simgate:problem:unauthorized");
    let unknown_key = problem(send(Some("sg_unknown"), "has space").await.unwrap(), 401).await;
    assert_eq!(unknown_key["type"], "urn:simgate:problem:unauthorized");
    let malformed = problem(send(Some(&key), "has space").await.unwrap(), 400).await;
    assert_eq!(
        malformed["type"],
        "urn:simgate:problem:invalid-idempotency-key"
    );
}

/// Found by the API fuzzing (api-tests/): the Idempotency-Key layer stored the handler's raw
/// answer, so a retry of a request the JSON extractor had refused (plain text, made a problem
/// only by an outer layer) was replayed as that plain text labelled `application/problem+json`.
/// A replayed 204 came back with a body type it never had.
async fn a_replayed_refusal_is_the_same_problem_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.create_key("t", "admin").await;
    let send = |path: &'static str, body: &'static str, idempotency_key: &'static str| {
        app.client
            .post(app.url(path))
            .bearer_auth(&key)
            .header("Idempotency-Key", idempotency_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let freeze = "/v1/subscribers/+23057001234/freeze";
    let first = send(freeze, r#"{"reason": true}"#, "retry-1")
        .await
        .unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = problem(first, 422).await;
    let replay = send(freeze, r#"{"reason": true}"#, "retry-1")
        .await
        .unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay = problem(replay, 422).await;
    assert_eq!(
        first, replay,
        "the retry gets the answer the first request got"
    );

    let unlock = "/v1/subscribers/+23057001234/otp/unlock";
    let first = send(unlock, "", "retry-2").await.unwrap();
    assert_eq!(first.status(), 204);
    assert!(first.headers().get("content-type").is_none());
    let replay = send(unlock, "", "retry-2").await.unwrap();
    assert_eq!(replay.status(), 204);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert!(replay.headers().get("content-type").is_none());
    assert!(replay.bytes().await.unwrap().is_empty());
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
            support::document_and_single_frame_selfie(settings);
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

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["outcome"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {body}"))
}

fn reasons(body: &Value) -> Vec<String> {
    body["outcome"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

impl Flow {
    /// A server whose mobile channel requires active liveness (and `adjust` for the rest).
    async fn start_liveness(
        backend: Backend,
        adjust: impl FnOnce(&mut simgate_api::Settings),
    ) -> Self {
        let app = TestApp::spawn_with(
            backend,
            |settings| {
                support::document_and_single_frame_selfie(settings);
                settings.flow.mobile.active_liveness_required = true;
                adjust(settings);
            },
            true,
        )
        .await;
        let key = app.create_key("carrier-a", "verify,tokens").await;
        Self { app, key }
    }

    async fn get(&self, id: &str) -> Value {
        self.app
            .get_with_key(&format!("/v1/verifications/{id}"), &self.key)
            .await
            .json()
            .await
            .unwrap()
    }

    /// Opens a mobile session, checks its challenge and passes the document step.
    async fn mobile_with_document(&self) -> (String, Value) {
        let session = self.open("mobile").await;
        let id = session["id"].as_str().unwrap().to_owned();
        let challenge = session["liveness_challenge"].clone();
        assert_eq!(challenge["nonce"].as_str().unwrap().len(), 32, "{session}");
        assert!(
            ["turn_head_left", "turn_head_right", "move_closer"]
                .contains(&challenge["action"].as_str().unwrap())
        );
        assert!(!challenge["instruction"].as_str().unwrap().is_empty());
        let body: Value = self
            .document(&id, photo("person_a_1.jpg"), Some(&valid_mrz()))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["outcome"]["passed"], true, "{body}");
        assert_eq!(body["verification"]["liveness_challenge"], challenge);
        (id, challenge)
    }

    async fn selfie_json(&self, id: &str, frames: Vec<Vec<u8>>) -> Value {
        let response = self.selfie(id, frames).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

async fn mobile_liveness_following_the_challenge_is_approved(backend: Backend) {
    // Up to 30 sessions for one device: the device-velocity risk rule would rightly send the
    // later ones to review, so this test of liveness alone runs without risk rules.
    let flow = Flow::start_liveness(backend, |settings| {
        settings.risk.rules = simgate_risk::RiskRules::try_from(Vec::new()).unwrap();
    })
    .await;
    // The server draws the action at random: open sessions until each action has been
    // answered and approved (30 draws miss one of three actions with probability 1.5e-5).
    let mut answered = std::collections::BTreeSet::new();
    for _ in 0..30 {
        answered.insert(approve_by_following_the_challenge(&flow).await);
        if answered.len() == 3 {
            break;
        }
    }
    assert_eq!(
        answered.into_iter().collect::<Vec<_>>(),
        ["move_closer", "turn_head_left", "turn_head_right"]
    );
}

/// Opens a mobile session, answers its challenge with frames that follow it, checks the
/// approval and returns the action answered.
async fn approve_by_following_the_challenge(flow: &Flow) -> String {
    let (id, challenge) = flow.mobile_with_document().await;
    assert_eq!(flow.get(&id).await["liveness_challenge"], challenge);
    let action = challenge["action"].as_str().unwrap();

    let body = flow.selfie_json(&id, frames_for(action, 0)).await;
    assert_eq!(body["outcome"]["passed"], true, "{action}: {body}");
    assert_eq!(body["verification"]["status"], "approved");
    let followed = check(&body, "liveness_challenge");
    assert_eq!(followed["passed"], true);
    assert!(followed["score"].as_f64().unwrap() >= followed["threshold"].as_f64().unwrap());
    for name in [
        "liveness_motion",
        "liveness_distinct_frames",
        "liveness_not_replayed",
    ] {
        assert_eq!(check(&body, name)["passed"], true, "{name}");
    }
    // The face match still holds the lowest similarity over the frames to the threshold.
    let face_match = check(&body, "face_match");
    assert_eq!(face_match["passed"], true);
    assert_eq!(check(&body, "not_document_portrait")["passed"], true);
    // Decided: no challenge is pending any more.
    assert!(body["verification"].get("liveness_challenge").is_none());
    assert!(flow.get(&id).await.get("liveness_challenge").is_none());
    action.to_owned()
}

async fn static_frames_are_retried_with_a_fresh_challenge(backend: Backend) {
    let flow = Flow::start_liveness(backend, |_| {}).await;
    let (id, first) = flow.mobile_with_document().await;

    let body = flow.selfie_json(&id, still_frames(0)).await;
    assert_eq!(body["outcome"]["passed"], false);
    let found = reasons(&body);
    assert!(found.contains(&"static_frames".to_owned()), "{body}");
    assert!(
        found.contains(&"challenge_not_followed".to_owned()),
        "{body}"
    );
    assert_eq!(check(&body, "liveness_motion")["passed"], false);
    let followed = check(&body, "liveness_challenge");
    assert_eq!(followed["passed"], false);
    assert!(followed["score"].as_f64().unwrap() < followed["threshold"].as_f64().unwrap());
    let verification = &body["verification"];
    assert_eq!(verification["status"], "in_progress");
    assert_eq!(verification["steps"][1]["attempts_left"], 2);
    // A fresh challenge, so the retry cannot be a recording made for the first one.
    let second = verification["liveness_challenge"].clone();
    assert_ne!(second["nonce"], first["nonce"], "{body}");
    assert_eq!(flow.get(&id).await["liveness_challenge"], second);

    let action = second["action"].as_str().unwrap();
    let body = flow.selfie_json(&id, frames_for(action, 1)).await;
    assert_eq!(body["outcome"]["passed"], true, "{action}: {body}");
    assert_eq!(body["verification"]["status"], "approved");
    assert_eq!(body["verification"]["steps"][1]["attempts"], 2);
}

async fn a_frame_replayed_in_a_retry_is_caught(backend: Backend) {
    let flow = Flow::start_liveness(backend, |_| {}).await;
    let (id, _) = flow.mobile_with_document().await;

    let first_frames = still_frames(0);
    let body = flow.selfie_json(&id, first_frames.clone()).await;
    assert_eq!(body["outcome"]["passed"], false);
    let action = body["verification"]["liveness_challenge"]["action"]
        .as_str()
        .unwrap()
        .to_owned();

    // A genuine-looking answer to the new challenge with one frame of the first attempt in it.
    let mut frames = frames_for(&action, 1);
    let last = frames.len() - 1;
    frames[last] = first_frames[1].clone();
    let body = flow.selfie_json(&id, frames).await;
    assert_eq!(body["outcome"]["passed"], false);
    assert!(
        reasons(&body).contains(&"replayed_frames".to_owned()),
        "{body}"
    );
    let replay = check(&body, "liveness_not_replayed");
    assert_eq!(replay["passed"], false);
    assert!(replay["score"].as_f64().unwrap() <= replay["threshold"].as_f64().unwrap());
    assert_eq!(body["verification"]["status"], "in_progress");

    // Fingerprints of every attempt are kept: the whole second attempt replayed is caught too.
    let body = flow.selfie_json(&id, frames_for(&action, 1)).await;
    assert!(
        reasons(&body).contains(&"replayed_frames".to_owned()),
        "{body}"
    );
    assert_eq!(
        body["verification"]["status"], "rejected",
        "attempts used up"
    );
}

async fn too_few_frames_are_refused_without_using_an_attempt(backend: Backend) {
    let flow = Flow::start_liveness(backend, |_| {}).await;
    let (id, challenge) = flow.mobile_with_document().await;
    let action = challenge["action"].as_str().unwrap();
    for count in [1, 2] {
        let frames = frames_for(action, 0).into_iter().take(count).collect();
        let refused = problem(flow.selfie(&id, frames).await, 422).await;
        assert_eq!(refused["type"], "urn:simgate:problem:invalid-field");
        assert_eq!(refused["field"], "frames");
    }
    let session = flow.get(&id).await;
    assert_eq!(session["steps"][1]["attempts"], 0);
    assert_eq!(session["liveness_challenge"], challenge, "not renewed");
    // Kiosk sessions (no active liveness) still take a single frame.
    let kiosk = flow.with_document().await;
    let body = flow
        .selfie_json(&kiosk, vec![photo("person_a_2.jpg")])
        .await;
    assert_eq!(body["outcome"]["passed"], true, "{body}");
    assert!(
        body["outcome"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["name"].as_str().unwrap().starts_with("liveness"))
    );
}

/// Passive PAD with the real models: required on kiosks (a screen replay is fatal), recorded
/// without deciding on batch sessions. Skipped, saying why, when the models are absent.
async fn pad_decides_where_required_and_is_recorded_elsewhere(backend: Backend) {
    let models = match testing::pad_models() {
        Ok(models) => models,
        Err(reason) => {
            println!("skipping PAD test: {reason}");
            return;
        }
    };
    let flow = Flow::start_liveness(backend, |settings| {
        settings.faces.pad.models = models;
        settings.flow.kiosk.pad_required = true;
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while flow.app.state.faces.pad_engine().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "PAD models did not load"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // A live capture passes PAD and the step.
    let id = flow.with_document().await;
    let body = flow.selfie_json(&id, vec![photo("person_a_2.jpg")]).await;
    println!("kiosk photo: {}", check(&body, "pad"));
    assert_eq!(body["outcome"]["passed"], true, "{body}");
    let pad = check(&body, "pad");
    assert!(pad["score"].as_f64().unwrap() >= pad["threshold"].as_f64().unwrap());

    // The same person shown on a screen is a presentation attack: fatal at once.
    let screen = synthetic::screen_replay(&testing::photo_rgb("person_a_2.jpg"));
    let id = flow.with_document().await;
    let body = flow
        .selfie_json(&id, vec![synthetic::encode_jpeg(&screen, 92)])
        .await;
    println!("kiosk screen replay: {}", check(&body, "pad"));
    assert!(
        reasons(&body).contains(&"presentation_attack_suspected".to_owned()),
        "{body}"
    );
    let pad = check(&body, "pad");
    assert!(pad["score"].as_f64().unwrap() < pad["threshold"].as_f64().unwrap());
    assert_eq!(body["verification"]["status"], "rejected");

    // Mobile does not require PAD: the score is recorded, and the liveness decides.
    let (id, challenge) = flow.mobile_with_document().await;
    let action = challenge["action"].as_str().unwrap();
    let body = flow.selfie_json(&id, frames_for(action, 0)).await;
    let informational = check(&body, "pad_informational");
    println!("mobile {action} frames: {informational}");
    assert!(informational["score"].as_f64().is_some());
    assert_eq!(check(&body, "liveness_challenge")["passed"], true);
    assert!(!reasons(&body).contains(&"presentation_attack_suspected".to_owned()));
    assert_eq!(body["outcome"]["passed"], true, "{body}");
}

/// A passport photographed by the subscriber's phone, with no document reader's text: the MRZ
/// is read from the photo, its check digits validated, the portrait found, and the selfie
/// matched to that portrait.
async fn the_mrz_is_read_from_the_photo_when_no_reader_text_is_sent(backend: Backend) {
    use simgate_documents::testing::{SyntheticDocument, encode_jpeg, render_document};
    let flow = Flow::start(backend).await;
    let id = flow.open("kiosk").await["id"].as_str().unwrap().to_owned();
    let document = SyntheticDocument {
        mrz_lines: vec![
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<".into(),
            "L898902C36UTO7408122F3204153<<<<<<<<<<<<<<04".into(),
        ],
        portrait: Some("person_a_1.jpg".to_owned()),
    };
    let photo_of_passport = encode_jpeg(&render_document(&document, 18.0), 92);
    let body: Value = flow
        .document(&id, photo_of_passport, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["outcome"]["passed"], true, "{body}");
    assert_eq!(check(&body, "mrz_check_digits")["passed"], true);
    assert_eq!(check(&body, "holder_minimum_age")["score"], 52.0);
    assert_eq!(body["verification"]["document"]["type"], "passport");
    let selfie: Value = flow
        .selfie(&id, vec![photo("person_a_2.jpg")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(selfie["verification"]["status"], "approved", "{selfie}");
}

/// The subscriber's security check: only from an approved verification, for 30 minutes; lists
/// the number's verifications, live activations and alerts with advice, and never another
/// session's ids.
async fn the_security_check_shows_the_authenticated_subscriber_their_number(backend: Backend) {
    let clock = Arc::new(ManualClock::new(START));
    let flow = Flow::start_with_clock(backend, Arc::clone(&clock)).await;
    flow.rotate_signing_key(3 * 24 * 3600).await;
    let check = |id: String| {
        let flow = &flow;
        async move {
            flow.app
                .client
                .get(
                    flow.app
                        .url(&format!("/v1/verifications/{id}/security-check")),
                )
                .bearer_auth(&flow.key)
                .send()
                .await
                .unwrap()
        }
    };
    let approve = || async {
        let id = flow.with_document().await;
        let selfie: Value = flow
            .selfie(&id, vec![photo("person_a_2.jpg")])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(selfie["verification"]["status"], "approved", "{selfie}");
        id
    };

    // A first verification of the number, approved and activated minutes earlier (its token,
    // which lives at most an hour, is still live).
    let earlier = approve().await;
    assert_eq!(flow.activation(&earlier).await.status(), 201);
    // Before its own approval, a verification authenticates nobody.
    clock.advance(Duration::minutes(5));
    let pending = flow.with_document().await;
    let refused = problem(check(pending.clone()).await, 409).await;
    assert_eq!(
        refused["type"],
        "urn:simgate:problem:security-check-unavailable"
    );

    let current = approve().await;
    let response = check(current.clone()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["msisdn_masked"], "+*********34", "{body}");
    assert_eq!(body["frozen"], false);
    let verifications = body["recent_verifications"].as_array().unwrap();
    assert_eq!(verifications.len(), 3, "{body}");
    assert_eq!(
        verifications
            .iter()
            .filter(|v| v["this_verification"] == true)
            .count(),
        1
    );
    assert!(verifications.iter().any(|v| v["status"] == "activated"));
    // The earlier activation is live and not this verification's: the first advice is urgent.
    let activations = body["active_activations"].as_array().unwrap();
    assert_eq!(activations.len(), 1, "{body}");
    assert_eq!(activations[0]["this_verification"], false);
    let advice: Vec<&str> = body["advice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        advice,
        [
            "other_activations_live",
            "verified_elsewhere_recently",
            "never_share_codes"
        ],
        "{body}"
    );
    assert_eq!(body["advice"][0]["severity"], "urgent");
    // No other session's identifiers leak into the view.
    let text = body.to_string();
    assert!(
        !text.contains(&earlier) && !text.contains(&pending),
        "{text}"
    );
    assert!(
        !text.contains("5700 1234") && !text.contains("57001234"),
        "{text}"
    );

    // The check is audited, and closes 30 minutes after the approval.
    let audit = flow
        .app
        .state
        .store
        .audit_entries_after(0, 1000)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|entry| entry.action == "security_check.viewed"),
        "{audit:?}"
    );
    clock.advance(Duration::minutes(31));
    assert_eq!(check(current).await.status(), 409);
}

/// A `kiosk` key (what a browser or an app holds) runs the sessions it opened, end to end, and
/// nothing else: another kiosk's sessions are 404 as if they did not exist, and the routes of
/// other scopes are 403.
async fn a_kiosk_key_runs_only_the_sessions_it_opened(backend: Backend) {
    let flow = Flow::start(backend).await;
    flow.rotate_signing_key(3600).await;
    let kiosk = flow.app.create_key("carrier-a", "kiosk").await;
    let other_kiosk = flow.app.create_key("carrier-a", "kiosk").await;
    let app = &flow.app;
    let client = &app.client;
    let get = |key: String, path: String| async move {
        client
            .get(app.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
    };
    let opened: Value = client
        .post(flow.app.url("/v1/verifications"))
        .bearer_auth(&kiosk)
        .json(&json!({
            "channel": "kiosk",
            "consent": support::consent(),
            "msisdn": "+230 5700 1234",
            "eid": EID,
            "iccid": ICCID,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = opened["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/verifications/{id}");
    assert_eq!(get(kiosk.clone(), path.clone()).await, 200);
    assert_eq!(get(other_kiosk.clone(), path.clone()).await, 404);
    assert_eq!(get(flow.key.clone(), path.clone()).await, 200);
    // Another kiosk cannot advance it either.
    let foreign = flow
        .app
        .post_document(
            &other_kiosk,
            &id,
            photo("person_a_1.jpg"),
            Some(valid_mrz()),
        )
        .await;
    assert_eq!(foreign.status(), 404);
    // A session opened with the tenant's `verify` key is out of the kiosk's reach.
    let tenant_session = flow.open("kiosk").await;
    let tenant_path = format!(
        "/v1/verifications/{}",
        tenant_session["id"].as_str().unwrap()
    );
    assert_eq!(get(kiosk.clone(), tenant_path).await, 404);
    // Everything but the session routes is refused.
    for path in ["/v1/alerts", "/v1/api-keys"] {
        assert_eq!(get(kiosk.clone(), path.to_owned()).await, 403, "{path}");
    }
    let introspect = client
        .post(flow.app.url("/v1/tokens/introspect"))
        .bearer_auth(&kiosk)
        .json(&json!({ "token": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(introspect.status(), 403);

    // Its own session runs to the activation token.
    let document = flow
        .app
        .post_document(&kiosk, &id, photo("person_a_1.jpg"), Some(valid_mrz()))
        .await;
    assert_eq!(document.status(), 200);
    let mut form = reqwest::multipart::Form::new();
    form = form.part(
        "frames",
        reqwest::multipart::Part::bytes(photo("person_a_2.jpg")).file_name("frame.jpg"),
    );
    let selfie: Value = client
        .post(flow.app.url(&format!("{path}/selfie")))
        .bearer_auth(&kiosk)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(selfie["verification"]["status"], "approved", "{selfie}");
    let activation = client
        .post(flow.app.url(&format!("{path}/activation")))
        .bearer_auth(&kiosk)
        .send()
        .await
        .unwrap();
    assert_eq!(activation.status(), 201);
    assert_eq!(
        get(kiosk.clone(), format!("{path}/security-check")).await,
        200
    );
    assert_eq!(
        get(other_kiosk, format!("{path}/security-check")).await,
        404
    );
}

on_both_backends!(
    a_kiosk_key_runs_only_the_sessions_it_opened,
    the_security_check_shows_the_authenticated_subscriber_their_number,
    the_mrz_is_read_from_the_photo_when_no_reader_text_is_sent,
    approved_kiosk_flow_issues_a_token_bound_to_the_esim,
    face_mismatch_is_retried_then_rejected,
    document_rules_reject_expired_and_under_age_holders,
    the_document_held_up_to_the_camera_is_an_attack,
    a_second_face_in_frame_is_reported_and_steps_keep_their_order,
    sessions_expire_and_are_invisible_to_other_tenants,
    bad_requests_are_refused_with_the_field_named,
    consent_is_required_where_the_policy_says_and_kept_with_the_session,
    idempotency_keys_replay_the_first_answer,
    a_malformed_idempotency_key_is_judged_after_authentication,
    a_replayed_refusal_is_the_same_problem_document,
    decisions_and_revocations_are_pushed_as_signed_webhooks,
    mobile_liveness_following_the_challenge_is_approved,
    static_frames_are_retried_with_a_fresh_challenge,
    a_frame_replayed_in_a_retry_is_caught,
    too_few_frames_are_refused_without_using_an_attempt,
    pad_decides_where_required_and_is_recorded_elsewhere,
);
