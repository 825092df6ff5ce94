//! SMS one-time codes: settings, issuing, and verification against a keyed hash.
//!
//! - [`SmsCodeSettings`]: digits, lifetime (at most 10 minutes), attempts per code, the
//!   subscriber's consecutive-failure limit, resend cooldown and hourly send limits; invalid
//!   values are refused when the settings are built, never discovered mid-request.
//! - [`SmsCodeKey`]: the server-side HMAC key; redacted in `Debug`, zeroized on drop.
//! - [`issue_sms_code`]: a uniformly random code from a CSPRNG, returned once in clear
//!   ([`PlainSmsCode`], for the message) and as the [`StoredSmsCode`] row the store keeps. Only
//!   HMAC-SHA256(key, code) is stored: a leaked table does not reveal codes, and without the key
//!   the tiny code space cannot be searched offline as it could be with a plain hash.
//! - [`verify_sms_code`]: pure; returns the verdict together with the updated row (attempt
//!   counted, or marked consumed) that the caller must persist. Checks run in a fixed order:
//!   already used (`replayed`), attempts exhausted (`locked`), past `expires_at` (`expired`),
//!   then a constant-time comparison (`wrong` or accepted).

use std::fmt;

use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use sha2::Sha256;
use simgate_core::Clock;
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::code::OtpCode;
use crate::error::OtpError;

/// Limits and lifetimes for SMS codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsCodeSettings {
    digits: u8,
    lifetime: Duration,
    max_attempts_per_code: u32,
    max_consecutive_failures: u32,
    resend_cooldown: Duration,
    max_sends_per_msisdn_per_hour: u32,
    max_sends_per_client_per_hour: u32,
}

impl Default for SmsCodeSettings {
    fn default() -> Self {
        Self {
            digits: 6,
            lifetime: Duration::minutes(5),
            max_attempts_per_code: 5,
            max_consecutive_failures: 100,
            resend_cooldown: Duration::seconds(60),
            max_sends_per_msisdn_per_hour: 5,
            max_sends_per_client_per_hour: 500,
        }
    }
}

impl SmsCodeSettings {
    /// Digits an SMS code may have.
    pub const DIGITS: std::ops::RangeInclusive<u8> = 6..=10;
    /// Longest lifetime allowed for a code.
    pub const MAX_LIFETIME: Duration = Duration::minutes(10);
    /// Highest consecutive-failure limit allowed before a subscriber is locked.
    pub const MAX_CONSECUTIVE_FAILURES: u32 = 100;
    /// Highest attempts-per-code limit allowed.
    pub const MAX_ATTEMPTS_PER_CODE: u32 = 10;
    /// Longest resend cooldown allowed.
    pub const MAX_RESEND_COOLDOWN: Duration = Duration::minutes(10);

    /// Uses codes of 6 to 10 digits.
    pub fn with_digits(mut self, digits: u8) -> Result<Self, OtpError> {
        if !Self::DIGITS.contains(&digits) {
            return Err(OtpError::invalid("SMS code digits", "must be 6 to 10"));
        }
        self.digits = digits;
        Ok(self)
    }

