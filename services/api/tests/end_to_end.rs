//! The shipped kiosk and mobile policies end to end over HTTP: document, face and second factor
//! with the real face models and fixture photos, through to a signed activation token whose
//! `amr` says how the subscriber was proven, and the rejection paths a fraudster reaches at
//! each layer (an impostor's face, a still photo in front of the phone, an expired passport,
//! guessed SMS codes).
//!
//! Nothing is narrowed here: the settings are the defaults (kiosk and mobile require document,
//! selfie and an SMS or TOTP code; mobile selfies answer an active-liveness challenge). Only the
//! clock is hand-driven and the SMS gateway records what it is given instead of reaching an
//! SMSC (the real Kannel path is `services/sms/tests/kannel.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use simgate_api::Overrides;
use simgate_core::{Clock as _, ManualClock};
use simgate_otp::gateway::testing::RecordingSmsGateway;
use simgate_store::Backend;
use simgate_tokens::AuthMethod;
use support::{
    TestApp, face_engine, frames_for, oathtool_code, passport_mrz, photo, problem, secret_of,
    still_frames, valid_mrz, wrong_code,
};
use time::{Duration, OffsetDateTime, macros::datetime};

const EID: &str = "89049032123451234512345678901235";
const ICCID: &str = "8923000000000000005";
const MSISDN: &str = "+23057001234";
const START: OffsetDateTime = datetime!(2026-11-26 10:00:00 UTC);

/// A server on the default policies, and a carrier client with the `verify`, `otp` and
/// `tokens` scopes.
struct Carrier {
    app: TestApp,
    clock: Arc<ManualClock>,
    gateway: Arc<RecordingSmsGateway>,
    key: String,
}

