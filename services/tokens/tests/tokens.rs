//! Issuing and verifying activation tokens: round trips, every rejection, rotation and JWKS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use serde_json::json;
use sha2::Sha256;
use simgate_tokens::{
    ActivationClaims, Audience, AuthMethod, Iccid, IssuedToken, Issuer, JwkSet, KeyRing, Leeway,
    MatchingId, PublicKey, SigningAlgorithm, TOKEN_TYPE, TokenError, TokenLifetime,
    issue_activation_token, verify_activation_token, verify_activation_token_with_leeway,
};
use time::OffsetDateTime;

use common::{assemble, b64, now, split};

// `printf %s QR-G-5C-KR-1PAM7T4 | sha256sum`.
const MATCHING_ID_SHA256: &str = "217bdd9fbea76856e601f60bb6ae31d1c44e7d45676080369b5c11c5a7667102";

fn issue(ring: &KeyRing) -> IssuedToken {
    issue_activation_token(ring, &common::request(), now()).unwrap()
}

fn verify(token: &str, ring: &KeyRing, at: OffsetDateTime) -> Result<ActivationClaims, TokenError> {
    verify_activation_token(token, ring, &common::issuer(), &common::audience(), at)
}

fn at(seconds_after_issue: i64) -> OffsetDateTime {
    now() + time::Duration::seconds(seconds_after_issue)
}

// ---------------------------------------------------------------------------------------------
// round trips and claim contents

#[test]
fn eddsa_round_trip() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let issued = issue(&ring);
    let claims = verify(&issued.token, &ring, at(1)).unwrap();
    assert_eq!(claims, issued.claims);
    let (header, _, _) = split(&issued.token);
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "kid": ring.current().kid().as_str(), "typ": TOKEN_TYPE})
    );
}

#[test]
fn es256_round_trip() {
    let ring = common::ring(SigningAlgorithm::ES256);
    let issued = issue(&ring);
    assert_eq!(verify(&issued.token, &ring, at(1)).unwrap(), issued.claims);
    let (header, _, signature) = split(&issued.token);
    assert_eq!(header["alg"], "ES256");
    // JWS ES256 signatures are the 64-byte r || s, not DER.
    assert_eq!(signature.len(), 86);
}

#[test]
fn verification_through_a_published_jwks_works_like_the_ring() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let ring = common::ring(algorithm);
        let issued = issue(&ring);
        let jwks = JwkSet::from_json(&ring.jwks(now()).to_json().unwrap()).unwrap();
        let claims = verify_activation_token(
            &issued.token,
            &jwks,
            &common::issuer(),
            &common::audience(),
            at(1),
        )
        .unwrap();
        assert_eq!(claims, issued.claims);
    }
}

#[test]
fn claims_carry_the_contract_names_and_values() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let issued = issue(&ring);
    let (_, payload, _) = split(&issued.token);
    let object = payload.as_object().unwrap();
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "acr",
            "amr",
            "aud",
            "eid",
            "exp",
            "iat",
            "iccid_hash",
            "iss",
            "jti",
            "matching_id_hash",
            "nbf",
            "sub",
            "verification_id"
        ]
    );
    assert_eq!(payload["iss"], "https://simgate.carrier.example");
    assert_eq!(payload["aud"], "urn:carrier:provisioning");
    assert_eq!(payload["eid"], common::EID);
    assert_eq!(payload["amr"], json!(["doc", "face", "otp"]));
    assert_eq!(payload["acr"], "urn:simgate:acr:kiosk");
    assert_eq!(payload["verification_id"], "ver_01HZX3K8Q9");
    assert_eq!(payload["iat"], now().unix_timestamp());
    assert_eq!(payload["nbf"], now().unix_timestamp());
    assert_eq!(
        payload["exp"],
        now().unix_timestamp() + 600,
        "default lifetime is 10 minutes"
    );
    assert_eq!(issued.expires_at, now() + time::Duration::minutes(10));
    assert_eq!(payload["jti"], issued.jti.as_str());
    // Computed independently: `printf %s 89441100123456789014 | sha256sum`.
    assert_eq!(
        payload["iccid_hash"],
        "c2fbf17f6e32997ca50d511a4ee48f39196aaaa0bfecbad0fd5acc224590e4b6"
    );
    assert_eq!(payload["matching_id_hash"], MATCHING_ID_SHA256);
    assert!(
        issued
            .claims
            .matches_iccid(&Iccid::parse(common::ICCID).unwrap())
    );
    assert!(
        issued
            .claims
            .matches_matching_id(&MatchingId::parse(common::MATCHING_ID).unwrap())
    );
    assert!(
        !issued
            .claims
            .matches_matching_id(&MatchingId::parse("OTHER").unwrap())
    );
    let raw = serde_json::to_string(&payload).unwrap();
    assert!(!raw.contains(common::ICCID) && !raw.contains(common::MATCHING_ID));
    assert!(
        !raw.contains("1701234567"),
        "the MSISDN must not appear in the token"
    );
}

