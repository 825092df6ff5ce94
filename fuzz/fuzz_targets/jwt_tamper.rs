//! Structured tampering with validly signed activation tokens: none of it may verify.
//!
//! Starts from a token the fixed ring signed (see `simgate_fuzz::token_fixture`) and applies a
//! fuzzer-chosen edit to the header (algorithm swaps to `none`, HMAC or the other asymmetric
//! algorithm, `kid`/`typ`/`crit` changes, arbitrary JSON), the payload (claim values, raw
//! bytes) and the signature (bit flips, truncation, another token's signature, an HMAC over
//! the signing input keyed with the public key or the JWKS: the algorithm-confusion attack).
//! Each tampered token goes through `verify_activation_token_with_leeway` at a fuzzed time and
//! leeway. Invariant: if it verifies, its header and payload are the original's byte for byte
//! (only the signature's encoding may differ, e.g. ECDSA's (r, n-s)), so no claim can be forged.

#![no_main]

use arbitrary::Arbitrary;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::{Sha256, Sha384, Sha512};
use simgate_fuzz::token_fixture;
use simgate_tokens::{Leeway, verify_activation_token_with_leeway};

#[derive(Debug, Arbitrary)]
enum Alg {
    None,
    NoneMixedCase,
    Hs256,
    Hs384,
    Hs512,
    EdDsa,
    Es256,
    Rs256,
    Raw(String),
}

