//! SGP.22 activation codes (`LPA:1$<SM-DP+ address>$<matching id>`) and their QR codes.
//!
//! - [`SmdpAddress`]: the SM-DP+ server's FQDN, validated as a DNS hostname and lower-cased.
//! - [`MatchingId`]: the profile's matching id, 1 to 255 characters of `[0-9A-Z-]`.
//! - [`ActivationCode`]: the two joined into the text a device's LPA scans; [`ActivationCode::qr_png`]
//!   renders it as a PNG QR code and [`ActivationCode::parse`] reads the text back.
//!
//! `$` is the field delimiter of the format, so neither part may contain it; the character sets
//! enforced here exclude it. The optional fields after the matching id (SM-DP+ OID, confirmation
//! code flag) are not produced.

use std::fmt;

use serde::{Deserialize, Serialize};
use simgate_core::qr::{MODULE_PIXELS, QUIET_ZONE_MODULES, render_qr_png};

use crate::claims::Sha256Hex;
use crate::error::TokenError;

/// The SM-DP+ server's fully qualified domain name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SmdpAddress(String);

impl SmdpAddress {
    /// Validates an FQDN: dot-separated labels of letters, digits and inner hyphens.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        let invalid = |reason: &str| TokenError::invalid("SM-DP+ address", reason);
        if value.is_empty() || value.len() > 253 {
            return Err(invalid("must be 1 to 253 characters"));
        }
        let labels: Vec<&str> = value.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid("must be a fully qualified domain name"));
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(invalid("every label must be 1 to 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(invalid("only letters, digits, '-' and '.' are allowed"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a label may not start or end with '-'"));
            }
        }
        // An all-digit top-level label means an IP address, which SGP.22 does not allow here.
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("must be a domain name, not an IP address"));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    /// The hostname, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SmdpAddress {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SmdpAddress> for String {
    fn from(value: SmdpAddress) -> Self {
        value.0
    }
}

/// An SGP.22 matching id: 1 to 255 characters of `0-9`, `A-Z` and `-`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MatchingId(String);

impl MatchingId {
    /// Longest matching id SGP.22 allows.
    pub const MAX_LEN: usize = 255;

    /// Validates a matching id; lower-case letters are refused rather than silently changed.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(TokenError::invalid(
                "matching id",
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-')
        {
            return Err(TokenError::invalid(
                "matching id",
                "only digits, upper-case letters A-Z and '-' are allowed",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The matching id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-case hex SHA-256 of the matching id, the form tokens carry.
    pub fn sha256_hex(&self) -> Sha256Hex {
        Sha256Hex::of(self.0.as_bytes())
    }
}

impl fmt::Debug for MatchingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whoever holds the matching id can download the profile, so logs never see it.
        write!(f, "MatchingId([redacted; {} chars])", self.0.len())
    }
}

impl TryFrom<String> for MatchingId {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MatchingId> for String {
    fn from(value: MatchingId) -> Self {
        value.0
    }
}

/// An SGP.22 activation code for one profile download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationCode {
    smdp_address: SmdpAddress,
    matching_id: MatchingId,
}

impl ActivationCode {
    /// Prefix and format version of every activation code.
    pub const PREFIX: &'static str = "LPA:1$";

    /// Pixels per QR module in [`Self::qr_png`]; large enough for phone cameras off a screen.
    pub const QR_MODULE_PIXELS: u32 = MODULE_PIXELS;

    /// White modules around the symbol, as ISO/IEC 18004 requires for reliable scanning.
    pub const QR_QUIET_ZONE_MODULES: u32 = QUIET_ZONE_MODULES;

    /// Validates both parts and builds the code.
    pub fn new(smdp_address: &str, matching_id: &str) -> Result<Self, TokenError> {
        Ok(Self {
            smdp_address: SmdpAddress::parse(smdp_address)?,
            matching_id: MatchingId::parse(matching_id)?,
        })
    }

    /// Reads a code of the form `LPA:1$<SM-DP+ address>$<matching id>`.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let rest = text
            .strip_prefix(Self::PREFIX)
            .ok_or_else(|| TokenError::invalid("activation code", "must start with LPA:1$"))?;
        let (address, matching_id) = rest.split_once('$').ok_or_else(|| {
            TokenError::invalid("activation code", "has no matching id after the address")
        })?;
        // Optional trailing fields would be separated by further '$'; this crate never writes
        // them, so their presence means the code came from elsewhere and is not ours to accept.
        Self::new(address, matching_id)
    }

    /// The SM-DP+ address part.
    pub fn smdp_address(&self) -> &SmdpAddress {
        &self.smdp_address
    }

    /// The matching id part.
    pub fn matching_id(&self) -> &MatchingId {
        &self.matching_id
    }

    /// The text an LPA scans: `LPA:1$<SM-DP+ address>$<matching id>`.
    pub fn to_lpa_string(&self) -> String {
        format!(
            "{}{}${}",
            Self::PREFIX,
            self.smdp_address.as_str(),
            self.matching_id.as_str()
        )
    }

    /// Renders the code as a black-on-white PNG QR code (error correction level M).
    pub fn qr_png(&self) -> Result<Vec<u8>, TokenError> {
        render_qr_png(&self.to_lpa_string()).map_err(|e| TokenError::QrCode(e.to_string()))
    }
}

impl fmt::Display for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_lpa_string())
    }
}

impl std::str::FromStr for ActivationCode {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_lpa_string() {
        let code = ActivationCode::new("SMDP.Example.com", "ABCD-1234-EFGH").unwrap();
        assert_eq!(
            code.to_lpa_string(),
            "LPA:1$smdp.example.com$ABCD-1234-EFGH"
        );
        assert_eq!(code.to_string(), code.to_lpa_string());
        assert_eq!(ActivationCode::parse(&code.to_lpa_string()).unwrap(), code);
    }

    #[test]
    fn rejects_bad_smdp_addresses() {
        for bad in [
            "",
            "localhost",
            "smdp$example.com",
            "smdp.example.com.",
            "-smdp.example.com",
            "smdp-.example.com",
            "smdp..example.com",
            "smdp_1.example.com",
            "192.168.1.10",
            "smdp.example.com:443",
            "https://smdp.example.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(SmdpAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rejects_bad_matching_ids() {
        assert!(MatchingId::parse("").is_err());
        assert!(MatchingId::parse("abcd-1234").is_err());
        assert!(MatchingId::parse("ABCD$1234").is_err());
        assert!(MatchingId::parse("ABCD 1234").is_err());
        assert!(MatchingId::parse(&"A".repeat(256)).is_err());
        assert!(MatchingId::parse(&"A".repeat(255)).is_ok());
    }

    #[test]
    fn parse_rejects_other_formats() {
        assert!(ActivationCode::parse("LPA:2$smdp.example.com$ABC").is_err());
        assert!(ActivationCode::parse("LPA:1$smdp.example.com").is_err());
        assert!(ActivationCode::parse("LPA:1$smdp.example.com$ABC$1.2.3$1").is_err());
    }

    #[test]
    fn matching_id_stays_out_of_debug_output() {
        let code = ActivationCode::new("smdp.example.com", "SECRET-MATCHING-ID").unwrap();
        assert!(!format!("{code:?}").contains("SECRET"));
    }

    #[test]
    fn qr_png_is_a_png() {
        let png = ActivationCode::new("smdp.example.com", "ABC")
            .unwrap()
            .qr_png()
            .unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