#[test]
fn hashes_are_only_present_when_given_and_one_binding_is_required() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let mut request = common::request();
    request.iccid = None;
    let issued = issue_activation_token(&ring, &request, now()).unwrap();
    let (_, payload, _) = split(&issued.token);
    assert!(payload.get("iccid_hash").is_none());
    assert!(payload.get("matching_id_hash").is_some());
    request.matching_id = None;
    let err = issue_activation_token(&ring, &request, now()).unwrap_err();
    assert!(matches!(err, TokenError::InvalidInput { .. }), "{err}");
}

#[test]
fn amr_must_not_be_empty_and_duplicates_are_dropped() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let mut request = common::request();
    request.amr = vec![
        AuthMethod::Doc,
        AuthMethod::Face,
        AuthMethod::Doc,
        AuthMethod::Sms,
    ];
    let issued = issue_activation_token(&ring, &request, now()).unwrap();
    assert_eq!(
        issued.claims.amr,
        [AuthMethod::Doc, AuthMethod::Face, AuthMethod::Sms]
    );
    request.amr.clear();
    assert!(issue_activation_token(&ring, &request, now()).is_err());
}

#[test]
fn jti_is_unique_per_token() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        assert!(seen.insert(issue(&ring).jti));
    }
}

#[test]
fn lifetime_is_configurable_within_bounds() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let mut request = common::request();
    request.lifetime = TokenLifetime::new(Duration::from_secs(120)).unwrap();
    let issued = issue_activation_token(&ring, &request, now()).unwrap();
    assert_eq!(issued.claims.exp - issued.claims.iat, 120);
    assert!(TokenLifetime::new(Duration::from_secs(5)).is_err());
    assert!(TokenLifetime::new(Duration::from_secs(2 * 3600)).is_err());
}

// ---------------------------------------------------------------------------------------------
// time checks against the caller's clock

#[test]
fn expired_token_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    let exact = Leeway::NONE;
    let verify_at = |t| {
        verify_activation_token_with_leeway(
            &token,
            &ring,
            &common::issuer(),
            &common::audience(),
            exact,
            t,
        )
    };
    assert!(verify_at(at(599)).is_ok());
    assert_eq!(verify_at(at(600)).unwrap_err(), TokenError::Expired);
    assert_eq!(
        verify(&token, &ring, at(3600)).unwrap_err(),
        TokenError::Expired
    );
}

#[test]
fn leeway_extends_expiry_only_by_its_few_seconds() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    // The default leeway is 5 s.
    assert!(verify(&token, &ring, at(604)).is_ok());
    assert_eq!(
        verify(&token, &ring, at(605)).unwrap_err(),
        TokenError::Expired
    );
    let thirty = Leeway::new(Duration::from_secs(30)).unwrap();
    let result = verify_activation_token_with_leeway(
        &token,
        &ring,
        &common::issuer(),
        &common::audience(),
        thirty,
        at(629),
    );
    assert!(result.is_ok());
    assert!(Leeway::new(Duration::from_secs(3600)).is_err());
}

#[test]
fn not_yet_valid_token_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    assert_eq!(
        verify(&token, &ring, at(-6)).unwrap_err(),
        TokenError::NotYetValid
    );
    assert!(
        verify(&token, &ring, at(-5)).is_ok(),
        "within the default leeway"
    );
}

#[test]
fn future_nbf_in_a_signed_token_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (header, mut payload, _) = split(&issue(&ring).token);
    payload["nbf"] = json!(now().unix_timestamp() + 300);
    let token = common::sign_with(ring.current(), &header, &payload);
    assert_eq!(
        verify(&token, &ring, at(60)).unwrap_err(),
        TokenError::NotYetValid
    );
    assert!(verify(&token, &ring, at(300)).is_ok());
}

