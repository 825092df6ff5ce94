//! A one-time code as typed by the subscriber, parsed once at the edge.
//!
//! [`OtpCode::parse`] accepts exactly the expected number of ASCII digits (surrounding
//! whitespace is trimmed because copy and paste adds it; nothing else is forgiven). Leading
//! zeros are significant, so the code stays text and never becomes a number. The value is a
//! credential while it is valid: `Debug` redacts it and the buffer is zeroized on drop.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::OtpError;

/// Fewest digits any code of this crate has.
pub const MIN_CODE_DIGITS: u8 = 6;

/// Most digits any code of this crate has (SMS codes; TOTP stops at 8).
pub const MAX_CODE_DIGITS: u8 = 10;

/// A presented one-time code: ASCII digits only, of the exact expected length.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(Zeroizing<String>);

impl OtpCode {
    /// Parses untrusted text as a code of exactly `digits` digits.
    pub fn parse(text: &str, digits: u8) -> Result<Self, OtpError> {
        if !(MIN_CODE_DIGITS..=MAX_CODE_DIGITS).contains(&digits) {
            return Err(OtpError::invalid(
                "code length",
                format!("must be {MIN_CODE_DIGITS} to {MAX_CODE_DIGITS} digits"),
            ));
        }
        let trimmed = text.trim();
        if !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(OtpError::invalid("code", "must contain only digits 0-9"));
        }
        if trimmed.len() != usize::from(digits) {
            return Err(OtpError::invalid(
                "code",
                format!("must have exactly {digits} digits"),
            ));
        }
        Ok(Self(Zeroizing::new(trimmed.to_owned())))
    }

    /// The digits as text, leading zeros included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many digits the code has.
    pub fn digits(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OtpCode([redacted; {} digits])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exact_digits_and_keeps_leading_zeros() {
        let code = OtpCode::parse(" 012345\n", 6).unwrap();
        assert_eq!(code.as_str(), "012345");
        assert_eq!(code.digits(), 6);
        assert!(OtpCode::parse("0123456789", 10).is_ok());
    }

    #[test]
    fn rejects_anything_but_the_exact_number_of_digits() {
        for bad in [
            "",
            "12345",
            "1234567",
            "12 345",
            "12345a",
            "+12345",
            "-12345",
            "١٢٣٤٥٦",
            "123456\0",
        ] {
            assert!(OtpCode::parse(bad, 6).is_err(), "{bad:?} was accepted");
        }
        assert!(OtpCode::parse("12345", 5).is_err());
        assert!(OtpCode::parse("12345678901", 11).is_err());
    }

    #[test]
    fn debug_redacts_the_digits() {
        let code = OtpCode::parse("424242", 6).unwrap();
        assert_eq!(format!("{code:?}"), "OtpCode([redacted; 6 digits])");
    }
}
