//! Signed eSIM activation tokens: the last step of simgate's verification flow.
//!
//! When every required check passed, simgate issues a short-lived JWT bound to the eSIM, and the
//! carrier's provisioning system verifies it against simgate's JWKS before releasing the profile.
//! This crate is the domain logic only: no HTTP, no SQL, no clock reads (every function that
//! needs the time takes `now` from the caller's clock).
//!
//! - [`keys`]: signing keys (EdDSA by default, ES256), PKCS#8 import/export, RFC 7638 key ids.
//! - [`keyring`]: current + previous keys, rotation with an overlap, retirement.
//! - [`jwks`]: the JWKS document and the [`VerificationKeySource`] trait verification uses.
//! - [`claims`]: the claims, the issue request and their validated parts.
//! - [`token`]: [`issue_activation_token`] and [`verify_activation_token`].
//! - [`subscriber`]: the opaque `sub` derived from the MSISDN with a keyed hash.
//! - [`esim`]: validated EID and ICCID.
//! - [`activation_code`]: SGP.22 `LPA:1$…` activation codes and their QR-code PNGs.
//! - [`error`]: [`TokenError`], the crate's single error type.

pub mod activation_code;
pub mod claims;
pub mod error;
pub mod esim;
pub mod jwks;
pub mod keyring;
pub mod keys;
pub mod subscriber;
pub mod token;

pub use activation_code::{ActivationCode, MatchingId, SmdpAddress};
pub use claims::{
    Acr, ActivationClaims, ActivationRequest, Audience, AuthMethod, Issuer, Leeway, Sha256Hex,
    TokenId, TokenLifetime, VerificationId,
};
pub use error::TokenError;
pub use esim::{Eid, Iccid};
pub use jwks::{Jwk, JwkSet, VerificationKey, VerificationKeySource};
pub use keyring::{KeyRing, PreviousKey};
pub use keys::{KeyId, PublicKey, SigningAlgorithm, SigningKey};
pub use simgate_core::Msisdn;
pub use subscriber::{SubscriberId, SubscriberKey, derive_subscriber_id};
pub use token::{
    IssuedToken, MAX_TOKEN_LEN, TOKEN_TYPE, issue_activation_token, verify_activation_token,
    verify_activation_token_with_leeway,
};
