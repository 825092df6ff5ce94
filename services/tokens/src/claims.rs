//! The activation token's claims, the request they are built from, and their validated parts.
//!
//! - Validated newtypes for the claim values that come from configuration or callers:
//!   [`Issuer`], [`Audience`], [`Acr`], [`VerificationId`], [`TokenId`], [`Sha256Hex`], and the
//!   [`AuthMethod`] enum for `amr`.
//! - Durations with safe bounds: [`TokenLifetime`] (default 10 minutes) and [`Leeway`] (default
//!   5 seconds) for clock skew between simgate and the verifier.
//! - [`ActivationRequest`]: everything the issuer needs; [`ActivationClaims`]: the JWT payload,
//!   whose field names are the wire claim names.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::activation_code::MatchingId;
use crate::error::TokenError;
use crate::esim::{Eid, Iccid};
use crate::subscriber::SubscriberId;

/// Declares a validated string newtype with the usual conversions.
macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal, $allowed:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates the value's length and characters.
            pub fn parse(value: &str) -> Result<Self, TokenError> {
                if value.is_empty() || value.len() > Self::MAX_LEN {
                    return Err(TokenError::invalid(
                        $what,
                        format!("must be 1 to {} characters", Self::MAX_LEN),
                    ));
                }
                let allowed: fn(char) -> bool = $allowed;
                if !value.chars().all(allowed) {
                    return Err(TokenError::invalid($what, "contains characters that are not allowed"));
                }
                Ok(Self(value.to_owned()))
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = TokenError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = TokenError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

fn is_visible_ascii(c: char) -> bool {
    c.is_ascii_graphic()
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

fn is_base64url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_')
}

text_newtype!(
    /// The `iss` claim: who issued the token, usually simgate's public base URL.
    Issuer, "issuer", 256, is_visible_ascii
);

text_newtype!(
    /// The `aud` claim: the provisioning system the token is for.
    Audience, "audience", 256, is_visible_ascii
);

text_newtype!(
    /// The `acr` claim: the assurance level the verification flow reached, e.g. a URN per channel.
    Acr, "acr", 128, is_visible_ascii
);

text_newtype!(
    /// The `verification_id` claim: the verification session that justified the token.
    VerificationId, "verification id", 128, is_id_char
);

text_newtype!(
    /// The `jti` claim: a random unique token id, for replay detection and revocation.
    TokenId, "token id", 64, is_base64url_char
);

impl TokenId {
    /// A fresh id from 128 random bits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// A lower-case hex SHA-256 digest, the form of `iccid_hash` and `matching_id_hash`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// Validates 64 lower-case hex digits.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        let well_formed = value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return Err(TokenError::invalid(
                "SHA-256 hex",
                "must be 64 lower-case hex digits",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(data)))
    }

    /// The digest as hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256Hex {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Sha256Hex> for String {
    fn from(value: Sha256Hex) -> Self {
        value.0
    }
}

/// One entry of the `amr` claim: a way the subscriber proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// An identity document was checked.
    Doc,
    /// A live face was matched against the document portrait (RFC 8176 `face`).
    Face,
    /// A one-time code from an authenticator app was checked (RFC 8176 `otp`).
    Otp,
    /// A one-time code sent by SMS was checked (RFC 8176 `sms`).
    Sms,
}

/// How long an issued token stays valid: 10 seconds to 1 hour, 10 minutes by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokenLifetime(Duration);

impl TokenLifetime {
    /// The lifetime used unless configured otherwise.
    pub const DEFAULT: Self = Self(Duration::from_secs(10 * 60));
    /// Shortest accepted lifetime; shorter ones would expire in transit.
    pub const MIN: Duration = Duration::from_secs(10);
    /// Longest accepted lifetime; activation tokens are meant to be short-lived.
    pub const MAX: Duration = Duration::from_secs(60 * 60);

    /// Validates a lifetime; sub-second parts are dropped since JWT times are whole seconds.
    pub fn new(lifetime: Duration) -> Result<Self, TokenError> {
        let whole = Duration::from_secs(lifetime.as_secs());
        if whole < Self::MIN || whole > Self::MAX {
            return Err(TokenError::invalid("token lifetime", "must be 10 s to 1 h"));
        }
        Ok(Self(whole))
    }

    /// The lifetime as a duration.
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

impl Default for TokenLifetime {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Clock skew tolerated on `exp`, `nbf` and `iat`: at most 5 minutes, 5 seconds by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Leeway(Duration);

impl Leeway {
    /// The leeway used unless configured otherwise.
    pub const DEFAULT: Self = Self(Duration::from_secs(5));
    /// No tolerance at all.
    pub const NONE: Self = Self(Duration::ZERO);
    /// Largest accepted leeway; more would stretch a 10-minute token noticeably.
    pub const MAX: Duration = Duration::from_secs(5 * 60);

    /// Validates a leeway; sub-second parts are dropped since JWT times are whole seconds.
    pub fn new(leeway: Duration) -> Result<Self, TokenError> {
        if leeway > Self::MAX {
            return Err(TokenError::invalid("leeway", "must be at most 5 minutes"));
        }
        Ok(Self(Duration::from_secs(leeway.as_secs())))
    }

    /// The leeway in whole seconds.
    pub fn as_secs(self) -> i64 {
        // MAX keeps this far below i64::MAX.
        i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX)
    }
}

impl Default for Leeway {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything needed to issue one activation token.
#[derive(Debug, Clone)]
pub struct ActivationRequest {
    /// Goes into `iss`.
    pub issuer: Issuer,
    /// Goes into `aud`: the provisioning system that will verify the token.
    pub audience: Audience,
    /// How long the token is valid from issue time.
    pub lifetime: TokenLifetime,
    /// Goes into `sub`; derive it with [`crate::derive_subscriber_id`].
    pub subject: SubscriberId,
    /// The eUICC the profile may be installed on.
    pub eid: Eid,
    /// The profile's ICCID, hashed into `iccid_hash` when given.
    pub iccid: Option<Iccid>,
    /// The SGP.22 matching id, hashed into `matching_id_hash` when given.
    pub matching_id: Option<MatchingId>,
    /// The assurance level reached.
    pub acr: Acr,
    /// The checks that passed, in the order they ran.
    pub amr: Vec<AuthMethod>,
    /// The verification session behind the token.
    pub verification_id: VerificationId,
}

/// The payload of an activation JWT; field names are the claim names on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationClaims {
    /// Issuer.
    pub iss: Issuer,
    /// Audience: the provisioning system.
    pub aud: Audience,
    /// Opaque subscriber id, never the MSISDN.
    pub sub: SubscriberId,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Unique token id.
    pub jti: TokenId,
    /// The eUICC the profile may be installed on.
    pub eid: Eid,
    /// Lower-case hex SHA-256 of the ICCID, when the token is bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid_hash: Option<Sha256Hex>,
    /// Lower-case hex SHA-256 of the matching id, when the token is bound to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_id_hash: Option<Sha256Hex>,
    /// Assurance level reached.
    pub acr: Acr,
    /// The checks that passed.
    pub amr: Vec<AuthMethod>,
    /// The verification session behind the token.
    pub verification_id: VerificationId,
}

impl ActivationClaims {
    /// Whether the token is bound to this ICCID.
    pub fn matches_iccid(&self, iccid: &Iccid) -> bool {
        self.iccid_hash.as_ref() == Some(&iccid.sha256_hex())
    }

    /// Whether the token is bound to this matching id.
    pub fn matches_matching_id(&self, matching_id: &MatchingId) -> bool {
        self.matching_id_hash.as_ref() == Some(&matching_id.sha256_hex())
    }
}
