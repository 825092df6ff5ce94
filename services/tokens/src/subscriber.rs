//! The token subject: an opaque subscriber id derived from the MSISDN, never the MSISDN itself.
//!
//! Activation tokens travel through carrier systems and logs, so `sub` must not reveal the phone
//! number yet must be stable, so the provisioning side can correlate tokens of one subscriber.
//! [`derive_subscriber_id`] computes HMAC-SHA256(key, "simgate-sub-v1:" + E.164 MSISDN),
//! base64url-encoded. Without the [`SubscriberKey`] nobody can test guesses of the (small) MSISDN
//! space against a `sub`, which a plain hash would allow.
//!
//! - [`Msisdn`]: a validated E.164 number (`+` and 8 to 15 digits), normalised so that spacing
//!   and a missing `+` do not change the derived id.
//! - [`SubscriberKey`]: the HMAC secret, at least 32 bytes, redacted in `Debug`, zeroized on drop.
//! - [`SubscriberId`]: the derived 43-character id.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::TokenError;

/// A subscriber's phone number in E.164 form, e.g. `+491701234567`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Msisdn(String);

impl Msisdn {
    /// Validates an MSISDN; a leading `+`, spaces, dashes and dots are accepted and dropped.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        let trimmed = value.trim();
        let without_plus = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(16);
        for c in without_plus.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' => {}
                _ => {
                    return Err(TokenError::invalid(
                        "MSISDN",
                        "only digits, an optional leading + and separators are allowed",
                    ));
                }
            }
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(TokenError::invalid(
                "MSISDN",
                "must have 8 to 15 digits (E.164)",
            ));
        }
        if digits.starts_with('0') {
            return Err(TokenError::invalid(
                "MSISDN",
                "must be in international form (country code first, no leading 0)",
            ));
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The normalised E.164 form with a leading `+`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Phone numbers are personal data; keep them out of logs except for the last digits.
        let tail = self
            .0
            .get(self.0.len().saturating_sub(2)..)
            .unwrap_or_default();
        write!(f, "Msisdn(…{tail})")
    }
}

impl std::str::FromStr for Msisdn {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The secret that turns MSISDNs into subscriber ids.
#[derive(Clone)]
pub struct SubscriberKey {
    bytes: Zeroizing<Vec<u8>>,
    // Keyed once here, where failure can be reported, so deriving an id is infallible.
    mac: Hmac<Sha256>,
}

impl SubscriberKey {
    /// Shortest accepted key: the HMAC-SHA256 output size.
    pub const MIN_LEN: usize = 32;

    /// Wraps key bytes read from a secret; refuses keys shorter than 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(TokenError::invalid(
                "subscriber key",
                format!("must be at least {} bytes", Self::MIN_LEN),
            ));
        }
        let mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(bytes)
            .map_err(|e| TokenError::invalid("subscriber key", e.to_string()))?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            mac,
        })
    }

    /// Generates a random 32-byte key.
    pub fn generate() -> Result<Self, TokenError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::MIN_LEN]);
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(&bytes)
    }

    /// The key bytes, for storing the key in a secret store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SubscriberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubscriberKey([redacted])")
    }
}

/// An opaque, stable subscriber id: base64url HMAC-SHA256 of the MSISDN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubscriberId(String);

impl SubscriberId {
    /// Length of every id: 32 bytes in unpadded base64url.
    pub const LEN: usize = 43;

    /// Validates an id read back from a token or storage.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        let well_formed = value.len() == Self::LEN
            && URL_SAFE_NO_PAD
                .decode(value)
                .is_ok_and(|bytes| bytes.len() == 32);
        if !well_formed {
            return Err(TokenError::invalid(
                "subscriber id",
                "must be 43 base64url characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SubscriberId {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SubscriberId> for String {
    fn from(value: SubscriberId) -> Self {
        value.0
    }
}

/// Derives the token subject for an MSISDN; the same key and number always give the same id.
pub fn derive_subscriber_id(key: &SubscriberKey, msisdn: &Msisdn) -> SubscriberId {
    let mut mac = key.mac.clone();
    // The prefix separates this use of the key from any other HMAC the key might serve.
    mac.update(b"simgate-sub-v1:");
    mac.update(msisdn.as_e164().as_bytes());
    SubscriberId(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SubscriberKey {
        SubscriberKey::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn sub_is_stable_for_the_same_msisdn_and_key_whatever_the_formatting() {
        let a = derive_subscriber_id(&key(7), &Msisdn::parse("+49 170 1234567").unwrap());
        let b = derive_subscriber_id(&key(7), &Msisdn::parse("491701234567").unwrap());
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), SubscriberId::LEN);
        SubscriberId::parse(a.as_str()).unwrap();
    }

    #[test]
    fn sub_differs_per_key_and_per_msisdn() {
        let msisdn = Msisdn::parse("+491701234567").unwrap();
        let other = Msisdn::parse("+491701234568").unwrap();
        assert_ne!(
            derive_subscriber_id(&key(1), &msisdn),
            derive_subscriber_id(&key(2), &msisdn)
        );
        assert_ne!(
            derive_subscriber_id(&key(1), &msisdn),
            derive_subscriber_id(&key(1), &other)
        );
    }

    #[test]
    fn sub_reveals_nothing_of_the_msisdn() {
        let msisdn = Msisdn::parse("+491701234567").unwrap();
        let sub = derive_subscriber_id(&key(3), &msisdn);
        let decoded = URL_SAFE_NO_PAD.decode(sub.as_str()).unwrap();
        assert!(!sub.as_str().contains("1234567"));
        assert!(!decoded.windows(4).any(|w| w == b"1234" || w == b"4917"));
        // Not a plain hash either: a keyless SHA-256 of the number must not match.
        use sha2::Digest as _;
        let plain = URL_SAFE_NO_PAD.encode(Sha256::digest(msisdn.as_e164().as_bytes()));
        assert_ne!(sub.as_str(), plain);
    }

    #[test]
    fn msisdn_validation() {
        assert_eq!(
            Msisdn::parse("+44 7700-900.123").unwrap().as_e164(),
            "+447700900123"
        );
        assert!(Msisdn::parse("01701234567").is_err());
        assert!(Msisdn::parse("+1234567").is_err());
        assert!(Msisdn::parse("+1234567890123456").is_err());
        assert!(Msisdn::parse("+49170abc4567").is_err());
    }

    #[test]
    fn secrets_and_numbers_stay_out_of_debug_output() {
        assert_eq!(format!("{:?}", key(9)), "SubscriberKey([redacted])");
        assert_eq!(
            format!("{:?}", Msisdn::parse("+491701234567").unwrap()),
            "Msisdn(…67)"
        );
        assert!(SubscriberKey::from_bytes(&[0; 31]).is_err());
    }
}
