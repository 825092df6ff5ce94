//! Signing keys: generation, PKCS#8 import and export, public keys and their RFC 7638 key ids.
//!
//! - [`SigningAlgorithm`]: the two JWS algorithms simgate signs with (EdDSA by default, ES256).
//! - [`KeyId`]: a key's `kid`, the RFC 7638 JWK SHA-256 thumbprint of its public key, so the same
//!   key always gets the same id wherever it is imported.
//! - [`PublicKey`]: the raw public key (Ed25519 point, or P-256 affine coordinates).
//! - [`SigningKey`]: private key material plus its id, algorithm and creation time. The PKCS#8
//!   bytes are zeroized on drop and never appear in `Debug` output.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::TokenError;

/// A JWS algorithm simgate signs activation tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// Ed25519 signatures (RFC 8037); the default.
    #[default]
    EdDSA,
    /// ECDSA over P-256 with SHA-256, for verifiers without Ed25519 support.
    ES256,
}

impl SigningAlgorithm {
    /// The algorithm's name as written in a JWS `alg` header and a JWK `alg` member.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
        }
    }

    /// Parses a JWS `alg` value; every algorithm outside this crate's two is refused.
    pub fn from_jws_name(name: &str) -> Result<Self, TokenError> {
        match name {
            "EdDSA" => Ok(Self::EdDSA),
            "ES256" => Ok(Self::ES256),
            other => Err(TokenError::UnsupportedAlgorithm(other.to_owned())),
        }
    }

    pub(crate) fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlgorithm {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_jws_name(s)
    }
}

