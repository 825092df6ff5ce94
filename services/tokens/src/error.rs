//! The crate's single error type.
//!
//! [`TokenError`] covers rejected input values (EIDs, MSISDNs, activation-code parts), signing-key
//! problems, and every reason an activation token fails verification. Each variant has a stable
//! machine-readable [`TokenError::reason_code`] so callers can map it to responses and audit
//! records without matching on display text. It knows nothing about HTTP.

use crate::keys::{KeyId, SigningAlgorithm};

/// Everything that can go wrong while building, issuing or verifying an activation token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// A value from outside did not pass validation.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which kind of value was rejected (e.g. "EID").
        what: &'static str,
        /// Why it was rejected, safe to show to the caller.
        reason: String,
    },
    /// Key material could not be generated, imported or used.
    #[error("invalid signing key: {0}")]
    InvalidKey(String),
    /// A key with this id is already in the key ring.
    #[error("key {0} is already in the key ring")]
    DuplicateKey(KeyId),
    /// The token could not be signed.
    #[error("could not sign the token: {0}")]
    Signing(String),
    /// The token is not a well-formed compact JWS with the expected claims.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm this crate never accepts (e.g. `none`, `HS256`).
    #[error("unsupported token algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The header's `typ` is not `esim-activation+jwt`.
    #[error("token type {found:?} is not esim-activation+jwt")]
    WrongType {
        /// The `typ` found in the header, if any.
        found: Option<String>,
    },
    /// The header carries `crit` extensions, none of which this crate understands.
    #[error("token header has critical extensions this verifier does not understand")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("token header has no key id")]
    MissingKeyId,
    /// No verification key has the header's `kid`.
    #[error("no verification key with id {0:?}")]
    UnknownKey(String),
    /// The key with the header's `kid` was retired.
    #[error("key {0} has been retired")]
    RetiredKey(KeyId),
    /// The header's algorithm is not the one the key is for.
    #[error("token algorithm {header:?} does not match key algorithm {key}")]
    AlgorithmMismatch {
        /// The `alg` found in the header.
        header: String,
        /// The algorithm of the key named by `kid`.
        key: SigningAlgorithm,
    },
    /// The signature does not verify: the token was altered or signed by another key.
    #[error("token signature is invalid")]
    BadSignature,
    /// The token's `iss` is not the expected issuer.
    #[error("token issuer is not the expected issuer")]
    WrongIssuer,
    /// The token's `aud` is not the expected audience.
    #[error("token audience is not the expected audience")]
    WrongAudience,
    /// The token's `exp` has passed.
    #[error("token expired")]
    Expired,
    /// The token's `nbf` or `iat` lies in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// The QR code or its PNG could not be produced.
    #[error("could not render the QR code: {0}")]
    QrCode(String),
}

impl TokenError {
    /// A stable snake_case code for logs, audit records and problem types.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "invalid_input",
            Self::InvalidKey(_) => "invalid_key",
            Self::DuplicateKey(_) => "duplicate_key",
            Self::Signing(_) => "signing_failed",
            Self::Malformed(_) => "token_malformed",
            Self::UnsupportedAlgorithm(_) => "token_algorithm_unsupported",
            Self::WrongType { .. } => "token_type_wrong",
            Self::CriticalHeader => "token_critical_header",
            Self::MissingKeyId => "token_key_id_missing",
            Self::UnknownKey(_) => "token_key_unknown",
            Self::RetiredKey(_) => "token_key_retired",
            Self::AlgorithmMismatch { .. } => "token_algorithm_mismatch",
            Self::BadSignature => "token_signature_invalid",
            Self::WrongIssuer => "token_issuer_wrong",
            Self::WrongAudience => "token_audience_wrong",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::QrCode(_) => "qr_code_failed",
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            what,
            reason: reason.into(),
        }
    }
}
