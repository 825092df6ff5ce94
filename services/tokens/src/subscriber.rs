//! The token subject: an opaque subscriber id derived from the MSISDN, never the MSISDN itself.
//!
//! Activation tokens travel through carrier systems and logs, so `sub` must not reveal the phone
//! number yet must be stable, so the provisioning side can correlate tokens of one subscriber.
//! [`derive_subscriber_id`] computes HMAC-SHA256(key, "simgate-sub-v1:" + E.164 MSISDN),
//! base64url-encoded. Without the [`SubscriberKey`] nobody can test guesses of the (small) MSISDN
//! space against a `sub`, which a plain hash would allow.
//!
//! - [`Msisdn`] (from `simgate-core`): the validated E.164 number, normalised so that spacing
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

use simgate_core::Msisdn;

use crate::error::TokenError;

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
    fn secrets_stay_out_of_debug_output() {
        assert_eq!(format!("{:?}", key(9)), "SubscriberKey([redacted])");
        assert!(SubscriberKey::from_bytes(&[0; 31]).is_err());
    }
}
