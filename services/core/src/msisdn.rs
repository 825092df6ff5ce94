//! Subscriber phone numbers (MSISDNs) as validated E.164 values. Phone numbers are personal
//! data: `Debug` shows only the last two digits, so a number never reaches a log by accident.

use std::fmt;

use crate::InvalidInput;

/// A subscriber's phone number in E.164 form, e.g. `+491701234567`.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    /// Validates an MSISDN; a leading `+`, spaces, dashes and dots are accepted and dropped.
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        let trimmed = value.trim();
        let without_plus = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(16);
        for c in without_plus.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' => {}
                _ => {
                    return Err(InvalidInput {
                        what: "MSISDN",
                        reason: "only digits, an optional leading + and separators are allowed"
                            .to_owned(),
                    });
                }
            }
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(InvalidInput {
                what: "MSISDN",
                reason: "must have 8 to 15 digits (E.164)".to_owned(),
            });
        }
        if digits.starts_with('0') {
            return Err(InvalidInput {
                what: "MSISDN",
                reason: "must be in international form (country code first, no leading 0)"
                    .to_owned(),
            });
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
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Msisdn {
    type Error = InvalidInput;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Msisdn> for String {
    fn from(value: Msisdn) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_variants_normalise_to_one_e164_form() {
        for raw in ["+230 5700 1234", "23057001234", "+230-5700.1234"] {
            assert_eq!(Msisdn::parse(raw).unwrap().as_e164(), "+23057001234");
        }
    }

    #[test]
    fn national_short_long_and_lettered_numbers_are_rejected() {
        for bad in [
            "057001234",
            "+1234567",
            "+1234567890123456",
            "+2305700abcd",
            "",
        ] {
            assert!(Msisdn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_all_but_the_last_two_digits() {
        assert_eq!(
            format!("{:?}", Msisdn::parse("+23057001234").unwrap()),
            "Msisdn(…34)"
        );
    }
}
