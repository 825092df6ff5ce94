//! Issuing and verifying activation JWTs.
//!
//! [`issue_activation_token`] signs [`ActivationClaims`] with the key ring's current key under the
//! header `{alg, kid, typ: "esim-activation+jwt"}`.
//!
//! [`verify_activation_token`] checks, in this order, before trusting anything in the payload:
//! 1. shape: three base64url parts, bounded size, a JSON header without `crit`;
//! 2. `alg` is EdDSA or ES256 (so `none` and HMAC algorithms, the alg-confusion vector, never
//!    reach a verifier) and `typ` is `esim-activation+jwt` (so other JWTs signed by the same key
//!    cannot be replayed as activation tokens);
//! 3. `kid` names a live key (unknown and retired keys are told apart) whose algorithm is `alg`;
//! 4. the signature, through `jsonwebtoken` with its own time checks off, because it reads the
//!    system clock and this crate must use the caller's `now`;
//! 5. `iss`, `aud`, then `exp` / `nbf` / `iat` against `now` with a small [`Leeway`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::claims::{ActivationClaims, ActivationRequest, Audience, Issuer, Leeway, TokenId};
use crate::error::TokenError;
use crate::jwks::VerificationKeySource;
use crate::keyring::{KeyRing, add_duration};
use crate::keys::{KeyId, SigningAlgorithm};

/// The JWS `typ` header of every activation token.
pub const TOKEN_TYPE: &str = "esim-activation+jwt";

/// Longest token accepted for verification; real ones are well under 1 KiB.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// A freshly signed token with the values callers store for revocation and audit.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWS.
    pub token: String,
    /// The token's unique id (`jti`).
    pub jti: TokenId,
    /// When the token stops verifying (`exp`).
    pub expires_at: OffsetDateTime,
    /// The signed claims.
    pub claims: ActivationClaims,
}

/// Signs an activation token with the ring's current key, valid from `now` for the lifetime.
pub fn issue_activation_token(
    ring: &KeyRing,
    request: &ActivationRequest,
    now: OffsetDateTime,
) -> Result<IssuedToken, TokenError> {
    if request.iccid.is_none() && request.matching_id.is_none() {
        // A token bound to no profile could release any profile for this EID.
        return Err(TokenError::invalid(
            "activation request",
            "needs an ICCID or a matching id to bind the token to a profile",
        ));
    }
    if request.amr.is_empty() {
        return Err(TokenError::invalid(
            "activation request",
            "amr lists no passed check",
        ));
    }
    let mut amr = Vec::with_capacity(request.amr.len());
    for method in &request.amr {
        if !amr.contains(method) {
            amr.push(*method);
        }
    }

    let expires_at = add_duration(now, request.lifetime.as_duration(), "token lifetime")?;
    let jti = TokenId::generate();
    let claims = ActivationClaims {
        iss: request.issuer.clone(),
        aud: request.audience.clone(),
        sub: request.subject.clone(),
        iat: now.unix_timestamp(),
        nbf: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
        jti: jti.clone(),
        eid: request.eid.clone(),
        iccid_hash: request.iccid.as_ref().map(|iccid| iccid.sha256_hex()),
        matching_id_hash: request.matching_id.as_ref().map(|id| id.sha256_hex()),
        acr: request.acr.clone(),
        amr,
        verification_id: request.verification_id.clone(),
    };

    let key = ring.current();
    let mut header = jsonwebtoken::Header::new(key.algorithm().jsonwebtoken());
    header.typ = Some(TOKEN_TYPE.to_owned());
    header.kid = Some(key.kid().to_string());
    let token = jsonwebtoken::encode(&header, &claims, &key.encoding_key())
        .map_err(|e| TokenError::Signing(e.to_string()))?;
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
        .map_err(|e| TokenError::Signing(e.to_string()))?;
    Ok(IssuedToken {
        token,
        jti,
        expires_at,
        claims,
    })
}

