//! The provisioning side's view, written independently of simgate's Rust code: a Python client
//! (PyJWT with `cryptography`, urllib) fetches `/.well-known/jwks.json` over HTTP, verifies each
//! activation token against it, then asks `/v1/tokens/introspect` whether the token is still
//! live. It must accept a fresh token, also one signed by the previous key during the rotation
//! overlap, and refuse: an expired token, a revoked one (introspection), one whose signing key
//! retired after the overlap, `alg: none`, HS256 "signed" with the public key, and a changed
//! claim.
//!
//! The server runs on a hand-driven clock set near real time, because PyJWT checks `exp` and
//! `nbf` against the real clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{path::PathBuf, process::Command, sync::Arc, time::Duration as StdDuration};

use base64::Engine as _;
use hmac::Mac as _;
use serde_json::{Value, json};
use simgate_api::signing_keys::{load_key_ring, rotate_signing_key};
use simgate_core::{Clock as _, ManualClock, TenantId};
use simgate_store::{ActivationTokenRow, Backend};
use simgate_tokens::{
    Acr, ActivationRequest, Audience, AuthMethod, Eid, Iccid, IssuedToken, Issuer, Msisdn,
    SigningAlgorithm, SubscriberKey, TokenLifetime, VerificationId, derive_subscriber_id,
    issue_activation_token,
};
use support::TestApp;
use time::{Duration, OffsetDateTime};

const PROVISIONING_CLIENT: &str = r#"
import json, sys, urllib.request
import jwt

base, api_key, tokens = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with urllib.request.urlopen(base + "/.well-known/jwks.json") as response:
    jwks = jwt.PyJWKSet.from_dict(json.load(response))
results = {}
for name, token in tokens.items():
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        keys = [key for key in jwks.keys if key.key_id == kid]
        if not keys:
            raise LookupError("no key %s in the JWKS" % kid)
        claims = jwt.decode(token, keys[0], algorithms=["EdDSA", "ES256"],
                            audience="esim-provisioning", issuer="simgate")
    except Exception as error:
        results[name] = {"valid": False, "error": type(error).__name__}
        continue
    request = urllib.request.Request(
        base + "/v1/tokens/introspect", data=json.dumps({"token": token}).encode(),
        headers={"Authorization": "Bearer " + api_key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        active = json.load(response)["active"]
    results[name] = {"valid": True, "active": active, "jti": claims["jti"]}
print(json.dumps({"pyjwt": jwt.__version__, "results": results}))
"#;

fn venv_python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (it creates .venv with PyJWT)",
        python.display()
    );
    python
}

fn request() -> ActivationRequest {
    ActivationRequest {
        issuer: Issuer::parse("simgate").unwrap(),
        audience: Audience::parse("esim-provisioning").unwrap(),
        lifetime: TokenLifetime::new(StdDuration::from_secs(600)).unwrap(),
        subject: derive_subscriber_id(
            &SubscriberKey::generate().unwrap(),
            &Msisdn::parse("+23057001234").unwrap(),
        ),
        eid: Eid::parse("89001012012341234012345678901224").unwrap(),
        iccid: Some(Iccid::parse("89441100123456789014").unwrap()),
        matching_id: None,
        acr: Acr::parse("urn:simgate:acr:kiosk").unwrap(),
        amr: vec![AuthMethod::Doc, AuthMethod::Face, AuthMethod::Sms],
        verification_id: VerificationId::parse("ver_interop").unwrap(),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(token: &str, part: usize) -> Value {
    let segment = token.split('.').nth(part).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
}

/// The token's claims under `alg: none`, with no signature.
fn unsigned(token: &str) -> String {
    let mut header = b64_json(token, 0);
    header["alg"] = json!("none");
    format!(
        "{}.{}.",
        b64(&serde_json::to_vec(&header).unwrap()),
        token.split('.').nth(1).unwrap()
    )
}

/// The token's claims signed HS256 with the issuer's public key as the HMAC secret: the classic
/// algorithm-confusion forgery.
fn hs256_with_public_key(token: &str, public_key: &[u8]) -> String {
    let mut header = b64_json(token, 0);
    header["alg"] = json!("HS256");
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        token.split('.').nth(1).unwrap()
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(public_key).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

/// One claim byte changed, header and signature kept.
fn tampered(token: &str) -> String {
    let mut claims = b64_json(token, 1);
    claims["eid"] = json!("89001012012341234012345678901232");
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&claims).unwrap()),
        parts[2]
    )
}