/// A key id (`kid`): printable, at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// Longest accepted key id; thumbprints are 43 characters, foreign ids may be longer.
    pub const MAX_LEN: usize = 128;

    /// Validates a key id taken from a token header, a JWKS or storage.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(TokenError::invalid(
                "key id",
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !value.chars().all(|c| c.is_ascii_graphic()) {
            return Err(TokenError::invalid(
                "key id",
                "must be printable ASCII without spaces",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The key id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for KeyId {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<KeyId> for String {
    fn from(value: KeyId) -> Self {
        value.0
    }
}

/// A public verification key in raw form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// An Ed25519 public key (32 bytes, RFC 8032 encoding).
    Ed25519([u8; 32]),
    /// A P-256 public key as affine coordinates, each 32 big-endian bytes.
    P256 {
        /// The x coordinate.
        x: [u8; 32],
        /// The y coordinate.
        y: [u8; 32],
    },
}

impl PublicKey {
    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> SigningAlgorithm {
        match self {
            Self::Ed25519(_) => SigningAlgorithm::EdDSA,
            Self::P256 { .. } => SigningAlgorithm::ES256,
        }
    }

    /// Builds an Ed25519 key, refusing byte strings that are not a curve point.
    pub fn ed25519(bytes: &[u8]) -> Result<Self, TokenError> {
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TokenError::InvalidKey("an Ed25519 public key is 32 bytes".into()))?;
        ed25519_dalek::VerifyingKey::from_bytes(&raw)
            .map_err(|_| TokenError::InvalidKey("not an Ed25519 public key".into()))?;
        Ok(Self::Ed25519(raw))
    }

    /// Builds a P-256 key, refusing coordinates that are not a point on the curve.
    pub fn p256(x: &[u8], y: &[u8]) -> Result<Self, TokenError> {
        let length_error = || TokenError::InvalidKey("P-256 coordinates are 32 bytes each".into());
        let x: [u8; 32] = x.try_into().map_err(|_| length_error())?;
        let y: [u8; 32] = y.try_into().map_err(|_| length_error())?;
        let key = Self::P256 { x, y };
        p256::PublicKey::from_sec1_bytes(&key.verifier_bytes())
            .map_err(|_| TokenError::InvalidKey("not a point on P-256".into()))?;
        Ok(key)
    }

    /// The RFC 7638 JWK SHA-256 thumbprint, base64url without padding.
    pub fn thumbprint(&self) -> KeyId {
        // RFC 7638 §3: only the required members, in lexicographic order, no whitespace.
        let canonical = match self {
            Self::Ed25519(x) => {
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    URL_SAFE_NO_PAD.encode(x)
                )
            }
            Self::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                URL_SAFE_NO_PAD.encode(x),
                URL_SAFE_NO_PAD.encode(y)
            ),
        };
        KeyId(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
    }

    /// The bytes jsonwebtoken's verifiers expect: raw Ed25519, or an uncompressed SEC1 point.
    pub(crate) fn verifier_bytes(&self) -> Vec<u8> {
        match self {
            Self::Ed25519(x) => x.to_vec(),
            Self::P256 { x, y } => {
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                point
            }
        }
    }

    pub(crate) fn decoding_key(&self) -> jsonwebtoken::DecodingKey {
        match self {
            Self::Ed25519(_) => jsonwebtoken::DecodingKey::from_ed_der(&self.verifier_bytes()),
            Self::P256 { .. } => jsonwebtoken::DecodingKey::from_ec_der(&self.verifier_bytes()),
        }
    }
}

/// Private signing key material with its id, algorithm and creation time.
#[derive(Clone)]
pub struct SigningKey {
    kid: KeyId,
    algorithm: SigningAlgorithm,
    created_at: OffsetDateTime,
    public: PublicKey,
    pkcs8_der: Zeroizing<Vec<u8>>,
}

impl SigningKey {
    /// Generates a fresh key from 32 bytes of operating-system randomness.
    pub fn generate(
        algorithm: SigningAlgorithm,
        created_at: OffsetDateTime,
    ) -> Result<Self, TokenError> {
        // P-256 scalars must be non-zero and below the group order; a random 32-byte string
        // misses that range with probability ~2^-32, so a few attempts are plenty.
        for _ in 0..8 {
            let mut seed = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(seed.as_mut());
            match Self::from_secret_bytes(algorithm, seed.as_ref(), created_at) {
                Ok(key) => return Ok(key),
                Err(TokenError::InvalidKey(_)) if algorithm == SigningAlgorithm::ES256 => {}
                Err(other) => return Err(other),
            }
        }
        Err(TokenError::InvalidKey(
            "could not draw a valid P-256 scalar".into(),
        ))
    }

    /// Builds a key from a raw 32-byte secret: an Ed25519 seed or a big-endian P-256 scalar.
    pub fn from_secret_bytes(
        algorithm: SigningAlgorithm,
        secret: &[u8],
        created_at: OffsetDateTime,
    ) -> Result<Self, TokenError> {
        let der = match algorithm {
            SigningAlgorithm::EdDSA => {
                let seed: &[u8; 32] = secret
                    .try_into()
                    .map_err(|_| TokenError::InvalidKey("an Ed25519 seed is 32 bytes".into()))?;
                let key = ed25519_dalek::SigningKey::from_bytes(seed);
                key.to_pkcs8_der()
                    .map_err(|e| TokenError::InvalidKey(e.to_string()))?
            }
            SigningAlgorithm::ES256 => {
                use p256::pkcs8::EncodePrivateKey as _;
                let key = p256::SecretKey::from_slice(secret)
                    .map_err(|_| TokenError::InvalidKey("not a valid P-256 scalar".into()))?;
                key.to_pkcs8_der()
                    .map_err(|e| TokenError::InvalidKey(e.to_string()))?
            }
        };
        Self::from_pkcs8_der(der.as_bytes(), created_at)
    }

    /// Imports a PKCS#8 DER private key; the algorithm follows from the key's OID.
    pub fn from_pkcs8_der(der: &[u8], created_at: OffsetDateTime) -> Result<Self, TokenError> {
        let (algorithm, public) = if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
            (
                SigningAlgorithm::EdDSA,
                PublicKey::Ed25519(key.verifying_key().to_bytes()),
            )
        } else if let Ok(key) = {
            use p256::pkcs8::DecodePrivateKey as _;
            p256::SecretKey::from_pkcs8_der(der)
        } {
            (SigningAlgorithm::ES256, p256_public(&key)?)
        } else {
            return Err(TokenError::InvalidKey(
                "not a PKCS#8 Ed25519 or P-256 private key".into(),
            ));
        };
        Ok(Self {
            kid: public.thumbprint(),
            algorithm,
            created_at,
            public,
            pkcs8_der: Zeroizing::new(der.to_vec()),
        })
    }

    /// Imports a PEM `PRIVATE KEY` block (PKCS#8), e.g. read from a `*_FILE` secret.
    pub fn from_pkcs8_pem(pem: &str, created_at: OffsetDateTime) -> Result<Self, TokenError> {
        use p256::pkcs8::der::pem::PemLabel as _;
        let (label, der) = p256::pkcs8::SecretDocument::from_pem(pem.trim())
            .map_err(|e| TokenError::InvalidKey(format!("not a PEM document: {e}")))?;
        if label != p256::pkcs8::PrivateKeyInfo::PEM_LABEL {
            return Err(TokenError::InvalidKey(format!(
                "PEM label is {label:?}, expected \"PRIVATE KEY\" (PKCS#8)"
            )));
        }
        Self::from_pkcs8_der(der.as_bytes(), created_at)
    }

    /// The key id, the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &KeyId {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// When the key was generated or first imported.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// The public half, for the JWKS.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The private key as PKCS#8 DER, for encrypted storage; zeroized when dropped.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8_der.clone()
    }

    /// The private key as a PKCS#8 PEM document; zeroized when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, TokenError> {
        use p256::pkcs8::der::pem::{LineEnding, PemLabel as _};
        let document = p256::pkcs8::SecretDocument::try_from(self.pkcs8_der.as_slice())
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        document
            .to_pem(p256::pkcs8::PrivateKeyInfo::PEM_LABEL, LineEnding::LF)
            .map_err(|e| TokenError::InvalidKey(e.to_string()))
    }

    pub(crate) fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        match self.algorithm {
            SigningAlgorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_der(&self.pkcs8_der),
            SigningAlgorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8_der),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("pkcs8_der", &"[redacted]")
            .finish()
    }
}

fn p256_public(secret: &p256::SecretKey) -> Result<PublicKey, TokenError> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    let point = secret.public_key().to_encoded_point(false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => PublicKey::p256(x, y),
        _ => Err(TokenError::InvalidKey(
            "P-256 public key is the identity point".into(),
        )),
    }
}
