//! Identifiers of the eSIM a token is bound to: the eUICC's EID and the profile's ICCID.
//!
//! Both are parsed from untrusted text into newtypes that exist only when valid:
//! - [`Eid`]: 32 decimal digits whose value is 1 modulo 97 (ISO/IEC 7064 MOD 97-10, GSMA SGP.29).
//! - [`Iccid`]: 19 or 20 decimal digits ending in a Luhn check digit (ITU-T E.118).
//!
//! Tokens carry the EID in clear (the SM-DP+ must match it) but only a SHA-256 of the ICCID.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::claims::Sha256Hex;
use crate::error::TokenError;

/// An eUICC identifier: 32 digits with valid MOD 97-10 check digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Eid(String);

impl Eid {
    /// Number of digits in every EID.
    pub const LEN: usize = 32;

    /// Validates an EID; surrounding whitespace is ignored.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        let value = value.trim();
        if value.len() != Self::LEN || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TokenError::invalid(
                "EID",
                "must be exactly 32 decimal digits",
            ));
        }
        // The 32-digit number does not fit in u64, so reduce digit by digit as IBAN checks do.
        let remainder = value
            .bytes()
            .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
        if remainder != 1 {
            return Err(TokenError::invalid(
                "EID",
                "check digits are wrong (MOD 97-10)",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The 32 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Eid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Eid {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Eid {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Eid> for String {
    fn from(value: Eid) -> Self {
        value.0
    }
}

/// A profile's ICCID: 19 or 20 digits with a valid Luhn check digit.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iccid(String);

impl Iccid {
    /// Validates an ICCID; whitespace and a trailing `F` filler nibble are ignored.
    pub fn parse(value: &str) -> Result<Self, TokenError> {
        let value = value.trim();
        // SIM files pad odd-length ICCIDs with an F nibble; it is not part of the number.
        let value = value.strip_suffix(['F', 'f']).unwrap_or(value);
        if !(19..=20).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TokenError::invalid(
                "ICCID",
                "must be 19 or 20 decimal digits",
            ));
        }
        if !luhn_valid(value) {
            return Err(TokenError::invalid("ICCID", "check digit is wrong (Luhn)"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-case hex SHA-256 of the digits, the form tokens carry.
    pub fn sha256_hex(&self) -> Sha256Hex {
        Sha256Hex::of(self.0.as_bytes())
    }
}

impl fmt::Debug for Iccid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ICCIDs identify a subscription; logs get only the issuer prefix.
        write!(f, "Iccid({}…)", self.0.get(..7).unwrap_or_default())
    }
}

impl std::str::FromStr for Iccid {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(position, b)| {
            let digit = u32::from(b - b'0');
            if !position.is_multiple_of(2) {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl TryFrom<String> for Iccid {
    type Error = TokenError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Iccid> for String {
    fn from(value: Iccid) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Sample EIDs from GSMA SGP.29 / SGP.22 examples.
    const VALID_EIDS: [&str; 2] = [
        "89001012012341234012345678901224",
        "89049032123451234512345678901235",
    ];

    #[test]
    fn valid_eids_parse() {
        for eid in VALID_EIDS {
            assert_eq!(Eid::parse(eid).unwrap().as_str(), eid);
        }
    }

    #[test]
    fn eid_with_wrong_check_digits_is_rejected() {
        let err = Eid::parse("89001012012341234012345678901225").unwrap_err();
        assert!(err.to_string().contains("MOD 97-10"), "{err}");
    }

    #[test]
    fn eid_with_a_transposition_is_rejected() {
        assert!(Eid::parse("89001012012341234012345678902124").is_err());
    }

    #[test]
    fn eid_of_wrong_length_or_with_letters_is_rejected() {
        assert!(Eid::parse("8900101201234123401234567890122").is_err());
        assert!(Eid::parse("890010120123412340123456789012245").is_err());
        assert!(Eid::parse("8900101201234123401234567890122A").is_err());
        assert!(Eid::parse("").is_err());
    }

    #[test]
    fn eid_deserialisation_validates() {
        assert!(serde_json::from_str::<Eid>("\"89001012012341234012345678901225\"").is_err());
        let eid: Eid = serde_json::from_str("\"89001012012341234012345678901224\"").unwrap();
        assert_eq!(
            serde_json::to_string(&eid).unwrap(),
            "\"89001012012341234012345678901224\""
        );
    }

    #[test]
    fn iccid_with_valid_luhn_parses_and_filler_is_dropped() {
        let iccid = Iccid::parse("89441100123456789014").unwrap();
        assert_eq!(iccid.as_str(), "89441100123456789014");
        assert_eq!(
            Iccid::parse("8944110012345678901F").unwrap().as_str(),
            "8944110012345678901"
        );
    }

    #[test]
    fn iccid_with_wrong_luhn_digit_is_rejected() {
        assert!(Iccid::parse("89441100123456789015").is_err());
        assert!(Iccid::parse("894410000000000").is_err());
    }

    #[test]
    fn iccid_debug_hides_the_subscription_part() {
        let iccid = Iccid::parse("89441100123456789014").unwrap();
        assert_eq!(format!("{iccid:?}"), "Iccid(8944110…)");
    }
}
