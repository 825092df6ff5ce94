//! The document step: validate the MRZ per ICAO 9303, apply the document rules (expiry, minimum
//! age, the identity the client declared) and find the portrait the selfie will be matched to.
//!
//! Fatal reasons (the document itself is unacceptable, a retake cannot help): `document_expired`,
//! `holder_under_age`, `declared_identity_mismatch`. Retryable reasons (a better capture may
//! pass): `mrz_not_read`, `mrz_invalid`, `portrait_not_found`.

use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use simgate_biometrics::{align::warp_to_template, decode::DecodedImage, engine::FaceEngine};
use simgate_documents::{MrzReading, read_mrz};
use time::Date;

use crate::{
    decision::{CheckResult, StepOutcome},
    session::{Applicant, DocumentSummary},
    steps::StepError,
};

/// Document rules of a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentRules {
    /// Youngest accepted holder, in years.
    pub minimum_age_years: u8,
    /// Days after the printed expiry date a document is still accepted.
    pub expiry_grace_days: u16,
}

impl Default for DocumentRules {
    fn default() -> Self {
        Self {
            minimum_age_years: 18,
            expiry_grace_days: 0,
        }
    }
}

/// What the document step found.
#[derive(Debug, Clone)]
pub struct DocumentStepResult {
    /// Pass/fail with reasons and checks.
    pub outcome: StepOutcome,
    /// Whether the failure is final for this verification.
    pub fatal: bool,
    /// The MRZ as read, when one was.
    pub mrz: Option<MrzReading>,
    /// Type, issuer and keyed number hash, when the MRZ was read.
    pub summary: Option<DocumentSummary>,
    /// The portrait's face embedding.
    pub portrait_template: Option<Vec<f32>>,
    /// The portrait aligned to the 112x112 template, RGB bytes.
    pub portrait_aligned_rgb: Option<Vec<u8>>,
}

/// Evaluates one document submission. `number_key` keys the document-number hash so the hash
/// links reuse of a document across verifications without being reversible by brute force.
pub fn evaluate_document(
    engine: &dyn FaceEngine,
    image: &DecodedImage,
    mrz_text: Option<&str>,
    applicant: &Applicant,
    rules: &DocumentRules,
    today: Date,
    number_key: &[u8],
) -> Result<DocumentStepResult, StepError> {
    let mut checks = Vec::new();
    let mut reasons = Vec::new();
    let mut fatal = false;

    let mrz = match mrz_text.map(|text| read_mrz(text, today)) {
        None => {
            reasons.push("mrz_not_read".to_owned());
            checks.push(CheckResult::flag("mrz_read", false));
            None
        }
        Some(Err(_)) => {
            reasons.push("mrz_not_read".to_owned());
            checks.push(CheckResult::flag("mrz_read", false));
            None
        }
        Some(Ok(reading)) => Some(reading),
    };
    if let Some(reading) = &mrz {
        let digits_valid = reading.all_check_digits_valid;
        checks.push(CheckResult::flag("mrz_check_digits", digits_valid));
        if !digits_valid {
            reasons.push("mrz_invalid".to_owned());
        }
        let not_expired = reading.expiry_date.date.is_some_and(|expiry| {
            expiry + time::Duration::days(i64::from(rules.expiry_grace_days)) >= today
        });
        checks.push(CheckResult::flag("document_not_expired", not_expired));
        if digits_valid && !not_expired {
            reasons.push("document_expired".to_owned());
            fatal = true;
        }
        let age = reading.birth_date.date.map(|birth| age_on(birth, today));
        let adult = age.is_some_and(|age| age >= i32::from(rules.minimum_age_years));
        checks.push(CheckResult::scored(
            "holder_minimum_age",
            adult,
            f64::from(age.unwrap_or(-1)),
            f64::from(rules.minimum_age_years),
        ));
        if digits_valid && !adult {
            reasons.push("holder_under_age".to_owned());
            fatal = true;
        }
        if let Some(declared) = declared_identity_matches(applicant, reading) {
            checks.push(CheckResult::flag("declared_identity", declared));
            if digits_valid && !declared {
                reasons.push("declared_identity_mismatch".to_owned());
                fatal = true;
            }
        }
    }

    let faces = engine.detect_faces(image)?;
    // The largest face is the portrait; a smaller second one is the usual ghost image.
    let portrait = faces
        .iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()));
    checks.push(CheckResult::flag("portrait_found", portrait.is_some()));
    let (portrait_template, portrait_aligned_rgb) = match portrait {
        Some(face) => {
            let embedding = engine.embed_face(image, face)?;
            let aligned = warp_to_template(image.as_rgb_image(), &face.landmarks);
            (
                Some(embedding.values().to_vec()),
                aligned.map(image::RgbImage::into_raw),
            )
        }
        None => {
            reasons.push("portrait_not_found".to_owned());
            (None, None)
        }
    };

    let summary = mrz.as_ref().map(|reading| DocumentSummary {
        document_type: document_type(reading).to_owned(),
        issuer: reading.issuing_state.code.clone(),
        number_hash: keyed_hash(
            number_key,
            &format!("{}/{}", reading.issuing_state.code, reading.document_number),
        ),
    });
    Ok(DocumentStepResult {
        outcome: StepOutcome::from_checks(checks, reasons),
        fatal,
        mrz,
        summary,
        portrait_template,
        portrait_aligned_rgb,
    })
}

/// Full years between `birth` and `today`.
pub fn age_on(birth: Date, today: Date) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month() as u8, today.day()) < (birth.month() as u8, birth.day()) {
        age -= 1;
    }
    age
}

/// `None` when the client declared nothing; otherwise whether every declared value agrees.
fn declared_identity_matches(applicant: &Applicant, reading: &MrzReading) -> Option<bool> {
    let surname = applicant
        .declared_surname
        .as_deref()
        .map(|declared| normalise_name(declared) == normalise_name(&reading.names.primary));
    let birth = applicant.declared_birth_date.as_deref().map(|declared| {
        reading
            .birth_date
            .date
            .is_some_and(|date| date.to_string() == declared.trim())
    });
    match (surname, birth) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(true) && b.unwrap_or(true)),
    }
}

/// Upper-case letters only: the MRZ drops accents, hyphens and apostrophes.
fn normalise_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn document_type(reading: &MrzReading) -> &'static str {
    match reading.document_code.chars().next() {
        Some('P') => "passport",
        Some('V') => "visa",
        Some('I' | 'A' | 'C') => "id_card",
        _ => "other",
    }
}

/// Hex HMAC-SHA256 of `value` under `key`.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
