//! The JWKS the provisioning side verifies activation tokens against: empty before the first key,
//! the current key after a rotation, both keys during the overlap, only the new one after it.
//! Tokens are verified against the JWKS as fetched over HTTP. Both databases.

#![allow(clippy::unwrap_used)]

mod support;

use std::{sync::Arc, time::Duration};

use simgate_api::signing_keys::{load_key_ring, rotate_signing_key};
use simgate_core::{Clock as _, ManualClock};
use simgate_store::Backend;
use simgate_tokens::{
    Acr, ActivationRequest, Audience, AuthMethod, Eid, Iccid, Issuer, JwkSet, Msisdn,
    SigningAlgorithm, SubscriberKey, TokenError, TokenLifetime, VerificationId,
    derive_subscriber_id, issue_activation_token, verify_activation_token,
};
use support::TestApp;
use time::macros::datetime;

on_both_backends!(jwks_follows_rotation_and_overlap);

fn request() -> ActivationRequest {
    ActivationRequest {
        issuer: Issuer::parse("simgate").unwrap(),
        audience: Audience::parse("esim-provisioning").unwrap(),
        lifetime: TokenLifetime::new(Duration::from_secs(600)).unwrap(),
        subject: derive_subscriber_id(
            &SubscriberKey::generate().unwrap(),
            &Msisdn::parse("+23057001234").unwrap(),
        ),
        eid: Eid::parse("89001012012341234012345678901224").unwrap(),
        iccid: Some(Iccid::parse("89441100123456789014").unwrap()),
        matching_id: None,
        acr: Acr::parse("urn:simgate:acr:kiosk").unwrap(),
        amr: vec![AuthMethod::Doc, AuthMethod::Face, AuthMethod::Otp],
        verification_id: VerificationId::parse("ver_test").unwrap(),
    }
}

async fn fetch_jwks(app: &TestApp) -> JwkSet {
    let response = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    JwkSet::from_json(&response.text().await.unwrap()).unwrap()
}

async fn jwks_follows_rotation_and_overlap(backend: Backend) {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)));
    let app = TestApp::spawn_with_clock(backend, clock.clone()).await;
    let store = app.state.store.as_ref();
    let (issuer, audience) = (
        Issuer::parse("simgate").unwrap(),
        Audience::parse("esim-provisioning").unwrap(),
    );

    assert!(
        fetch_jwks(&app).await.keys.is_empty(),
        "no key before the first rotation"
    );

    let first = rotate_signing_key(
        store,
        SigningAlgorithm::EdDSA,
        Duration::from_secs(3600),
        clock.now(),
    )
    .await
    .unwrap();
    let jwks = fetch_jwks(&app).await;
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(&jwks.keys[0].kid, first.kid());
    let ring = load_key_ring(store, clock.now()).await.unwrap().unwrap();
    let old_token = issue_activation_token(&ring, &request(), clock.now()).unwrap();
    verify_activation_token(&old_token.token, &jwks, &issuer, &audience, clock.now())
        .expect("verifies against the served JWKS");

    clock.advance(time::Duration::minutes(1));
    let second = rotate_signing_key(
        store,
        SigningAlgorithm::ES256,
        Duration::from_secs(3600),
        clock.now(),
    )
    .await
    .unwrap();
    let jwks = fetch_jwks(&app).await;
    let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(
        kids,
        [second.kid().as_str(), first.kid().as_str()],
        "current first, previous kept during the overlap"
    );
    verify_activation_token(&old_token.token, &jwks, &issuer, &audience, clock.now())
        .expect("a token signed before the rotation still verifies during the overlap");
    let ring = load_key_ring(store, clock.now()).await.unwrap().unwrap();
    let new_token = issue_activation_token(&ring, &request(), clock.now()).unwrap();
    assert!(new_token.token.starts_with("eyJ"));
    verify_activation_token(&new_token.token, &jwks, &issuer, &audience, clock.now()).unwrap();

    clock.advance(time::Duration::hours(1));
    let jwks = fetch_jwks(&app).await;
    let kids: Vec<&str> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(
        kids,
        [second.kid().as_str()],
        "the old key is gone once the overlap ends"
    );
    let outcome = verify_activation_token(&old_token.token, &jwks, &issuer, &audience, clock.now());
    assert!(
        matches!(outcome, Err(TokenError::UnknownKey(_))),
        "{outcome:?}"
    );
}
