//! Signing keys: RFC 8037 / RFC 7638 vectors, PKCS#8 round trips, redaction, JWK conversion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use simgate_tokens::{Jwk, JwkSet, KeyId, PublicKey, SigningAlgorithm, SigningKey, TokenError};

// RFC 8037 appendix A.1 (private key d, public key x) and A.3 (thumbprint).
const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
// RFC 8037 appendix A.4: the JWS signing input and its Ed25519 signature.
const RFC8037_SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const RFC8037_SIGNATURE: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn rfc8037_key() -> SigningKey {
    let seed = URL_SAFE_NO_PAD.decode(RFC8037_D).unwrap();
    SigningKey::from_secret_bytes(SigningAlgorithm::EdDSA, &seed, common::now()).unwrap()
}

#[test]
fn rfc8037_key_has_the_rfc_public_key_and_thumbprint_kid() {
    let key = rfc8037_key();
    let PublicKey::Ed25519(x) = key.public_key() else {
        panic!("not Ed25519")
    };
    assert_eq!(URL_SAFE_NO_PAD.encode(x), RFC8037_X);
    assert_eq!(key.kid().as_str(), RFC8037_THUMBPRINT);
}

#[test]
fn rfc8037_signature_vector_from_exported_pkcs8() {
    let der = rfc8037_key().to_pkcs8_der();
    let dalek = ed25519_dalek::SigningKey::from_pkcs8_der(&der).unwrap();
    let signature = dalek.sign(RFC8037_SIGNING_INPUT.as_bytes());
    assert_eq!(
        URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        RFC8037_SIGNATURE
    );
}

#[test]
fn thumbprints_match_jsonwebtoken_for_both_algorithms() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let key = common::key(algorithm);
        let ours = Jwk::from_public_key(key.kid().clone(), key.public_key());
        let theirs: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(&ours).unwrap()).unwrap();
        let expected = theirs
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap();
        assert_eq!(key.kid().as_str(), expected, "{algorithm}");
    }
}

#[test]
fn pkcs8_der_round_trip_keeps_kid_and_algorithm() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let key = common::key(algorithm);
        let imported = SigningKey::from_pkcs8_der(&key.to_pkcs8_der(), common::now()).unwrap();
        assert_eq!(imported.kid(), key.kid());
        assert_eq!(imported.algorithm(), algorithm);
        assert_eq!(imported.public_key(), key.public_key());
    }
}

#[test]
fn pkcs8_pem_round_trip_keeps_kid() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let key = common::key(algorithm);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{algorithm}"
        );
        // Secrets mounted from files often end with a newline or have surrounding whitespace.
        let imported = SigningKey::from_pkcs8_pem(&format!("\n{}\n", *pem), common::now()).unwrap();
        assert_eq!(imported.kid(), key.kid());
    }
}

#[test]
fn openssl_generated_pem_keys_import() {
    // `openssl genpkey -algorithm ed25519` and `openssl genpkey -algorithm EC -pkeyopt
    // ec_paramgen_curve:P-256` output, so keys made outside simgate are accepted.
    let ed25519 = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEmbY4RBJxYGXSDyOC4S98u7wqvd0hYXrBarKBQUiTVB\n-----END PRIVATE KEY-----\n";
    let key = SigningKey::from_pkcs8_pem(ed25519, common::now()).unwrap();
    assert_eq!(key.algorithm(), SigningAlgorithm::EdDSA);
    let p256 = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcEZ0a/l9M+6s6kdA\n4uvAH8BmCgPMi0GcDpYvndUu4dyhRANCAASvy2AyIWuMJbhPmTBG7FMkdYVnDxwi\nIoO1KQYuJIok5k63aZcEoZqwmK38f1UXq98QlxZ10fnkfVPpYUtZPBhW\n-----END PRIVATE KEY-----\n";
    let key = SigningKey::from_pkcs8_pem(p256, common::now()).unwrap();
    assert_eq!(key.algorithm(), SigningAlgorithm::ES256);
}