    /// Lets codes live for more than zero and at most 10 minutes.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Result<Self, OtpError> {
        if !lifetime.is_positive() || lifetime > Self::MAX_LIFETIME {
            return Err(OtpError::invalid(
                "SMS code lifetime",
                "must be more than 0 and at most 10 minutes",
            ));
        }
        self.lifetime = lifetime;
        Ok(self)
    }

    /// Allows 1 to 10 verification attempts per code.
    pub fn with_max_attempts_per_code(mut self, attempts: u32) -> Result<Self, OtpError> {
        if !(1..=Self::MAX_ATTEMPTS_PER_CODE).contains(&attempts) {
            return Err(OtpError::invalid(
                "attempts per SMS code",
                format!("must be 1 to {}", Self::MAX_ATTEMPTS_PER_CODE),
            ));
        }
        self.max_attempts_per_code = attempts;
        Ok(self)
    }

    /// Locks a subscriber after 1 to 100 consecutive failures.
    pub fn with_max_consecutive_failures(mut self, failures: u32) -> Result<Self, OtpError> {
        if !(1..=Self::MAX_CONSECUTIVE_FAILURES).contains(&failures) {
            return Err(OtpError::invalid(
                "consecutive failures",
                format!("must be 1 to {}", Self::MAX_CONSECUTIVE_FAILURES),
            ));
        }
        self.max_consecutive_failures = failures;
        Ok(self)
    }

    /// Waits 0 to 10 minutes between two sends to the same MSISDN.
    pub fn with_resend_cooldown(mut self, cooldown: Duration) -> Result<Self, OtpError> {
        if cooldown.is_negative() || cooldown > Self::MAX_RESEND_COOLDOWN {
            return Err(OtpError::invalid(
                "resend cooldown",
                "must be 0 to 10 minutes",
            ));
        }
        self.resend_cooldown = cooldown;
        Ok(self)
    }

    /// Allows at least one send per MSISDN per rolling hour.
    pub fn with_max_sends_per_msisdn_per_hour(mut self, sends: u32) -> Result<Self, OtpError> {
        if sends == 0 {
            return Err(OtpError::invalid(
                "sends per MSISDN per hour",
                "must be at least 1",
            ));
        }
        self.max_sends_per_msisdn_per_hour = sends;
        Ok(self)
    }

    /// Allows at least one send per API client per rolling hour.
    pub fn with_max_sends_per_client_per_hour(mut self, sends: u32) -> Result<Self, OtpError> {
        if sends == 0 {
            return Err(OtpError::invalid(
                "sends per client per hour",
                "must be at least 1",
            ));
        }
        self.max_sends_per_client_per_hour = sends;
        Ok(self)
    }

    /// Digits per code.
    pub fn digits(&self) -> u8 {
        self.digits
    }

    /// How long a code is valid after it is issued.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The lifetime in whole minutes, rounded up, for the `{minutes}` of the message.
    pub fn lifetime_minutes(&self) -> u32 {
        let secs = u64::try_from(self.lifetime.whole_seconds()).unwrap_or(0);
        u32::try_from(secs.div_ceil(60)).unwrap_or(u32::MAX)
    }

    /// Verification attempts per code before it is `locked`.
    pub fn max_attempts_per_code(&self) -> u32 {
        self.max_attempts_per_code
    }

    /// Consecutive failures per subscriber before the second factor is `locked`.
    pub fn max_consecutive_failures(&self) -> u32 {
        self.max_consecutive_failures
    }

    /// Minimum time between two sends to the same MSISDN.
    pub fn resend_cooldown(&self) -> Duration {
        self.resend_cooldown
    }

    /// Sends allowed per MSISDN in any rolling hour.
    pub fn max_sends_per_msisdn_per_hour(&self) -> u32 {
        self.max_sends_per_msisdn_per_hour
    }

    /// Sends allowed per API client in any rolling hour.
    pub fn max_sends_per_client_per_hour(&self) -> u32 {
        self.max_sends_per_client_per_hour
    }
}

/// The server-side secret that keys the hash of every stored SMS code.
#[derive(Clone)]
pub struct SmsCodeKey {
    bytes: Zeroizing<Vec<u8>>,
    // Keyed once here, where failure can be reported, so hashing a code is infallible.
    mac: Hmac<Sha256>,
}

impl SmsCodeKey {
    /// Shortest accepted key: the HMAC-SHA256 output size.
    pub const MIN_LEN: usize = 32;

