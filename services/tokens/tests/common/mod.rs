//! Shared fixtures for the integration tests: a fixed clock, issuer settings, key rings, a valid
//! activation request, and helpers that forge or re-sign tokens by hand.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use simgate_tokens::{
    Acr, ActivationRequest, Audience, AuthMethod, Eid, Iccid, Issuer, KeyRing, MatchingId, Msisdn,
    SigningAlgorithm, SigningKey, SubscriberKey, TokenLifetime, VerificationId,
    derive_subscriber_id,
};
use time::OffsetDateTime;
use time::macros::datetime;

/// A valid EID (GSMA SGP.29 example).
pub const EID: &str = "89001012012341234012345678901224";
/// A valid 20-digit ICCID (Luhn).
pub const ICCID: &str = "89441100123456789014";
/// A valid SGP.22 matching id.
pub const MATCHING_ID: &str = "QR-G-5C-KR-1PAM7T4";

pub fn now() -> OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC)
}

pub fn issuer() -> Issuer {
    Issuer::parse("https://simgate.carrier.example").unwrap()
}

pub fn audience() -> Audience {
    Audience::parse("urn:carrier:provisioning").unwrap()
}

pub fn key(algorithm: SigningAlgorithm) -> SigningKey {
    SigningKey::generate(algorithm, now()).unwrap()
}

pub fn ring(algorithm: SigningAlgorithm) -> KeyRing {
    KeyRing::new(key(algorithm))
}

pub fn request() -> ActivationRequest {
    let subscriber_key = SubscriberKey::from_bytes(&[42; 32]).unwrap();
    ActivationRequest {
        issuer: issuer(),
        audience: audience(),
        lifetime: TokenLifetime::default(),
        subject: derive_subscriber_id(&subscriber_key, &Msisdn::parse("+491701234567").unwrap()),
        eid: Eid::parse(EID).unwrap(),
        iccid: Some(Iccid::parse(ICCID).unwrap()),
        matching_id: Some(MatchingId::parse(MATCHING_ID).unwrap()),
        acr: Acr::parse("urn:simgate:acr:kiosk").unwrap(),
        amr: vec![AuthMethod::Doc, AuthMethod::Face, AuthMethod::Otp],
        verification_id: VerificationId::parse("ver_01HZX3K8Q9").unwrap(),
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Splits a compact JWS into its decoded header and payload JSON and the raw signature part.
pub fn split(token: &str) -> (Value, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    (header, payload, parts[2].to_owned())
}

/// Joins a header, payload and already-encoded signature without signing anything.
pub fn assemble(header: &Value, payload: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(payload).unwrap()),
        signature
    )
}

/// Signs an arbitrary header and payload with `key`, bypassing the crate's issuer.
pub fn sign_with(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let message = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(payload).unwrap())
    );
    let der = key.to_pkcs8_der();
    let (encoding_key, algorithm) = match key.algorithm() {
        SigningAlgorithm::EdDSA => (
            jsonwebtoken::EncodingKey::from_ed_der(&der),
            jsonwebtoken::Algorithm::EdDSA,
        ),
        SigningAlgorithm::ES256 => (
            jsonwebtoken::EncodingKey::from_ec_der(&der),
            jsonwebtoken::Algorithm::ES256,
        ),
    };
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &encoding_key, algorithm).unwrap();
    format!("{message}.{signature}")
}