impl Alg {
    fn name(&self) -> &str {
        match self {
            Self::None => "none",
            Self::NoneMixedCase => "nOnE",
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::Raw(name) => name,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum HeaderEdit {
    Keep,
    SetAlg(Alg),
    SetKid(String),
    OtherKeysKid,
    DropKid,
    SetTyp(String),
    DropTyp,
    AddCrit,
    SetField(String, String),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Claim {
    Iss,
    Aud,
    Sub,
    Iat,
    Nbf,
    Exp,
    Jti,
    Eid,
    IccidHash,
    MatchingIdHash,
    Acr,
    Amr,
    VerificationId,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum PayloadEdit {
    Keep,
    SetString(Claim, String),
    SetNumber(Claim, i64),
    Remove(Claim),
    FlipByte(u16, u8),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum SignatureEdit {
    Keep,
    Empty,
    FlipByte(u16, u8),
    Truncate(u16),
    OtherTokens,
    /// HMAC of the signing input with the signing key's JWK `x` (and `y`) as the secret.
    HmacWithPublicX,
    /// HMAC of the signing input with the whole JWKS JSON as the secret.
    HmacWithJwks,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
struct Tamper {
    token: u8,
    header: HeaderEdit,
    payload: PayloadEdit,
    signature: SignatureEdit,
    now_offset_secs: i32,
    leeway_secs: u8,
}

fn claim_name(claim: &Claim) -> &str {
    match claim {
        Claim::Iss => "iss",
        Claim::Aud => "aud",
        Claim::Sub => "sub",
        Claim::Iat => "iat",
        Claim::Nbf => "nbf",
        Claim::Exp => "exp",
        Claim::Jti => "jti",
        Claim::Eid => "eid",
        Claim::IccidHash => "iccid_hash",
        Claim::MatchingIdHash => "matching_id_hash",
        Claim::Acr => "acr",
        Claim::Amr => "amr",
        Claim::VerificationId => "verification_id",
        Claim::Other(name) => name,
    }
}

fn decode_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serialisable"))
}

fn hmac(alg: &str, key: &[u8], input: &[u8]) -> Vec<u8> {
    macro_rules! mac {
        ($hash:ty) => {{
            let mut mac = Hmac::<$hash>::new_from_slice(key).expect("any key length");
            mac.update(input);
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        "HS384" => mac!(Sha384),
        "HS512" => mac!(Sha512),
        _ => mac!(Sha256),
    }
}

fuzz_target!(|tamper: Tamper| {
    let fixture = token_fixture();
    let index = usize::from(tamper.token) % fixture.tokens.len();
    let original = &fixture.tokens[index].token;
    let parts: Vec<&str> = original.split('.').collect();
    let (header_part, payload_part, signature_part) = (parts[0], parts[1], parts[2]);

    let mut header = decode_json(header_part);
    let new_header = match &tamper.header {
        HeaderEdit::Keep => header_part.to_owned(),
        HeaderEdit::Raw(bytes) => URL_SAFE_NO_PAD.encode(bytes),
        edit => {
            let object = header.as_object_mut().expect("a JSON object header");
            match edit {
                HeaderEdit::SetAlg(alg) => {
                    object.insert("alg".into(), alg.name().into());
                }
                HeaderEdit::SetKid(kid) => {
                    object.insert("kid".into(), kid.as_str().into());
                }
                HeaderEdit::OtherKeysKid => {
                    let other = &fixture.jwks.keys[(index + 1) % fixture.jwks.keys.len()];
                    object.insert("kid".into(), other.kid.as_str().into());
                }
                HeaderEdit::DropKid => {
                    object.remove("kid");
                }
                HeaderEdit::SetTyp(typ) => {
                    object.insert("typ".into(), typ.as_str().into());
                }
                HeaderEdit::DropTyp => {
                    object.remove("typ");
                }
                HeaderEdit::AddCrit => {
                    object.insert("crit".into(), serde_json::json!(["exp"]));
                }
                HeaderEdit::SetField(name, value) => {
                    object.insert(name.clone(), value.as_str().into());
                }
                HeaderEdit::Keep | HeaderEdit::Raw(_) => unreachable!(),
            }
            encode_json(&header)
        }
    };

    let new_payload = match &tamper.payload {
        PayloadEdit::Keep => payload_part.to_owned(),
        PayloadEdit::FlipByte(position, mask) => {
            let mut bytes = URL_SAFE_NO_PAD.decode(payload_part).expect("base64url");
            let position = usize::from(*position) % bytes.len();
            bytes[position] ^= mask;
            URL_SAFE_NO_PAD.encode(bytes)
        }
        PayloadEdit::Raw(bytes) => URL_SAFE_NO_PAD.encode(bytes),
        edit => {
            let mut payload = decode_json(payload_part);
            let object = payload.as_object_mut().expect("a JSON object payload");
            match edit {
                PayloadEdit::SetString(claim, value) => {
                    object.insert(claim_name(claim).to_owned(), value.as_str().into());
                }
                PayloadEdit::SetNumber(claim, value) => {
                    object.insert(claim_name(claim).to_owned(), (*value).into());
                }
                PayloadEdit::Remove(claim) => {
                    object.remove(claim_name(claim));
                }
                _ => unreachable!(),
            }
            encode_json(&payload)
        }
    };

    let signing_input = format!("{new_header}.{new_payload}");
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("HS256")
        .to_owned();
    let new_signature = match &tamper.signature {
        SignatureEdit::Keep => signature_part.to_owned(),
        SignatureEdit::Empty => String::new(),
        SignatureEdit::FlipByte(position, mask) => {
            let mut bytes = URL_SAFE_NO_PAD.decode(signature_part).expect("base64url");
            let position = usize::from(*position) % bytes.len();
            bytes[position] ^= mask;
            URL_SAFE_NO_PAD.encode(bytes)
        }
        SignatureEdit::Truncate(length) => {
            signature_part[..usize::from(*length) % (signature_part.len() + 1)].to_owned()
        }
        SignatureEdit::OtherTokens => fixture.tokens[(index + 1) % fixture.tokens.len()]
            .token
            .rsplit('.')
            .next()
            .expect("a signature part")
            .to_owned(),
        SignatureEdit::HmacWithPublicX => {
            let jwk = &fixture.jwks.keys[index % fixture.jwks.keys.len()];
            let secret = format!("{}{}", jwk.x, jwk.y.as_deref().unwrap_or(""));
            URL_SAFE_NO_PAD.encode(hmac(&alg, secret.as_bytes(), signing_input.as_bytes()))
        }
        SignatureEdit::HmacWithJwks => {
            let secret = fixture.jwks.to_json().expect("JWKS JSON");
            URL_SAFE_NO_PAD.encode(hmac(&alg, secret.as_bytes(), signing_input.as_bytes()))
        }
        SignatureEdit::Raw(text) => text.clone(),
    };
    let token = format!("{signing_input}.{new_signature}");

    let leeway = Leeway::new(std::time::Duration::from_secs(u64::from(
        tamper.leeway_secs,
    )))
    .unwrap_or_default();
    let now = fixture.now + time::Duration::seconds(i64::from(tamper.now_offset_secs));
    if let Ok(claims) = verify_activation_token_with_leeway(
        &token,
        &fixture.ring,
        &fixture.issuer,
        &fixture.audience,
        leeway,
        now,
    ) {
        assert_eq!(
            signing_input,
            format!("{header_part}.{payload_part}"),
            "a tampered header or payload verified: {tamper:?}"
        );
        assert_eq!(claims, fixture.tokens[index].claims);
    }
});