#[test]
fn verification_uses_the_given_now_not_the_system_clock() {
    // Issued and checked in 2040: the system clock (earlier) must play no part.
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let future = time::macros::datetime!(2040-01-01 00:00:00 UTC);
    let issued = issue_activation_token(&ring, &common::request(), future).unwrap();
    let claims = verify(&issued.token, &ring, future + time::Duration::seconds(10)).unwrap();
    assert_eq!(claims.iat, future.unix_timestamp());
}

// ---------------------------------------------------------------------------------------------
// issuer, audience, type

#[test]
fn wrong_issuer_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    let other = Issuer::parse("https://evil.example").unwrap();
    let err =
        verify_activation_token(&token, &ring, &other, &common::audience(), at(1)).unwrap_err();
    assert_eq!(err, TokenError::WrongIssuer);
}

#[test]
fn wrong_audience_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    let other = Audience::parse("urn:other:provisioning").unwrap();
    let err = verify_activation_token(&token, &ring, &common::issuer(), &other, at(1)).unwrap_err();
    assert_eq!(err, TokenError::WrongAudience);
}

#[test]
fn wrong_typ_is_rejected_even_with_a_valid_signature() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (mut header, payload, _) = split(&issue(&ring).token);
    header["typ"] = json!("JWT");
    let token = common::sign_with(ring.current(), &header, &payload);
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::WrongType {
            found: Some("JWT".into())
        }
    );
}

#[test]
fn missing_typ_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (mut header, payload, _) = split(&issue(&ring).token);
    header.as_object_mut().unwrap().remove("typ");
    let token = common::sign_with(ring.current(), &header, &payload);
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::WrongType { found: None }
    );
}

#[test]
fn typ_with_application_prefix_and_other_case_is_accepted() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (mut header, payload, _) = split(&issue(&ring).token);
    header["typ"] = json!("application/ESIM-Activation+JWT");
    let token = common::sign_with(ring.current(), &header, &payload);
    assert!(verify(&token, &ring, at(1)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// algorithms and keys

#[test]
fn alg_none_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (mut header, payload, _) = split(&issue(&ring).token);
    header["alg"] = json!("none");
    for signature in ["", "AAAA"] {
        let token = assemble(&header, &payload, signature);
        assert_eq!(
            verify(&token, &ring, at(1)).unwrap_err(),
            TokenError::UnsupportedAlgorithm("none".into())
        );
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    // Classic algorithm confusion: an HMAC keyed with bytes the attacker can read from the JWKS.
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let ring = common::ring(algorithm);
        let (mut header, payload, _) = split(&issue(&ring).token);
        header["alg"] = json!("HS256");
        let public_bytes = match ring.current().public_key() {
            PublicKey::Ed25519(x) => x.to_vec(),
            PublicKey::P256 { x, y } => [&[4u8][..], x, y].concat(),
        };
        let jwks_json = ring.jwks(now()).to_json().unwrap();
        for hmac_key in [public_bytes, jwks_json.into_bytes()] {
            let unsigned = assemble(&header, &payload, "");
            let message = unsigned.trim_end_matches('.');
            let mut mac =
                <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(&hmac_key).unwrap();
            mac.update(message.as_bytes());
            let token = format!("{message}.{}", b64(&mac.finalize().into_bytes()));
            assert_eq!(
                verify(&token, &ring, at(1)).unwrap_err(),
                TokenError::UnsupportedAlgorithm("HS256".into()),
                "{algorithm}"
            );
        }
    }
}

#[test]
fn other_asymmetric_algorithms_are_rejected() {
    let ring = common::ring(SigningAlgorithm::ES256);
    let (mut header, payload, signature) = split(&issue(&ring).token);
    for alg in ["ES384", "RS256", "PS256", "Ed25519", "eddsa"] {
        header["alg"] = json!(alg);
        let token = assemble(&header, &payload, &signature);
        assert_eq!(
            verify(&token, &ring, at(1)).unwrap_err(),
            TokenError::UnsupportedAlgorithm(alg.into())
        );
    }
}

#[test]
fn algorithm_not_matching_the_key_is_rejected() {
    // A valid ES256 signature, but under the kid of an EdDSA key.
    let mut ring = common::ring(SigningAlgorithm::EdDSA);
    let ec_key = common::key(SigningAlgorithm::ES256);
    let ed_kid = ring.current().kid().clone();
    let (mut header, payload, _) = split(&issue(&ring).token);
    header["alg"] = json!("ES256");
    let token = common::sign_with(&ec_key, &header, &payload);
    ring.rotate(ec_key, now(), Duration::from_secs(3600))
        .unwrap();
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::AlgorithmMismatch {
            header: "ES256".into(),
            key: SigningAlgorithm::EdDSA
        }
    );
    assert_eq!(ring.previous()[0].key.kid(), &ed_kid);
}

