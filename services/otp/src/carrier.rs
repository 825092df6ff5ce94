//! The carrier's display name, shown in authenticator apps and in every SMS.
//!
//! [`CarrierName::parse`] keeps the name short and plain so that it works in both places: at
//! most 20 characters of ASCII letters, digits, spaces and `-.&'`. Those are all single GSM-7
//! septets, so the built-in SMS templates provably fit one 160-character message, and none is
//! the `:` that separates issuer and account in an otpauth label.

use std::fmt;

use crate::error::OtpError;

/// A carrier's display name (the TOTP issuer and the sender named in SMS texts).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CarrierName(String);

impl CarrierName {
    /// Longest accepted name, in characters.
    pub const MAX_LEN: usize = 20;

    /// Validates a carrier name.
    pub fn parse(value: &str) -> Result<Self, OtpError> {
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(OtpError::invalid(
                "carrier name",
                format!("must be 1 to {} characters", Self::MAX_LEN),
            ));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" -.&'".contains(&b))
        {
            return Err(OtpError::invalid(
                "carrier name",
                "only ASCII letters, digits, spaces and - . & ' are allowed",
            ));
        }
        if value.starts_with(' ') || value.ends_with(' ') || value.contains("  ") {
            return Err(OtpError::invalid(
                "carrier name",
                "no leading, trailing or repeated spaces",
            ));
        }
        if !value.bytes().any(|b| b.is_ascii_alphanumeric()) {
            return Err(OtpError::invalid(
                "carrier name",
                "must contain a letter or digit",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CarrierName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CarrierName({:?})", self.0)
    }
}

impl fmt::Display for CarrierName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_carrier_names() {
        for name in [
            "Vodafone",
            "Deutsche Telekom",
            "AT&T",
            "O2",
            "Bouygues Telecom",
        ] {
            assert_eq!(CarrierName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn rejects_names_that_break_otpauth_labels_or_sms_length() {
        for bad in [
            "",
            " Vodafone",
            "Voda  fone",
            "Carrier: evil",
            "Orange\n",
            "Télécom",
            "{code}",
            "---",
            "A carrier name far too long",
        ] {
            assert!(CarrierName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