async fn record(app: &TestApp, issued: &IssuedToken, kid: &str, at: OffsetDateTime) {
    app.state
        .store
        .insert_activation_token(&ActivationTokenRow {
            jti: issued.jti.as_str().to_owned(),
            tenant: TenantId::parse("carrier-a").unwrap(),
            verification_id: "ver_interop".into(),
            subscriber_id: issued.claims.sub.as_str().to_owned(),
            kid: kid.to_owned(),
            issued_at: at,
            expires_at: issued.expires_at,
            revoked_at: None,
            revoked_reason: None,
            redeemed_at: None,
        })
        .await
        .unwrap();
}

fn provisioning_check(app: &TestApp, key: &str, tokens: &Value) -> Value {
    let output = Command::new(venv_python())
        .args([
            "-c",
            PROVISIONING_CLIENT,
            &app.base,
            key,
            &tokens.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "provisioning client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["results"].clone()
}

async fn a_python_provisioning_client_accepts_only_live_tokens(backend: Backend) {
    // Thirty minutes in the past, so a token issued now is already expired for real clocks.
    let start = OffsetDateTime::now_utc() - Duration::minutes(30);
    let clock = Arc::new(ManualClock::new(start));
    let app = TestApp::spawn_with_clock(backend, clock.clone()).await;
    let key = app.create_key("carrier-a", "tokens").await;
    let store = app.state.store.as_ref();
    let overlap = StdDuration::from_secs(3600);

    let first = rotate_signing_key(store, SigningAlgorithm::EdDSA, overlap, clock.now())
        .await
        .unwrap();
    let first_kid = first.kid().as_str().to_owned();
    let ring = load_key_ring(store, clock.now()).await.unwrap().unwrap();
    let expired = issue_activation_token(&ring, &request(), clock.now()).unwrap();
    record(&app, &expired, &first_kid, clock.now()).await;

    clock.advance(Duration::minutes(30));
    let ring = load_key_ring(store, clock.now()).await.unwrap().unwrap();
    let old_key_token = issue_activation_token(&ring, &request(), clock.now()).unwrap();
    record(&app, &old_key_token, &first_kid, clock.now()).await;
    let revoked = issue_activation_token(&ring, &request(), clock.now()).unwrap();
    record(&app, &revoked, &first_kid, clock.now()).await;

    let second = rotate_signing_key(store, SigningAlgorithm::ES256, overlap, clock.now())
        .await
        .unwrap();
    let ring = load_key_ring(store, clock.now()).await.unwrap().unwrap();
    let new_key_token = issue_activation_token(&ring, &request(), clock.now()).unwrap();
    record(&app, &new_key_token, second.kid().as_str(), clock.now()).await;

    let revoke = app
        .client
        .post(app.url("/v1/tokens/revoke"))
        .bearer_auth(&key)
        .json(&json!({"jti": revoked.jti.as_str(), "reason": "subscriber_reported_fraud"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);

    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_public = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == first_kid.as_str())
        .map(|k| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k["x"].as_str().unwrap())
                .unwrap()
        })
        .expect("the previous key is published during the overlap");

    let results = provisioning_check(
        &app,
        &key,
        &json!({
            "new_key": new_key_token.token,
            "old_key_during_overlap": old_key_token.token,
            "expired": expired.token,
            "revoked": revoked.token,
            "alg_none": unsigned(&old_key_token.token),
            "hs256_with_public_key": hs256_with_public_key(&old_key_token.token, &first_public),
            "changed_claim": tampered(&new_key_token.token),
        }),
    );
    let live = |name: &str| results[name]["valid"] == true && results[name]["active"] == true;
    assert!(live("new_key"), "{results}");
    assert!(live("old_key_during_overlap"), "{results}");
    assert_eq!(
        results["expired"]["error"], "ExpiredSignatureError",
        "{results}"
    );
    assert_eq!(
        (&results["revoked"]["valid"], &results["revoked"]["active"]),
        (&json!(true), &json!(false)),
        "a revoked token still carries a good signature; introspection says it is dead: {results}"
    );
    for forged in ["alg_none", "hs256_with_public_key"] {
        assert_eq!(results[forged]["valid"], false, "{forged}: {results}");
        assert_eq!(
            results[forged]["error"], "InvalidAlgorithmError",
            "{forged}: {results}"
        );
    }
    assert_eq!(
        results["changed_claim"]["error"], "InvalidSignatureError",
        "{results}"
    );

    // After the overlap the first key is no longer published: its tokens stop verifying.
    clock.advance(Duration::minutes(61));
    let results = provisioning_check(
        &app,
        &key,
        &json!({ "old_key_after_retirement": old_key_token.token }),
    );
    assert_eq!(
        results["old_key_after_retirement"]["error"], "LookupError",
        "{results}"
    );
}

on_both_backends!(a_python_provisioning_client_accepts_only_live_tokens);