#[test]
fn unknown_kid_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let stranger = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&stranger).token;
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::UnknownKey(stranger.current().kid().to_string())
    );
    let jwks = ring.jwks(now());
    let err = verify_activation_token(&token, &jwks, &common::issuer(), &common::audience(), at(1))
        .unwrap_err();
    assert!(matches!(err, TokenError::UnknownKey(_)), "{err}");
}

#[test]
fn missing_kid_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (mut header, payload, _) = split(&issue(&ring).token);
    header.as_object_mut().unwrap().remove("kid");
    let token = common::sign_with(ring.current(), &header, &payload);
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::MissingKeyId
    );
}

#[test]
fn signature_by_another_key_under_our_kid_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (header, payload, _) = split(&issue(&ring).token);
    let impostor = common::key(SigningAlgorithm::EdDSA);
    let token = common::sign_with(&impostor, &header, &payload);
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn crit_header_is_rejected() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let (mut header, payload, _) = split(&issue(&ring).token);
    header["crit"] = json!(["exp"]);
    let token = common::sign_with(ring.current(), &header, &payload);
    assert_eq!(
        verify(&token, &ring, at(1)).unwrap_err(),
        TokenError::CriticalHeader
    );
}

// ---------------------------------------------------------------------------------------------
// tampering

#[test]
fn every_changed_claim_breaks_the_signature() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let ring = common::ring(algorithm);
        let (header, payload, signature) = split(&issue(&ring).token);
        let changes = [
            ("sub", json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
            ("eid", json!("89049032123451234512345678901235")),
            ("exp", json!(now().unix_timestamp() + 86_400)),
            ("amr", json!(["doc", "face", "otp", "sms"])),
            ("acr", json!("urn:simgate:acr:other")),
            ("verification_id", json!("ver_other")),
            ("iccid_hash", json!("0".repeat(64))),
            ("jti", json!("AAAAAAAAAAAAAAAAAAAAAA")),
        ];
        for (claim, value) in changes {
            let mut forged = payload.clone();
            forged[claim] = value;
            let token = assemble(&header, &forged, &signature);
            assert_eq!(
                verify(&token, &ring, at(1)).unwrap_err(),
                TokenError::BadSignature,
                "{claim}"
            );
        }
    }
}

#[test]
fn one_flipped_payload_byte_breaks_the_signature() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    let (header, payload, signature) = split(&token);
    let text = serde_json::to_string(&payload).unwrap();
    let position = text.find("ver_").unwrap() + 4;
    let mut bytes = text.into_bytes();
    bytes[position] ^= 0x01;
    let forged = format!(
        "{}.{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&bytes),
        signature
    );
    assert_eq!(
        verify(&forged, &ring, at(1)).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn malformed_tokens_are_rejected_cleanly() {
    let ring = common::ring(SigningAlgorithm::EdDSA);
    let token = issue(&ring).token;
    let too_long = format!("{token}{}", "A".repeat(9000));
    for bad in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AAAA",
        "e30.e30.AAAA",
        &format!("{token}."),
        &too_long,
        &token.replacen('.', ".%%", 1),
    ] {
        let err = verify(bad, &ring, at(1)).unwrap_err();
        assert!(
            matches!(err, TokenError::Malformed(_) | TokenError::BadSignature),
            "{bad:.40}: {err:?}"
        );
    }
}