impl Carrier {
    async fn start(backend: Backend) -> Self {
        let clock = Arc::new(ManualClock::new(START));
        let gateway = Arc::new(RecordingSmsGateway::new());
        let overrides = Overrides {
            clock: Some(clock.clone()),
            face_engine: Some(face_engine()),
            sms_gateway: Some(gateway.clone()),
        };
        let app = TestApp::spawn_with_overrides(
            backend,
            |settings| settings.sms.outbox.poll_interval_ms = 50,
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
        Self {
            app,
            clock,
            gateway,
            key,
        }
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.app.post_json(&self.key, path, body).await
    }

    async fn multipart(&self, path: &str, form: reqwest::multipart::Form) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(&self.key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Opens a session on `channel` and checks the default policy's steps.
    async fn open(&self, channel: &str) -> Value {
        let response = self
            .post(
                "/v1/verifications",
                json!({
                    "channel": channel,
                    "consent": support::consent(),
                    "msisdn": MSISDN,
                    "eid": EID,
                    "iccid": ICCID,
                    "matching_id": "QR-G-5C-1LS-1W1Z9P7",
                    "smdp_address": "smdp.example.com",
                    "store_id": "port-louis-1",
                }),
            )
            .await;
        assert_eq!(response.status(), 201);
        let session: Value = response.json().await.unwrap();
        assert_eq!(
            session["required_steps"],
            json!(["document", "selfie", "otp"]),
            "{session}"
        );
        session
    }

    /// Submits person A's passport photo with `mrz`.
    async fn document(&self, id: &str, mrz: &str) -> Value {
        let form = reqwest::multipart::Form::new()
            .part(
                "image",
                reqwest::multipart::Part::bytes(photo("person_a_1.jpg")).file_name("doc.jpg"),
            )
            .text("mrz_text", mrz.to_owned());
        let response = self
            .multipart(&format!("/v1/verifications/{id}/document"), form)
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn selfie(&self, id: &str, frames: Vec<Vec<u8>>) -> reqwest::Response {
        let form = frames
            .into_iter()
            .fold(reqwest::multipart::Form::new(), |form, frame| {
                form.part(
                    "frames",
                    reqwest::multipart::Part::bytes(frame).file_name("frame.jpg"),
                )
            });
        self.multipart(&format!("/v1/verifications/{id}/selfie"), form)
            .await
    }

    async fn selfie_json(&self, id: &str, frames: Vec<Vec<u8>>) -> Value {
        let response = self.selfie(id, frames).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn start_otp(&self, id: &str, method: &str) -> reqwest::Response {
        self.post(
            &format!("/v1/verifications/{id}/otp"),
            json!({ "method": method }),
        )
        .await
    }

    async fn verify_otp(&self, id: &str, code: &str) -> reqwest::Response {
        self.post(
            &format!("/v1/verifications/{id}/otp/verify"),
            json!({ "code": code }),
        )
        .await
    }

    async fn activation(&self, id: &str) -> reqwest::Response {
        self.post(&format!("/v1/verifications/{id}/activation"), json!({}))
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

    /// Opens a kiosk session, passes its document and selfie with person A and requests the SMS
    /// code: the session's id and the first code sent.
    async fn kiosk_session_awaiting_its_sms_code(&self) -> (String, String) {
        let id = self.open("kiosk").await["id"].as_str().unwrap().to_owned();
        self.document(&id, &valid_mrz()).await;
        self.selfie_json(&id, vec![photo("person_a_2.jpg")]).await;
        assert_eq!(self.start_otp(&id, "sms").await.status(), 202);
        let code = self.sms_code(1).await;
        (id, code)
    }

    /// Waits (bounded) for the `count`th SMS and returns the code at the start of its text.
    async fn sms_code(&self, count: usize) -> String {
        for _ in 0..100 {
            let sent = self.gateway.sent();
            if sent.len() >= count {
                assert_eq!(sent.len(), count, "one message per code requested");
                assert_eq!(sent[count - 1].msisdn.as_e164(), MSISDN);
                let text = sent[count - 1].text.as_str().to_owned();
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

    /// Issues the activation token and checks it against the published JWKS, returning its
    /// `amr`.
    async fn activate(&self, id: &str) -> Vec<AuthMethod> {
        let response = self.activation(id).await;
        assert_eq!(response.status(), 201);
        let activation: Value = response.json().await.unwrap();
        assert_eq!(
            activation["activation_code"],
            "LPA:1$smdp.example.com$QR-G-5C-1LS-1W1Z9P7"
        );
        let jwks = self
            .app
            .client
            .get(self.app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        let jwks = simgate_tokens::JwkSet::from_json(&jwks.text().await.unwrap()).unwrap();
        let claims = simgate_tokens::verify_activation_token(
            activation["token"].as_str().unwrap(),
            &jwks,
            &simgate_tokens::Issuer::parse("simgate").unwrap(),
            &simgate_tokens::Audience::parse("esim-provisioning").unwrap(),
            self.clock.now(),
        )
        .unwrap();
        assert_eq!(claims.eid.as_str(), EID);
        assert_eq!(claims.verification_id.as_str(), id);
        claims.amr
    }
}

fn reasons(body: &Value) -> Value {
    body["outcome"]["reasons"].clone()
}

async fn kiosk_subscriber_is_approved_with_document_face_and_sms_code(backend: Backend) {
    let carrier = Carrier::start(backend).await;
    let session = carrier.open("kiosk").await;
    let id = session["id"].as_str().unwrap();
    assert!(session.get("liveness_challenge").is_none(), "{session}");

    // No code is sent before the document and the face have passed.
    let early = problem(carrier.start_otp(id, "sms").await, 409).await;
    assert_eq!(early["type"], "urn:simgate:problem:step-out-of-order");
    let document = carrier.document(id, &valid_mrz()).await;
    assert_eq!(document["outcome"]["passed"], true, "{document}");
    let selfie = carrier.selfie_json(id, vec![photo("person_a_2.jpg")]).await;
    assert_eq!(selfie["outcome"]["passed"], true, "{selfie}");
    assert_eq!(selfie["verification"]["status"], "in_progress");
    assert_eq!(selfie["verification"]["pending_steps"], json!(["otp"]));
    assert!(
        carrier.gateway.sent().is_empty(),
        "no SMS before the otp step"
    );
    let not_yet = problem(carrier.activation(id).await, 409).await;
    assert_eq!(not_yet["verification_status"], "in_progress");

    assert_eq!(carrier.start_otp(id, "sms").await.status(), 202);
    let code = carrier.sms_code(1).await;
    // Sent with an Idempotency-Key: a retry (the kiosk lost the answer) gets the same answer,
    // stored with the session's change, not a refusal of the spent code.
    let verify = || {
        carrier
            .app
            .client
            .post(
                carrier
                    .app
                    .url(&format!("/v1/verifications/{id}/otp/verify")),
            )
            .bearer_auth(&carrier.key)
            .header("idempotency-key", "kiosk-3-otp-1")
            .json(&json!({ "code": code }))
            .send()
    };
    let verified = verify().await.unwrap();
    assert_eq!(verified.status(), 200);
    let verified_text = verified.text().await.unwrap();
    let retried = verify().await.unwrap();
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retried.text().await.unwrap(),
        verified_text,
        "byte for byte"
    );
    let verified: Value = serde_json::from_str(&verified_text).unwrap();
    assert_eq!(verified["verification"]["status"], "approved");
    let decision = carrier.get(id).await["decision"].clone();
    assert_eq!(decision["status"], "approved");
    let decided_steps: Vec<&str> = decision["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["step"].as_str().unwrap())
        .collect();
    assert_eq!(decided_steps, ["document", "selfie", "otp"], "{decision}");

    assert_eq!(
        carrier.activate(id).await,
        [AuthMethod::Doc, AuthMethod::Face, AuthMethod::Sms]
    );
}

async fn mobile_subscriber_answers_the_challenge_and_an_authenticator_code(backend: Backend) {
    let carrier = Carrier::start(backend).await;
    // The subscriber enrolled an authenticator app earlier (codes from oathtool).
    let enrol = carrier
        .post("/v1/subscribers/%2B23057001234/totp", json!({}))
        .await;
    assert_eq!(enrol.status(), 201);
    let secret = secret_of(
        enrol.json::<Value>().await.unwrap()["otpauth_uri"]
            .as_str()
            .unwrap(),
    );
    let confirmed = carrier
        .post(
            "/v1/subscribers/%2B23057001234/totp/confirm",
            json!({"code": oathtool_code(&secret, START)}),
        )
        .await;
    assert_eq!(confirmed.status(), 200);

    let session = carrier.open("mobile").await;
    let id = session["id"].as_str().unwrap();
    let action = session["liveness_challenge"]["action"]
        .as_str()
        .unwrap_or_else(|| panic!("mobile sessions carry a liveness challenge: {session}"))
        .to_owned();
    assert_eq!(
        carrier.document(id, &valid_mrz()).await["outcome"]["passed"],
        true
    );
    // One still frame cannot answer a challenge; it is refused without using an attempt.
    let one_frame = problem(carrier.selfie(id, vec![photo("person_a_2.jpg")]).await, 422).await;
    assert_eq!(one_frame["field"], "frames", "{one_frame}");
    let selfie = carrier.selfie_json(id, frames_for(&action, 0)).await;
    assert_eq!(selfie["outcome"]["passed"], true, "{action}: {selfie}");
    assert_eq!(selfie["verification"]["pending_steps"], json!(["otp"]));

    assert_eq!(carrier.start_otp(id, "totp").await.status(), 200);
    carrier.clock.advance(Duration::seconds(30));
    let code = oathtool_code(&secret, carrier.clock.now());
    let verified: Value = carrier.verify_otp(id, &code).await.json().await.unwrap();
    assert_eq!(verified["verification"]["status"], "approved", "{verified}");
    assert!(carrier.gateway.sent().is_empty(), "TOTP sends no SMS");
    assert_eq!(
        carrier.activate(id).await,
        [AuthMethod::Doc, AuthMethod::Face, AuthMethod::Otp]
    );
}

async fn each_layer_rejects_what_it_should_on_the_default_policies(backend: Backend) {
    let carrier = Carrier::start(backend).await;

    // An impostor at the kiosk with the victim's passport: three selfies, rejected, no code.
    let id = carrier.open("kiosk").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        carrier.document(&id, &valid_mrz()).await["outcome"]["passed"],
        true
    );
    for _ in 0..3 {
        let body = carrier
            .selfie_json(&id, vec![photo("impostor_1.jpg")])
            .await;
        assert_eq!(reasons(&body), json!(["face_mismatch"]));
    }
    let rejected = carrier.get(&id).await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["decision"]["reasons"],
        json!(["face_mismatch", "selfie_attempts_exhausted"])
    );
    problem(carrier.start_otp(&id, "sms").await, 409).await;
    problem(carrier.activation(&id).await, 409).await;

    // A still photo held in front of the phone never answers the challenge.
    let id = carrier.open("mobile").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    carrier.document(&id, &valid_mrz()).await;
    for take in 0..3 {
        let body = carrier.selfie_json(&id, still_frames(take)).await;
        assert_eq!(body["outcome"]["passed"], false);
        let found = reasons(&body);
        assert!(
            found.as_array().unwrap().contains(&json!("static_frames")),
            "{body}"
        );
    }
    assert_eq!(carrier.get(&id).await["status"], "rejected");

    // An expired passport ends the session at the first step.
    let id = carrier.open("kiosk").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expired = carrier
        .document(&id, &passport_mrz("ERIKSSON", "900812", "240101"))
        .await;
    assert_eq!(expired["outcome"]["passed"], false);
    assert!(
        reasons(&expired)
            .as_array()
            .unwrap()
            .contains(&json!("document_expired")),
        "{expired}"
    );
    assert_eq!(expired["verification"]["status"], "rejected");

    // Someone who passes document and face at the kiosk but does not hold the SIM guesses
    // codes: the code locks after five wrong guesses, and the session is never approved.
    assert!(carrier.gateway.sent().is_empty(), "no code sent so far");
    let (id, code) = carrier.kiosk_session_awaiting_its_sms_code().await;
    for _ in 0..5 {
        let wrong = problem(carrier.verify_otp(&id, &wrong_code(&code)).await, 422).await;
        assert_eq!(wrong["reason"], "wrong");
    }
    let locked = problem(carrier.verify_otp(&id, &code).await, 422).await;
    assert_eq!(locked["reason"], "locked");
    assert_eq!(carrier.get(&id).await["status"], "in_progress");
    carrier.clock.advance(Duration::minutes(31));
    assert_eq!(carrier.get(&id).await["status"], "expired");
    problem(carrier.activation(&id).await, 409).await;
}

on_both_backends!(
    kiosk_subscriber_is_approved_with_document_face_and_sms_code,
    mobile_subscriber_answers_the_challenge_and_an_authenticator_code,
    each_layer_rejects_what_it_should_on_the_default_policies,
);

on_both_backends!(another_tenant_reaches_none_of_a_carriers_records_through_any_route);

/// Every operation of the OpenAPI document whose path names a record (`{id}`, `{msisdn}`), and
/// the token routes that name one in their body, called by another tenant's key holding every
/// scope, against a carrier that has a live activation, an open session, an authenticator
/// enrolment and an alert. Each answer is 404 or the caller's own (empty) view, and afterwards
/// the carrier's records are unchanged: nothing read, nothing changed, nothing erased. The list
/// is checked against the served document, so a new route that takes an id fails here until it
/// is added.
async fn another_tenant_reaches_none_of_a_carriers_records_through_any_route(backend: Backend) {
    let carrier = Carrier::start(backend).await;
    let (a_admin_id, a_admin) = carrier
        .app
        .create_key_with_id("carrier-a", "admin,events")
        .await;
    let intruder = carrier
        .app
        .create_key("carrier-b", "verify,otp,tokens,admin,batch,events")
        .await;
    let m = "%2B23057001234";

    // Carrier A: an approved, activated session (a live token) for the subscriber ...
    let (approved, code) = carrier.kiosk_session_awaiting_its_sms_code().await;
    assert_eq!(carrier.verify_otp(&approved, &code).await.status(), 200);
    let activation: Value = carrier.activation(&approved).await.json().await.unwrap();
    let token = activation["token"].as_str().unwrap().to_owned();
    let jti = decode_jti(&token);
    // ... a session still open, an active authenticator enrolment, and an alert on another
    // of its subscribers (a SIM-swap burst).
    let open = carrier.open("kiosk").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let enrol: Value = carrier
        .post(&format!("/v1/subscribers/{m}/totp"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = secret_of(enrol["otpauth_uri"].as_str().unwrap());
    let confirm = carrier
        .post(
            &format!("/v1/subscribers/{m}/totp/confirm"),
            json!({"code": oathtool_code(&secret, START)}),
        )
        .await;
    assert_eq!(confirm.status(), 200);
    let at = |ago: Duration| {
        (carrier.clock.now() - ago)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let fired: Value = carrier
        .app
        .post_json(
            &a_admin,
            "/v1/events",
            json!([
                {"msisdn": "+23057009999", "eid": EID, "kind": "sim_swap", "at": at(Duration::hours(2))},
                {"msisdn": "+23057009999", "eid": EID, "kind": "sim_swap", "at": at(Duration::minutes(1))},
            ]),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fired["fired"].as_array().unwrap().len(), 1, "{fired}");
    let alerts: Value = carrier
        .app
        .get_with_key("/v1/alerts", &a_admin)
        .await
        .json()
        .await
        .unwrap();
    let alert = alerts["alerts"][0]["id"].as_str().unwrap().to_owned();
    let introspect = |key: String, token: String| {
        let app = &carrier.app;
        async move {
            app.post_json(&key, "/v1/tokens/introspect", json!({ "token": token }))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let before_approved = carrier.get(&approved).await;
    let before_open = carrier.get(&open).await;
    let before_timeline: Value = carrier
        .app
        .get_with_key(&format!("/v1/subscribers/{m}/timeline"), &a_admin)
        .await
        .json()
        .await
        .unwrap();

    // The intruder, route by route. (method, OpenAPI path, concrete path, body).
    let selfie = || {
        reqwest::multipart::Form::new().part(
            "frames",
            reqwest::multipart::Part::bytes(photo("person_a_2.jpg")).file_name("f.jpg"),
        )
    };
    let document = || {
        reqwest::multipart::Form::new()
            .part(
                "image",
                reqwest::multipart::Part::bytes(photo("person_a_1.jpg")).file_name("d.jpg"),
            )
            .text("mrz_text", valid_mrz())
    };
    enum Body {
        Json(Value),
        Form(reqwest::multipart::Form),
        None,
    }
    let calls: Vec<(&str, &str, String, Body, &[u16])> = vec![
        (
            "get",
            "/v1/verifications/{id}",
            format!("/v1/verifications/{approved}"),
            Body::None,
            &[404],
        ),
        (
            "get",
            "/v1/verifications/{id}/security-check",
            format!("/v1/verifications/{approved}/security-check"),
            Body::None,
            &[404],
        ),
        (
            "post",
            "/v1/verifications/{id}/document",
            format!("/v1/verifications/{open}/document"),
            Body::Form(document()),
            &[404],
        ),
        (
            "post",
            "/v1/verifications/{id}/selfie",
            format!("/v1/verifications/{open}/selfie"),
            Body::Form(selfie()),
            &[404],
        ),
        (
            "post",
            "/v1/verifications/{id}/otp",
            format!("/v1/verifications/{open}/otp"),
            Body::Json(json!({"method": "sms"})),
            &[404],
        ),
        (
            "post",
            "/v1/verifications/{id}/otp/verify",
            format!("/v1/verifications/{approved}/otp/verify"),
            Body::Json(json!({"code": code})),
            &[404],
        ),
        (
            "post",
            "/v1/verifications/{id}/activation",
            format!("/v1/verifications/{approved}/activation"),
            Body::Json(json!({})),
            &[404],
        ),
        (
            "post",
            "/v1/alerts/{id}/ack",
            format!("/v1/alerts/{alert}/ack"),
            Body::Json(json!({})),
            &[404],
        ),
        (
            "delete",
            "/v1/api-keys/{id}",
            format!("/v1/api-keys/{a_admin_id}"),
            Body::None,
            &[404],
        ),
        // Subscriber routes act on the caller's own records of that number: none here.
        (
            "get",
            "/v1/subscribers/{msisdn}/timeline",
            format!("/v1/subscribers/{m}/timeline"),
            Body::None,
            &[200],
        ),
        (
            "post",
            "/v1/subscribers/{msisdn}/tokens/revoke",
            format!("/v1/subscribers/{m}/tokens/revoke"),
            Body::Json(json!({"reason": "intrusion"})),
            &[200],
        ),
        (
            "post",
            "/v1/subscribers/{msisdn}/reverify",
            format!("/v1/subscribers/{m}/reverify"),
            Body::Json(json!({"reason": "intrusion"})),
            &[200],
        ),
        (
            "delete",
            "/v1/subscribers/{msisdn}/totp",
            format!("/v1/subscribers/{m}/totp"),
            Body::None,
            &[404],
        ),
        (
            "post",
            "/v1/subscribers/{msisdn}/totp/confirm",
            format!("/v1/subscribers/{m}/totp/confirm"),
            Body::Json(json!({"code": oathtool_code(&secret, START)})),
            &[404],
        ),
        (
            "post",
            "/v1/subscribers/{msisdn}/otp/unlock",
            format!("/v1/subscribers/{m}/otp/unlock"),
            Body::Json(json!({})),
            &[204],
        ),
        (
            "post",
            "/v1/subscribers/{msisdn}/freeze",
            format!("/v1/subscribers/{m}/freeze"),
            Body::Json(json!({"reason": "intrusion"})),
            &[200],
        ),
        (
            "delete",
            "/v1/subscribers/{msisdn}/freeze",
            format!("/v1/subscribers/{m}/freeze"),
            Body::Json(json!({"reason": "intrusion"})),
            &[204],
        ),
        (
            "post",
            "/v1/subscribers/{msisdn}/totp",
            format!("/v1/subscribers/{m}/totp"),
            Body::Json(json!({})),
            &[201],
        ),
        (
            "delete",
            "/v1/subscribers/{msisdn}",
            format!("/v1/subscribers/{m}"),
            Body::None,
            &[200],
        ),
    ];
    let mut answered = std::collections::BTreeSet::new();
    for (method, template, path, body, expected) in calls {
        let request = carrier
            .app
            .client
            .request(
                method.to_uppercase().parse().unwrap(),
                carrier.app.url(&path),
            )
            .bearer_auth(&intruder);
        let request = match body {
            Body::Json(body) => request.json(&body),
            Body::Form(form) => request.multipart(form),
            Body::None => request,
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            expected.contains(&status),
            "{method} {path}: {status} {text}"
        );
        // Nothing of carrier A's shows in any answer.
        for secret_of_a in [
            approved.as_str(),
            open.as_str(),
            jti.as_str(),
            alert.as_str(),
            a_admin_id.as_str(),
        ] {
            assert!(
                !text.contains(secret_of_a),
                "{method} {path} leaked {secret_of_a}: {text}"
            );
        }
        if template == "/v1/subscribers/{msisdn}/timeline" {
            let timeline: Value = serde_json::from_str(&text).unwrap();
            for list in ["verifications", "tokens", "alerts", "events"] {
                assert_eq!(timeline[list], json!([]), "{list}: {timeline}");
            }
        }
        if template == "/v1/subscribers/{msisdn}" {
            let erased: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(erased["revoked_tokens"], json!([]), "{erased}");
            assert!(
                erased["deleted"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .all(|(table, n)| {
                        // Only the intruder's own records of the number (its enrolment just made,
                        // its own freeze and audit) may go.
                        n == 0
                            || [
                                "totp_enrolments",
                                "subscriber_freezes",
                                "audit_events",
                                "subscriber_controls",
                            ]
                            .contains(&table.as_str())
                    }),
                "{erased}"
            );
        }
        answered.insert(format!("{method} {template}"));
    }
    // Tokens named in the body: another tenant's token is neither active, revocable nor
    // redeemable for the intruder.
    let peek = introspect(intruder.clone(), token.clone()).await;
    assert_eq!(peek, json!({"active": false}));
    // Revoking it answers exactly what revoking an id that never existed answers.
    let revoke = |jti: String| {
        let (app, intruder) = (&carrier.app, intruder.clone());
        async move {
            let response = app
                .post_json(
                    &intruder,
                    "/v1/tokens/revoke",
                    json!({"jti": jti, "reason": "intrusion"}),
                )
                .await;
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let revoked = revoke(jti.clone()).await;
    assert_eq!(
        revoked,
        revoke("0123456789abcdef0123456789abcdef".into()).await
    );
    assert_eq!(revoked.0, 200, "{}", revoked.1);
    assert_eq!(
        serde_json::from_str::<Value>(&revoked.1).unwrap(),
        json!({"revoked": false})
    );
    let redeem = carrier
        .app
        .post_json(&intruder, "/v1/tokens/redeem", json!({"token": token}))
        .await;
    assert!(
        [401, 403, 404, 409, 422].contains(&redeem.status().as_u16()),
        "{}",
        redeem.status()
    );

    // Every id-taking operation of the served API was exercised.
    let spec: Value = carrier
        .app
        .client
        .get(carrier.app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_taking: std::collections::BTreeSet<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.contains('{'))
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| format!("{m} {path}"))
        })
        .collect();
    assert_eq!(answered, id_taking, "every route that takes an id is tried");

    // Carrier A's records are as they were.
    assert_eq!(carrier.get(&approved).await, before_approved);
    assert_eq!(carrier.get(&open).await, before_open);
    let after_timeline: Value = carrier
        .app
        .get_with_key(&format!("/v1/subscribers/{m}/timeline"), &a_admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        after_timeline["verifications"],
        before_timeline["verifications"]
    );
    assert_eq!(after_timeline["tokens"], before_timeline["tokens"]);
    assert_eq!(after_timeline["freeze"], before_timeline["freeze"]);
    assert_eq!(
        introspect(carrier.key.clone(), token.clone()).await["active"],
        true
    );
    let again = carrier
        .post(&format!("/v1/subscribers/{m}/totp"), json!({}))
        .await;
    let again = problem(again, 409).await;
    assert_eq!(
        again["type"], "urn:simgate:problem:totp-already-active",
        "A's enrolment stands"
    );
    let alerts: Value = carrier
        .app
        .get_with_key("/v1/alerts?status=open", &a_admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        alerts["alerts"][0]["id"],
        alert.as_str(),
        "not acknowledged by the intruder"
    );
    // A can still open sessions for the number the intruder froze in its own tenant.
    carrier.open("kiosk").await;
}

/// The `jti` claim of a compact JWS (the payload is not verified here; `activate` does that).
fn decode_jti(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}