#[test]
fn import_rejects_garbage_and_wrong_pem_labels() {
    assert!(matches!(
        SigningKey::from_pkcs8_der(b"not a key", common::now()),
        Err(TokenError::InvalidKey(_))
    ));
    let public_pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n";
    let err = SigningKey::from_pkcs8_pem(public_pem, common::now()).unwrap_err();
    assert!(err.to_string().contains("PRIVATE KEY"), "{err}");
    assert!(
        SigningKey::from_secret_bytes(SigningAlgorithm::EdDSA, &[1; 31], common::now()).is_err()
    );
    assert!(
        SigningKey::from_secret_bytes(SigningAlgorithm::ES256, &[0; 32], common::now()).is_err()
    );
}

#[test]
fn generated_keys_are_distinct_and_keep_created_at() {
    let a = common::key(SigningAlgorithm::EdDSA);
    let b = common::key(SigningAlgorithm::EdDSA);
    assert_ne!(a.kid(), b.kid());
    assert_eq!(a.created_at(), common::now());
    assert_eq!(a.kid().as_str().len(), 43);
}

#[test]
fn debug_output_redacts_private_material() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let key = common::key(algorithm);
        let debug = format!("{key:?}");
        assert!(debug.contains("[redacted]"), "{debug}");
        let der = key.to_pkcs8_der();
        let der_hex = hex::encode(&*der);
        assert!(!debug.contains(&der_hex[der_hex.len() - 16..]), "{debug}");
        assert!(
            !debug.contains(&format!("{:?}", &der[der.len() - 8..])),
            "{debug}"
        );
    }
}

#[test]
fn jwk_round_trip_and_consistency_checks() {
    for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
        let key = common::key(algorithm);
        let jwk = Jwk::from_public_key(key.kid().clone(), key.public_key());
        let verification = jwk.to_verification_key().unwrap();
        assert_eq!(&verification.public, key.public_key());
        assert_eq!(verification.algorithm(), algorithm);
    }
    let key = common::key(SigningAlgorithm::ES256);
    let mut jwk = Jwk::from_public_key(key.kid().clone(), key.public_key());
    jwk.alg = SigningAlgorithm::EdDSA;
    assert!(jwk.to_verification_key().is_err(), "EC key labelled EdDSA");
    let mut jwk = Jwk::from_public_key(key.kid().clone(), key.public_key());
    jwk.y = Some(URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert!(jwk.to_verification_key().is_err(), "point not on the curve");
    let set =
        JwkSet::from_json(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x","alg":"HS256"}]}"#);
    assert!(set.is_err(), "symmetric keys are not accepted in a JWKS");
}

#[test]
fn jwks_json_has_the_documented_shape() {
    let ed = common::key(SigningAlgorithm::EdDSA);
    let ec = common::key(SigningAlgorithm::ES256);
    let set = JwkSet {
        keys: vec![
            Jwk::from_public_key(ed.kid().clone(), ed.public_key()),
            Jwk::from_public_key(ec.kid().clone(), ec.public_key()),
        ],
    };
    let json: serde_json::Value = serde_json::from_str(&set.to_json().unwrap()).unwrap();
    let okp = &json["keys"][0];
    assert_eq!(okp["kty"], "OKP");
    assert_eq!(okp["crv"], "Ed25519");
    assert_eq!(okp["alg"], "EdDSA");
    assert_eq!(okp["use"], "sig");
    assert_eq!(okp["kid"], ed.kid().as_str());
    assert!(okp.get("y").is_none());
    let ec_json = &json["keys"][1];
    assert_eq!(ec_json["kty"], "EC");
    assert_eq!(ec_json["crv"], "P-256");
    assert_eq!(ec_json["alg"], "ES256");
    assert_eq!(ec_json["x"].as_str().unwrap().len(), 43);
    assert_eq!(ec_json["y"].as_str().unwrap().len(), 43);
    assert_eq!(JwkSet::from_json(&set.to_json().unwrap()).unwrap(), set);
    assert!(KeyId::parse("has space").is_err());
}