    /// Wraps key bytes read from a secret; refuses keys shorter than 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OtpError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(OtpError::invalid(
                "SMS code key",
                format!("must be at least {} bytes", Self::MIN_LEN),
            ));
        }
        let mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(bytes)
            .map_err(|e| OtpError::invalid("SMS code key", e.to_string()))?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            mac,
        })
    }

    /// Generates a random 32-byte key (development set-ups; production reads it from a secret).
    pub fn generate() -> Result<Self, OtpError> {
        let mut bytes = Zeroizing::new(vec![0u8; Self::MIN_LEN]);
        rand::fill(bytes.as_mut_slice());
        Self::from_bytes(&bytes)
    }

    /// The key bytes, for storing the key in a secret store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Hex HMAC-SHA256 of a code; the version prefix keeps this use of the key apart from others.
    fn hash_code(&self, code: &str) -> SmsCodeHash {
        let mut mac = self.mac.clone();
        mac.update(b"simgate-sms-code-v1:");
        mac.update(code.as_bytes());
        SmsCodeHash(hex::encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SmsCodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmsCodeKey([redacted])")
    }
}

/// Lower-case hex HMAC-SHA256 of an SMS code, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmsCodeHash(String);

impl SmsCodeHash {
    /// Validates a hash read back from storage: 64 lower-case hex characters.
    pub fn parse(value: &str) -> Result<Self, OtpError> {
        if value.len() != 64
            || !value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(OtpError::invalid(
                "SMS code hash",
                "must be 64 lower-case hex characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The hash as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A freshly issued SMS code in clear: put it in the message, then drop it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSmsCode(Zeroizing<String>);

impl PlainSmsCode {
    /// The digits, leading zeros included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainSmsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlainSmsCode([redacted; {} digits])", self.0.len())
    }
}

/// The stored form of an issued SMS code: one row per code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSmsCode {
    /// HMAC-SHA256 of the code under the [`SmsCodeKey`].
    pub code_hash: SmsCodeHash,
    /// When the code was issued.
    pub issued_at: OffsetDateTime,
    /// First instant at which the code is no longer accepted.
    pub expires_at: OffsetDateTime,
    /// Verification attempts compared against this code so far.
    pub attempts: u32,
    /// Attempts allowed, fixed when the code was issued so a config change cannot extend it.
    pub max_attempts: u32,
    /// When the code was accepted; a used code is never accepted again.
    pub consumed_at: Option<OffsetDateTime>,
}

/// A newly issued code: the clear text for the message and the row to store.
#[derive(Debug)]
pub struct IssuedSmsCode {
    /// The code in clear, shown once in the SMS.
    pub plain_code: PlainSmsCode,
    /// What the store keeps.
    pub stored: StoredSmsCode,
}

/// Issues a uniformly random code valid for the configured lifetime from `clock`'s now.
pub fn issue_sms_code(
    settings: &SmsCodeSettings,
    key: &SmsCodeKey,
    clock: &dyn Clock,
) -> IssuedSmsCode {
    let digits = usize::from(settings.digits);
    let bound = 10u64.pow(u32::from(settings.digits));
    // `random_range` rejects biased samples, so every code (leading zeros included) is equally likely.
    let value = rand::rng().random_range(0..bound);
    let plain = Zeroizing::new(format!("{value:0digits$}"));
    let issued_at = clock.now();
    let stored = StoredSmsCode {
        code_hash: key.hash_code(&plain),
        issued_at,
        expires_at: issued_at + settings.lifetime,
        attempts: 0,
        max_attempts: settings.max_attempts_per_code,
        consumed_at: None,
    };
    IssuedSmsCode {
        plain_code: PlainSmsCode(plain),
        stored,
    }
}

/// The verdict on a presented SMS code and the row as it must be persisted afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "the updated row must be persisted or attempts and single use are not enforced"]
pub struct SmsCodeVerification {
    /// `Ok` when accepted; else `Replayed`, `CodeLocked`, `Expired` or `WrongCode`.
    pub result: Result<(), OtpError>,
    /// The row with `attempts` counted and, when accepted, `consumed_at` set.
    pub updated: StoredSmsCode,
}

impl SmsCodeVerification {
    /// Whether the code was accepted (and the caller must persist it as consumed).
    pub fn is_accepted(&self) -> bool {
        self.result.is_ok()
    }
}

/// Checks `presented` against `stored` at `now`.
pub fn verify_sms_code(
    stored: &StoredSmsCode,
    presented: &OtpCode,
    key: &SmsCodeKey,
    now: OffsetDateTime,
) -> SmsCodeVerification {
    let mut updated = stored.clone();
    let result = if stored.consumed_at.is_some() {
        Err(OtpError::Replayed)
    } else if stored.attempts >= stored.max_attempts {
        Err(OtpError::CodeLocked)
    } else if now >= stored.expires_at {
        Err(OtpError::Expired)
    } else {
        updated.attempts = stored.attempts.saturating_add(1);
        let presented_hash = key.hash_code(presented.as_str());
        if bool::from(
            presented_hash
                .0
                .as_bytes()
                .ct_eq(stored.code_hash.0.as_bytes()),
        ) {
            updated.consumed_at = Some(now);
            Ok(())
        } else {
            Err(OtpError::WrongCode)
        }
    };
    SmsCodeVerification { result, updated }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_refuse_a_lifetime_over_ten_minutes() {
        let settings = SmsCodeSettings::default();
        assert!(
            settings
                .clone()
                .with_lifetime(Duration::minutes(10))
                .is_ok()
        );
        assert!(
            settings
                .clone()
                .with_lifetime(Duration::minutes(10) + Duration::seconds(1))
                .is_err()
        );
        assert!(settings.clone().with_lifetime(Duration::ZERO).is_err());
        assert!(settings.clone().with_digits(5).is_err());
        assert!(settings.clone().with_digits(11).is_err());
        assert!(settings.clone().with_max_attempts_per_code(0).is_err());
        assert!(settings.clone().with_max_consecutive_failures(101).is_err());
        assert!(
            settings
                .clone()
                .with_resend_cooldown(Duration::seconds(-1))
                .is_err()
        );
        assert!(
            settings
                .clone()
                .with_max_sends_per_msisdn_per_hour(0)
                .is_err()
        );
        assert!(settings.with_max_sends_per_client_per_hour(0).is_err());
    }

    #[test]
    fn defaults_match_the_documented_policy() {
        let s = SmsCodeSettings::default();
        assert_eq!(s.digits(), 6);
        assert_eq!(s.lifetime(), Duration::minutes(5));
        assert_eq!(s.lifetime_minutes(), 5);
        assert_eq!(s.max_attempts_per_code(), 5);
        assert_eq!(s.max_consecutive_failures(), 100);
        assert_eq!(s.resend_cooldown(), Duration::seconds(60));
        assert_eq!(s.max_sends_per_msisdn_per_hour(), 5);
        assert_eq!(s.max_sends_per_client_per_hour(), 500);
        let odd = s.with_lifetime(Duration::seconds(90)).unwrap();
        assert_eq!(odd.lifetime_minutes(), 2);
    }

    #[test]
    fn keys_are_redacted_and_at_least_32_bytes() {
        assert!(SmsCodeKey::from_bytes(&[0; 31]).is_err());
        let key = SmsCodeKey::generate().unwrap();
        assert_eq!(key.as_bytes().len(), 32);
        assert_eq!(format!("{key:?}"), "SmsCodeKey([redacted])");
    }

    #[test]
    fn stored_hashes_parse_back_and_plain_codes_are_redacted() {
        let key = SmsCodeKey::from_bytes(&[7; 32]).unwrap();
        let hash = key.hash_code("123456");
        assert_eq!(SmsCodeHash::parse(hash.as_str()).unwrap(), hash);
        assert!(SmsCodeHash::parse(&hash.as_str().to_uppercase()).is_err());
        assert!(SmsCodeHash::parse("abc").is_err());
        let plain = PlainSmsCode(Zeroizing::new("123456".into()));
        assert_eq!(format!("{plain:?}"), "PlainSmsCode([redacted; 6 digits])");
    }
}
