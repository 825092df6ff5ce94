//! The parts of a reading that describe fields: field names, reason codes, per-field
//! validity and the small value types (state codes, names, sex).
//!
//! Names and reason codes serialise as stable snake_case strings; callers build decisions and
//! API responses on them, so renaming a variant is a breaking change.

use serde::Serialize;

use super::countries::{StateCodeKind, classify_state_code};

/// A field of the MRZ, as named in results and corrections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MrzField {
    /// Document code (`P`, `I`, `ID`, `V`, …).
    DocumentCode,
    /// Issuing state or organisation.
    IssuingState,
    /// Document number and its check digit.
    DocumentNumber,
    /// Holder's names.
    Names,
    /// Holder's nationality.
    Nationality,
    /// Date of birth and its check digit.
    BirthDate,
    /// Sex.
    Sex,
    /// Date of expiry and its check digit.
    ExpiryDate,
    /// Optional data 1; in TD3 the personal number, with its own check digit.
    OptionalData1,
    /// Optional data 2 (TD1 line 2 only).
    OptionalData2,
    /// The composite check digit over the other check-digit-protected fields.
    Composite,
}

/// Why a field is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The printed check digit does not match the field (or is not a digit).
    CheckDigitMismatch,
    /// The date is malformed or impossible (month 13, 30 February, letters).
    InvalidDate,
    /// An expiry date with a part given as `<<` (unknown).
    IncompleteDate,
    /// The code is neither ISO 3166-1 alpha-3 nor an ICAO 9303 special code.
    UnknownCountry,
    /// A character not allowed in this field remains after OCR correction.
    InvalidCharacter,
    /// The sex is not `M`, `F`, `X` or `<`.
    InvalidSex,
    /// The document code is not one or two letters (second may be `<`).
    InvalidDocumentCode,
    /// A required value is empty (all fillers).
    MissingValue,
}

/// The outcome of checking one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldValidity {
    /// Which field.
    pub field: MrzField,
    /// Whether the field passed every check.
    pub valid: bool,
    /// Every check the field failed; empty when valid.
    pub reasons: Vec<ReasonCode>,
}

impl FieldValidity {
    pub(crate) fn new(field: MrzField, reasons: Vec<ReasonCode>) -> Self {
        Self {
            field,
            valid: reasons.is_empty(),
            reasons,
        }
    }
}

/// Outcome of the composite check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompositeCheck {
    /// The composite check digit matches.
    Valid,
    /// The composite check digit does not match.
    Invalid,
    /// The format has no composite check digit (MRV-A, MRV-B).
    NotApplicable,
}

/// An issuing-state or nationality code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateCode {
    /// The code without fillers, e.g. `UTO`, or `D` for Germany's `D<<`.
    pub code: String,
    /// Which list the code is on; `None` when it is on neither.
    pub kind: Option<StateCodeKind>,
}

impl StateCode {
    pub(crate) fn from_mrz(raw: &str) -> Self {
        let code = raw.trim_end_matches('<').to_owned();
        let kind = classify_state_code(&code);
        Self { code, kind }
    }

    /// Whether the code is a known ISO 3166-1 or ICAO code.
    pub fn is_known(&self) -> bool {
        self.kind.is_some()
    }
}

/// The holder's names, split as ICAO 9303 part 3 prescribes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HolderNames {
    /// Primary identifier (surname), components separated by spaces.
    pub primary: String,
    /// Secondary identifier (given names), components separated by spaces; may be empty.
    pub secondary: String,
    /// The name fills its whole field, so the issuer may have truncated it.
    pub truncated: bool,
}

impl HolderNames {
    /// Splits at the first `<<`; every other run of `<` separates name components.
    pub(crate) fn from_mrz(field: &str) -> Self {
        let (primary, secondary) = field.split_once("<<").unwrap_or((field, ""));
        Self {
            primary: join_components(primary),
            secondary: join_components(secondary),
            // ICAO truncates long names without a trailing filler; a name that exactly fits
            // looks the same, so this can only say "possibly".
            truncated: !field.ends_with('<'),
        }
    }
}

fn join_components(part: &str) -> String {
    part.split('<')
        .filter(|component| !component.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The holder's sex as the MRZ states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
    /// `<` or `X`.
    Unspecified,
}

impl Sex {
    pub(crate) fn from_mrz(character: u8) -> Option<Self> {
        match character {
            b'M' => Some(Sex::Male),
            b'F' => Some(Sex::Female),
            b'<' | b'X' => Some(Sex::Unspecified),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_first_double_filler() {
        let names = HolderNames::from_mrz("VAN<DER<STEEN<<MARIANNE<LOUISE");
        assert_eq!(names.primary, "VAN DER STEEN");
        assert_eq!(names.secondary, "MARIANNE LOUISE");
        assert!(names.truncated);
        let names = HolderNames::from_mrz("ERIKSSON<<ANNA<MARIA<<<<<<<<<<");
        assert_eq!(
            (names.primary.as_str(), names.secondary.as_str()),
            ("ERIKSSON", "ANNA MARIA")
        );
        assert!(!names.truncated);
        let names = HolderNames::from_mrz("MONONYM<<<<<<");
        assert_eq!(
            (names.primary.as_str(), names.secondary.as_str()),
            ("MONONYM", "")
        );
    }

    #[test]
    fn reason_codes_serialise_as_snake_case() {
        let json = serde_json::to_string(&[
            ReasonCode::CheckDigitMismatch,
            ReasonCode::InvalidDate,
            ReasonCode::UnknownCountry,
        ])
        .unwrap();
        assert_eq!(
            json,
            r#"["check_digit_mismatch","invalid_date","unknown_country"]"#
        );
    }
}
