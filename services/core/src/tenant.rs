//! Tenant identifiers: every API key and every stored row belongs to exactly one tenant.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidInput;

/// A validated tenant id: 1–63 characters of lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "carrier-mu")]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant id from untrusted text.
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let invalid = |reason: &str| InvalidInput {
            what: "tenant",
            reason: reason.to_owned(),
        };
        if raw.is_empty() || raw.len() > 63 {
            return Err(invalid("must be 1 to 63 characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "only lowercase letters, digits, '-' and '_' are allowed",
            ));
        }
        if !raw.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(invalid("must start with a letter or digit"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidInput;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_carrier_style_names() {
        for ok in ["carrier-mu", "emtel", "my_t", "0dev"] {
            assert_eq!(TenantId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_empty_uppercase_long_and_punctuation() {
        let too_long = "a".repeat(64);
        for bad in ["", "Carrier", "a b", "-lead", "x/y", too_long.as_str(), "é"] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
