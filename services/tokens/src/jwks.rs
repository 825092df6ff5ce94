//! JSON Web Key Sets: the public keys provisioning systems verify activation tokens with.
//!
//! - [`Jwk`] / [`JwkSet`]: serde types for `{"keys":[{kty,crv,x,(y),kid,alg,use:"sig"}]}`.
//! - [`VerificationKey`]: a validated public key with its id, the form verification works on.
//! - [`VerificationKeySource`]: "give me the key for this `kid` at this instant"; implemented by
//!   the issuer's own [`crate::KeyRing`] and by a [`JwkSet`] fetched from simgate, so the same
//!   verification code serves both sides.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::TokenError;
use crate::keys::{KeyId, PublicKey, SigningAlgorithm};

/// A JWK key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// Octet key pair (RFC 8037), used for Ed25519.
    #[serde(rename = "OKP")]
    Okp,
    /// Elliptic curve (RFC 7518), used for P-256.
    #[serde(rename = "EC")]
    Ec,
}

/// A JWK curve name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Curve {
    /// Edwards curve 25519 for EdDSA.
    Ed25519,
    /// NIST P-256 for ES256.
    #[serde(rename = "P-256")]
    P256,
}

/// A JWK's intended use; simgate's keys only sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyUse {
    /// Signature verification.
    #[serde(rename = "sig")]
    Signature,
}

/// One public key in a JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP` or `EC`.
    pub kty: KeyType,
    /// Curve: `Ed25519` or `P-256`.
    pub crv: Curve,
    /// Public key (OKP) or x coordinate (EC), base64url without padding.
    pub x: String,
    /// The y coordinate for EC keys, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Key id, matched against the token header's `kid`.
    pub kid: KeyId,
    /// The only algorithm this key may be used with.
    pub alg: SigningAlgorithm,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: KeyUse,
}

impl Jwk {
    /// The JWK for a public key under the given id.
    pub fn from_public_key(kid: KeyId, public: &PublicKey) -> Self {
        match public {
            PublicKey::Ed25519(x) => Self {
                kty: KeyType::Okp,
                crv: Curve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(x),
                y: None,
                kid,
                alg: SigningAlgorithm::EdDSA,
                key_use: KeyUse::Signature,
            },
            PublicKey::P256 { x, y } => Self {
                kty: KeyType::Ec,
                crv: Curve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: Some(URL_SAFE_NO_PAD.encode(y)),
                kid,
                alg: SigningAlgorithm::ES256,
                key_use: KeyUse::Signature,
            },
        }
    }

    /// Checks that type, curve, algorithm and coordinates agree, and decodes the public key.
    pub fn to_verification_key(&self) -> Result<VerificationKey, TokenError> {
        let public = match (self.kty, self.crv, self.alg) {
            (KeyType::Okp, Curve::Ed25519, SigningAlgorithm::EdDSA) => {
                if self.y.is_some() {
                    return Err(TokenError::InvalidKey(
                        "an OKP key has no y coordinate".into(),
                    ));
                }
                PublicKey::ed25519(&decode_coordinate(&self.x)?)?
            }
            (KeyType::Ec, Curve::P256, SigningAlgorithm::ES256) => {
                let y = self.y.as_deref().ok_or_else(|| {
                    TokenError::InvalidKey("an EC key needs a y coordinate".into())
                })?;
                PublicKey::p256(&decode_coordinate(&self.x)?, &decode_coordinate(y)?)?
            }
            (kty, crv, alg) => {
                return Err(TokenError::InvalidKey(format!(
                    "kty {kty:?}, crv {crv:?} and alg {alg} do not belong together"
                )));
            }
        };
        Ok(VerificationKey {
            kid: self.kid.clone(),
            public,
        })
    }
}

/// A JSON Web Key Set as served at the JWKS endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, current first.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWKS document, e.g. one fetched from simgate by a provisioning system.
    pub fn from_json(json: &str) -> Result<Self, TokenError> {
        serde_json::from_str(json).map_err(|e| TokenError::invalid("JWKS", e.to_string()))
    }

    /// Renders the set as JSON for the JWKS endpoint.
    pub fn to_json(&self) -> Result<String, TokenError> {
        serde_json::to_string(self).map_err(|e| TokenError::invalid("JWKS", e.to_string()))
    }
}

/// A validated public key with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationKey {
    /// The key id tokens name in their header.
    pub kid: KeyId,
    /// The public key itself; its type fixes the only acceptable algorithm.
    pub public: PublicKey,
}

impl VerificationKey {
    /// The only algorithm tokens verified with this key may use.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.public.algorithm()
    }
}

/// Where verification looks up the key a token's `kid` names.
pub trait VerificationKeySource {
    /// The key for `kid` if it may verify tokens at `now`; else why not.
    fn verification_key(
        &self,
        kid: &KeyId,
        now: OffsetDateTime,
    ) -> Result<VerificationKey, TokenError>;
}

impl VerificationKeySource for JwkSet {
    fn verification_key(
        &self,
        kid: &KeyId,
        _now: OffsetDateTime,
    ) -> Result<VerificationKey, TokenError> {
        // A published set already leaves retired keys out, so absence is the only signal here.
        self.keys
            .iter()
            .find(|jwk| &jwk.kid == kid)
            .ok_or_else(|| TokenError::UnknownKey(kid.to_string()))?
            .to_verification_key()
    }
}

fn decode_coordinate(value: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| TokenError::InvalidKey("key coordinate is not base64url".into()))
}