#[test]
fn truncated_signature_is_rejected() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let ring = common::ring(algorithm);
        let token = issue(&ring).token;
        let truncated = &token[..token.len() - 4];
        let err = verify(truncated, &ring, at(1)).unwrap_err();
        assert!(
            matches!(err, TokenError::BadSignature | TokenError::Malformed(_)),
            "{err:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// rotation and JWKS

#[test]
fn old_key_verifies_during_the_overlap_and_not_after_retirement() {
    let mut ring = common::ring(SigningAlgorithm::EdDSA);
    let old_kid = ring.current().kid().clone();
    let old_token = issue(&ring).token;
    ring.rotate(
        common::key(SigningAlgorithm::EdDSA),
        at(60),
        Duration::from_secs(900),
    )
    .unwrap();
    assert_ne!(ring.current().kid(), &old_kid);
    assert!(
        verify(&old_token, &ring, at(120)).is_ok(),
        "during the overlap"
    );

    // Past retire_at the key is refused even before retire_expired runs.
    let late = Leeway::new(Duration::from_secs(300)).unwrap();
    let result = verify_activation_token_with_leeway(
        &old_token,
        &ring,
        &common::issuer(),
        &common::audience(),
        late,
        at(960),
    );
    assert_eq!(result.unwrap_err(), TokenError::RetiredKey(old_kid.clone()));

    assert_eq!(ring.retire_expired(at(960)), vec![old_kid.clone()]);
    assert!(ring.previous().is_empty());
    let result = verify_activation_token_with_leeway(
        &old_token,
        &ring,
        &common::issuer(),
        &common::audience(),
        late,
        at(961),
    );
    assert_eq!(result.unwrap_err(), TokenError::RetiredKey(old_kid));
}

#[test]
fn new_tokens_are_signed_with_the_new_key_after_rotation() {
    let mut ring = common::ring(SigningAlgorithm::EdDSA);
    let new_key = common::key(SigningAlgorithm::ES256);
    let new_kid = new_key.kid().clone();
    ring.rotate(new_key, now(), Duration::from_secs(900))
        .unwrap();
    let issued = issue(&ring);
    let (header, _, _) = split(&issued.token);
    assert_eq!(header["kid"], new_kid.as_str());
    assert_eq!(header["alg"], "ES256");
    assert!(verify(&issued.token, &ring, at(1)).is_ok());
}

#[test]
fn jwks_lists_both_keys_during_the_overlap_and_only_the_new_one_after() {
    let mut ring = common::ring(SigningAlgorithm::EdDSA);
    let old_kid = ring.current().kid().clone();
    let old_token = issue(&ring).token;
    let new_key = common::key(SigningAlgorithm::EdDSA);
    let new_kid = new_key.kid().clone();
    ring.rotate(new_key, now(), Duration::from_secs(900))
        .unwrap();

    let during: Vec<_> = ring.jwks(at(899)).keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(
        during,
        [new_kid.clone(), old_kid.clone()],
        "current key first"
    );
    let after: Vec<_> = ring.jwks(at(900)).keys.into_iter().map(|k| k.kid).collect();
    assert_eq!(after, vec![new_kid]);

    // A verifier holding the JWKS published during the overlap accepts old tokens; one holding
    // the JWKS published after retirement does not.
    let jwks_during = ring.jwks(at(100));
    assert!(
        verify_activation_token(
            &old_token,
            &jwks_during,
            &common::issuer(),
            &common::audience(),
            at(100)
        )
        .is_ok()
    );
    let jwks_after = ring.jwks(at(900));
    let err = verify_activation_token(
        &old_token,
        &jwks_after,
        &common::issuer(),
        &common::audience(),
        at(100),
    )
    .unwrap_err();
    assert_eq!(err, TokenError::UnknownKey(old_kid.to_string()));
}

#[test]
fn rotating_to_a_key_already_in_the_ring_is_refused() {
    let mut ring = common::ring(SigningAlgorithm::EdDSA);
    let same = ring.current().clone();
    assert!(matches!(
        ring.rotate(same, now(), Duration::from_secs(60)),
        Err(TokenError::DuplicateKey(_))
    ));
}

#[test]
fn restore_rebuilds_a_ring_from_storage() {
    let mut ring = common::ring(SigningAlgorithm::EdDSA);
    ring.rotate(
        common::key(SigningAlgorithm::ES256),
        now(),
        Duration::from_secs(600),
    )
    .unwrap();
    let restored = KeyRing::restore(ring.current().clone(), ring.previous().to_vec()).unwrap();
    assert_eq!(restored.jwks(now()), ring.jwks(now()));
    let duplicate = KeyRing::restore(
        ring.current().clone(),
        vec![simgate_tokens::PreviousKey {
            key: ring.current().clone(),
            retire_at: at(60),
        }],
    );
    assert!(duplicate.is_err());
}

#[test]
fn reason_codes_are_stable() {
    assert_eq!(TokenError::Expired.reason_code(), "token_expired");
    assert_eq!(
        TokenError::BadSignature.reason_code(),
        "token_signature_invalid"
    );
    assert_eq!(
        TokenError::UnsupportedAlgorithm("none".into()).reason_code(),
        "token_algorithm_unsupported"
    );
}