/// Verifies a token against `keys` at `now` with the default [`Leeway`]; see the module docs.
pub fn verify_activation_token(
    token: &str,
    keys: &impl VerificationKeySource,
    expected_issuer: &Issuer,
    expected_audience: &Audience,
    now: OffsetDateTime,
) -> Result<ActivationClaims, TokenError> {
    verify_activation_token_with_leeway(
        token,
        keys,
        expected_issuer,
        expected_audience,
        Leeway::default(),
        now,
    )
}

/// Verifies a token like [`verify_activation_token`], with an explicit clock-skew leeway.
pub fn verify_activation_token_with_leeway(
    token: &str,
    keys: &impl VerificationKeySource,
    expected_issuer: &Issuer,
    expected_audience: &Audience,
    leeway: Leeway,
    now: OffsetDateTime,
) -> Result<ActivationClaims, TokenError> {
    let header = UntrustedHeader::parse(token)?;
    let algorithm = SigningAlgorithm::from_jws_name(&header.alg)?;
    if !header.typ.as_deref().is_some_and(is_activation_type) {
        // The value is attacker-chosen and ends up in logs, so only a short prefix is kept.
        let found = header.typ.map(|typ| typ.chars().take(64).collect());
        return Err(TokenError::WrongType { found });
    }
    if header.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    let kid = header.kid.as_deref().ok_or(TokenError::MissingKeyId)?;
    let kid = KeyId::parse(kid).map_err(|_| TokenError::UnknownKey("<malformed>".to_owned()))?;
    let key = keys.verification_key(&kid, now)?;
    if key.algorithm() != algorithm {
        return Err(TokenError::AlgorithmMismatch {
            header: header.alg,
            key: key.algorithm(),
        });
    }

    let mut validation = jsonwebtoken::Validation::new(algorithm.jsonwebtoken());
    // Time, issuer and audience are checked below against the caller's clock and values.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims =
        jsonwebtoken::decode::<ActivationClaims>(token, &key.public.decoding_key(), &validation)
            .map_err(map_jsonwebtoken_error)?
            .claims;

    if &claims.iss != expected_issuer {
        return Err(TokenError::WrongIssuer);
    }
    if &claims.aud != expected_audience {
        return Err(TokenError::WrongAudience);
    }
    check_times(&claims, leeway, now)?;
    Ok(claims)
}

fn check_times(
    claims: &ActivationClaims,
    leeway: Leeway,
    now: OffsetDateTime,
) -> Result<(), TokenError> {
    if claims.exp <= claims.nbf || claims.exp <= claims.iat {
        return Err(TokenError::Malformed("exp is not after nbf and iat".into()));
    }
    let now = now.unix_timestamp();
    let leeway = leeway.as_secs();
    // RFC 7519 §4.1.4: the token must not be accepted on or after exp.
    if now >= claims.exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    if now.saturating_add(leeway) < claims.nbf || now.saturating_add(leeway) < claims.iat {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

fn is_activation_type(typ: &str) -> bool {
    // RFC 7515 §4.1.9: typ compares case-insensitively and may carry the "application/" prefix.
    let lower = typ.to_ascii_lowercase();
    lower.strip_prefix("application/").unwrap_or(&lower) == TOKEN_TYPE
}

/// The header fields read before the signature is checked; nothing here is trusted yet.
#[derive(Deserialize)]
struct UntrustedHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl UntrustedHeader {
    fn parse(token: &str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed(format!(
                "longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(_payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "not three dot-separated parts".into(),
            ));
        };
        let json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenError::Malformed("header is not base64url".into()))?;
        serde_json::from_slice(&json)
            .map_err(|e| TokenError::Malformed(format!("header is not a JWS header: {e}")))
    }
}

fn map_jsonwebtoken_error(error: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidEddsaKey | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidKeyFormat => {
            TokenError::InvalidKey(error.to_string())
        }
        _ => TokenError::Malformed(error.to_string()),
    }
}
