//! Independent check: PyJWT (with `cryptography`) verifies simgate's EdDSA and ES256 tokens
//! against simgate's JWKS, and rejects a token whose claims were changed by one byte.
//!
//! Runs `<repo>/.venv/bin/python`, which `make setup` creates from models/requirements.txt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use simgate_tokens::{KeyRing, SigningAlgorithm, issue_activation_token};
use time::OffsetDateTime;

const VERIFY_SCRIPT: &str = r#"
import json, sys
import jwt

with open(sys.argv[1]) as f:
    data = json.load(f)
jwks = jwt.PyJWKSet.from_dict(data["jwks"])
results = {}
for name, token in data["tokens"].items():
    try:
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(
            token,
            jwks[kid],
            algorithms=["EdDSA", "ES256"],
            audience=data["audience"],
            issuer=data["issuer"],
        )
        results[name] = {"ok": True, "claims": claims}
    except Exception as error:
        results[name] = {"ok": False, "error": type(error).__name__, "detail": str(error)}
print(json.dumps({"pyjwt": jwt.__version__, "results": results}))
"#;

fn venv_python() -> PathBuf {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = repo.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make setup` (it creates .venv with PyJWT from models/requirements.txt)",
        python.display()
    );
    python
}

/// Changes one byte inside the `verification_id` claim and keeps header and signature.
fn tamper_one_claim_byte(token: &str) -> String {
    let (header, payload, signature) = common::split(token);
    let text = serde_json::to_string(&payload).unwrap();
    let position = text.find("ver_").unwrap() + 4;
    let mut bytes = text.into_bytes();
    bytes[position] ^= 0x01;
    format!(
        "{}.{}.{}",
        common::b64(&serde_json::to_vec(&header).unwrap()),
        common::b64(&bytes),
        signature
    )
}

#[test]
fn pyjwt_verifies_eddsa_and_es256_tokens_and_rejects_a_changed_claim() {
    let python = venv_python();
    // PyJWT checks exp and nbf against the real clock, so these tokens are issued "now".
    let now = OffsetDateTime::now_utc();
    let mut ring =
        KeyRing::new(simgate_tokens::SigningKey::generate(SigningAlgorithm::EdDSA, now).unwrap());
    let eddsa = issue_activation_token(&ring, &common::request(), now).unwrap();
    let es256_key = simgate_tokens::SigningKey::generate(SigningAlgorithm::ES256, now).unwrap();
    ring.rotate(es256_key, now, Duration::from_secs(900))
        .unwrap();
    let es256 = issue_activation_token(&ring, &common::request(), now).unwrap();

    let input = json!({
        "jwks": serde_json::from_str::<Value>(&ring.jwks(now).to_json().unwrap()).unwrap(),
        "issuer": common::issuer().as_str(),
        "audience": common::audience().as_str(),
        "tokens": {
            "eddsa": eddsa.token,
            "es256": es256.token,
            "eddsa_tampered": tamper_one_claim_byte(&eddsa.token),
            "es256_tampered": tamper_one_claim_byte(&es256.token),
        },
    });
    let dir = tempfile::tempdir().unwrap();
    let input_path = dir.path().join("input.json");
    let script_path = dir.path().join("verify.py");
    std::fs::write(&input_path, serde_json::to_vec_pretty(&input).unwrap()).unwrap();
    std::fs::write(&script_path, VERIFY_SCRIPT).unwrap();

    let output = Command::new(&python)
        .arg(&script_path)
        .arg(&input_path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "PyJWT check failed ({}); if `import jwt` failed, run `make setup`:\n{stderr}",
        output.status
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = &report["results"];

    for (name, issued) in [("eddsa", &eddsa), ("es256", &es256)] {
        assert_eq!(results[name]["ok"], true, "{name}: {}", results[name]);
        let expected = serde_json::to_value(&issued.claims).unwrap();
        assert_eq!(results[name]["claims"], expected, "{name}");
    }
    for name in ["eddsa_tampered", "es256_tampered"] {
        assert_eq!(results[name]["ok"], false, "{name} was accepted by PyJWT");
        assert_eq!(
            results[name]["error"], "InvalidSignatureError",
            "{name}: {}",
            results[name]
        );
    }
}
