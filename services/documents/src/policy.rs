//! The document policy: which documents a channel accepts and the rules every reading must
//! pass (expiry with grace, minimum age, issuer allow/deny lists).
//!
//! The policy only turns a valid [`MrzReading`] into reason codes; it never refuses input.

use serde::Serialize;
use time::{Date, Duration};

use crate::check::DocumentReason;
use crate::decode::DecodeLimits;
use crate::mrz::MrzReading;
use crate::quality::QualityThresholds;

/// The channel a check comes from; policies differ per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A supervised storefront kiosk with a document scanner.
    Kiosk,
    /// An unsupervised phone app.
    Mobile,
    /// Batch re-verification of stored documents.
    Batch,
}

/// What kind of document an MRZ belongs to, from its document code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Document code `P…`.
    Passport,
    /// Document codes `I…`, `A…`, `C…` (identity and official travel cards).
    IdCard,
    /// Document code `V…`.
    Visa,
    /// Any other code.
    Other,
}

impl DocumentType {
    /// Classifies an MRZ document code (`P`, `ID`, `V`, …).
    pub fn from_code(code: &str) -> Self {
        match code.as_bytes().first() {
            Some(b'P') => Self::Passport,
            Some(b'I' | b'A' | b'C') => Self::IdCard,
            Some(b'V') => Self::Visa,
            _ => Self::Other,
        }
    }
}

/// Everything [`crate::check::check_document`] needs to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentPolicy {
    /// The channel the check comes from (reported, and decides nothing by itself).
    pub channel: Channel,
    /// Document types accepted on this channel.
    pub allowed_types: Vec<DocumentType>,
    /// Days after the printed expiry date a document is still accepted.
    pub expiry_grace_days: u32,
    /// Minimum age of the holder in whole years.
    pub minimum_age: u32,
    /// When non-empty, only these issuing-state codes (e.g. `FRA`, `D`) are accepted.
    pub issuers_allowed: Vec<String>,
    /// Issuing-state codes never accepted.
    pub issuers_denied: Vec<String>,
    /// Decode limits for uploaded document images.
    pub decode_limits: DecodeLimits,
    /// Capture-quality thresholds.
    pub quality: QualityThresholds,
}

impl Default for DocumentPolicy {
    fn default() -> Self {
        Self {
            channel: Channel::Mobile,
            allowed_types: vec![DocumentType::Passport, DocumentType::IdCard],
            expiry_grace_days: 0,
            minimum_age: 18,
            issuers_allowed: Vec::new(),
            issuers_denied: Vec::new(),
            decode_limits: crate::decode::document_decode_limits(),
            quality: QualityThresholds::default(),
        }
    }
}

impl DocumentPolicy {
    /// The policy's reason codes for a reading on `today`.
    pub fn evaluate(&self, reading: &MrzReading, today: Date) -> Vec<DocumentReason> {
        let mut reasons = Vec::new();
        let document_type = DocumentType::from_code(&reading.document_code);
        if !self.allowed_types.contains(&document_type) {
            reasons.push(DocumentReason::DocumentTypeNotAllowed);
        }
        let issuer = reading.issuing_state.code.as_str();
        let denied = self.issuers_denied.iter().any(|code| code == issuer);
        let not_listed =
            !self.issuers_allowed.is_empty() && !self.issuers_allowed.iter().any(|c| c == issuer);
        if denied || not_listed {
            reasons.push(DocumentReason::IssuerNotAllowed);
        }
        let reference = today - Duration::days(i64::from(self.expiry_grace_days));
        if reading.expired(reference) {
            reasons.push(DocumentReason::DocumentExpired);
        }
        match reading.age_on(today) {
            Some(age) if age >= self.minimum_age => {}
            Some(_) => reasons.push(DocumentReason::HolderUnderAge),
            None => reasons.push(DocumentReason::AgeUnknown),
        }
        reasons
    }
}
