//! The document check: the one entry point verification sessions and the API call.
//!
//! [`check_document`] decodes the uploads (front `image`, optional `back`), reads the MRZ from
//! whichever side carries it (or takes `mrz_text` from a kiosk's hardware reader, cross-checked
//! against the image when both are given), validates it per ICAO 9303, applies the
//! [`DocumentPolicy`], measures capture quality and finds the portrait. Only unusable input
//! is an error; every finding about the document is a [`DocumentReason`] in the result, so a
//! caller can always explain a refusal.

use image::RgbImage;
use serde::Serialize;
use simgate_biometrics::detect::BoundingBox;
use simgate_biometrics::engine::FaceEngine;
use time::Date;

use crate::DocumentError;
use crate::decode::{DecodedImage, decode_document};
use crate::mrz::{
    CompositeCheck, FieldValidity, HolderNames, MrzDate, MrzFormat, MrzReading, Sex, StateCode,
    read_mrz,
};
use crate::policy::{DocumentPolicy, DocumentType};
use crate::quality::{QualityReport, assess};
use crate::raster::to_gray;
use crate::reader::{ImageMrz, read_mrz_in_image};

/// Margin added on every side of the detected face box for the portrait crop, as a fraction
/// of the box size (the face matcher re-detects and aligns inside the crop).
pub const PORTRAIT_MARGIN: f32 = 0.5;

/// Why a document is not (fully) acceptable. Serialised as stable snake_case codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentReason {
    /// The MRZ characters (or the image, when no MRZ was found) are too small to read reliably.
    ResolutionTooLow,
    /// The MRZ band is out of focus or motion-blurred.
    Blurry,
    /// Specular highlights cover part of the MRZ or the portrait.
    Glare,
    /// The photo is underexposed.
    TooDark,
    /// The photo is overexposed.
    TooBright,
    /// Part of the document lies outside the frame.
    DocumentCutOff,
    /// The document covers too little of the frame.
    DocumentTooSmall,
    /// More than one MRZ was found.
    MultipleDocuments,
    /// No MRZ was found in the images and no MRZ text was given.
    MrzNotFound,
    /// An MRZ was found but its text is not a well-formed MRZ.
    MrzUnreadable,
    /// The MRZ was read but a check digit or field failed.
    MrzInvalid,
    /// The MRZ text given and the MRZ read from the image disagree.
    MrzMismatch,
    /// The document expired (beyond the grace period).
    DocumentExpired,
    /// The holder is younger than the minimum age.
    HolderUnderAge,
    /// The birth date cannot be trusted, so the age cannot be shown.
    AgeUnknown,
    /// The document type is not accepted on this channel.
    DocumentTypeNotAllowed,
    /// The issuing state is denied or not on the allow list.
    IssuerNotAllowed,
    /// No face was found on the document.
    PortraitNotFound,
}

/// What to check: at least one of `image` and `mrz_text`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocumentInput<'a> {
    /// The document (front side for cards; the data page for passports), encoded.
    pub image: Option<&'a [u8]>,
    /// The back side of a card, encoded.
    pub back: Option<&'a [u8]>,
    /// MRZ text from a hardware reader.
    pub mrz_text: Option<&'a str>,
}

/// The document summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocumentSummary {
    /// Passport, ID card, visa or other; `None` without an MRZ.
    #[serde(rename = "type")]
    pub document_type: Option<DocumentType>,
    /// MRZ format.
    pub format: Option<MrzFormat>,
    /// Issuing state code.
    pub issuer: Option<String>,
}

/// The values read from the MRZ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MrzFields {
    /// Document code, e.g. `P`, `ID`.
    pub document_code: String,
    /// Issuing state.
    pub issuing_state: StateCode,
    /// Document number.
    pub document_number: String,
    /// Holder's names.
    pub names: HolderNames,
    /// Nationality.
    pub nationality: StateCode,
    /// Date of birth.
    pub birth_date: MrzDate,
    /// Sex.
    pub sex: Option<Sex>,
    /// Date of expiry.
    pub expiry_date: MrzDate,
    /// Optional data 1 (TD3: personal number).
    pub optional_data_1: String,
    /// Optional data 2 (TD1 only).
    pub optional_data_2: Option<String>,
}

/// Check outcomes of the MRZ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MrzChecks {
    /// Every check digit (and the composite) matches.
    pub check_digits_valid: bool,
    /// The composite check digit's outcome.
    pub composite: CompositeCheck,
    /// Per-field validity.
    pub fields: Vec<FieldValidity>,
    /// Characters changed by OCR correction.
    pub corrections: Vec<crate::mrz::Correction>,
}

/// The MRZ part of the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MrzReport {
    /// Where the MRZ came from: `image`, `back` or `text`.
    pub source: &'static str,
    /// The MRZ lines after correction.
    pub lines: Vec<String>,
    /// Every field and check digit is valid.
    pub valid: bool,
    /// The values read.
    pub fields: MrzFields,
    /// The checks.
    pub checks: MrzChecks,
    /// Mean OCR confidence (the network's probability of each character read, 0..1); `None`
    /// for text input.
    pub ocr_confidence: Option<f32>,
}

/// Capture quality of each image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualitySummary {
    /// The front image.
    pub image: Option<QualityReport>,
    /// The back image.
    pub back: Option<QualityReport>,
}

/// A face box in the front image's pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PortraitBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// The portrait part of the result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortraitReport {
    /// Whether a face was found on the document.
    pub found: bool,
    /// The face box.
    #[serde(rename = "box")]
    pub face_box: Option<PortraitBox>,
    /// Detector confidence.
    pub score: Option<f32>,
}

/// The result of a document check; serialises to the API response shape. The portrait crop
/// is kept out of the serialised form (it is biometric data for the face matcher only).
#[derive(Clone, Serialize)]
pub struct DocumentCheck {
    /// Document summary.
    pub document: DocumentSummary,
    /// The MRZ, when one was read.
    pub mrz: Option<MrzReport>,
    /// Capture quality.
    pub quality: QualitySummary,
    /// The portrait.
    pub portrait: PortraitReport,
    /// Every reason the document is not acceptable; empty when it is.
    pub reasons: Vec<DocumentReason>,
    /// The portrait crop (face box plus margin) for the face matcher.
    #[serde(skip)]
    pub portrait_image: Option<RgbImage>,
}

impl std::fmt::Debug for DocumentCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocumentCheck")
            .field("document", &self.document)
            .field("mrz", &self.mrz)
            .field("quality", &self.quality)
            .field("portrait", &self.portrait)
            .field("reasons", &self.reasons)
            .finish_non_exhaustive()
    }
}

impl DocumentCheck {
    /// Whether the document passed every check.
    pub fn accepted(&self) -> bool {
        self.reasons.is_empty()
    }
}

fn mrz_report(
    reading: &MrzReading,
    source: &'static str,
    ocr_confidence: Option<f32>,
) -> MrzReport {
    MrzReport {
        source,
        lines: reading.corrected_lines.clone(),
        valid: reading.all_fields_valid() && reading.all_check_digits_valid,
        fields: MrzFields {
            document_code: reading.document_code.clone(),
            issuing_state: reading.issuing_state.clone(),
            document_number: reading.document_number.clone(),
            names: reading.names.clone(),
            nationality: reading.nationality.clone(),
            birth_date: reading.birth_date.clone(),
            sex: reading.sex,
            expiry_date: reading.expiry_date.clone(),
            optional_data_1: reading.optional_data_1.clone(),
            optional_data_2: reading.optional_data_2.clone(),
        },
        checks: MrzChecks {
            check_digits_valid: reading.all_check_digits_valid,
            composite: reading.composite_check,
            fields: reading.fields.clone(),
            corrections: reading.corrections.clone(),
        },
        ocr_confidence,
    }
}

fn push(reasons: &mut Vec<DocumentReason>, reason: DocumentReason) {
    if !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

/// Finds the best face on `image` and crops it with [`PORTRAIT_MARGIN`].
fn find_portrait(
    image: &DecodedImage,
    faces: &dyn FaceEngine,
) -> Result<Option<(BoundingBox, f32, RgbImage)>, DocumentError> {
    let detections = faces
        .detect_faces(image)
        .map_err(|e| DocumentError::FaceEngine(e.to_string()))?;
    let Some(best) = detections
        .into_iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
    else {
        return Ok(None);
    };
    let b = best.bbox;
    let rgb = image.as_rgb_image();
    let x0 = (b.x - PORTRAIT_MARGIN * b.width).max(0.0) as u32;
    let y0 = (b.y - PORTRAIT_MARGIN * b.height).max(0.0) as u32;
    let x1 = ((b.x + b.width * (1.0 + PORTRAIT_MARGIN)) as u32).min(rgb.width());
    let y1 = ((b.y + b.height * (1.0 + PORTRAIT_MARGIN)) as u32).min(rgb.height());
    if x1 <= x0 || y1 <= y0 {
        return Ok(None);
    }
    let crop = image::imageops::crop_imm(rgb, x0, y0, x1 - x0, y1 - y0).to_image();
    Ok(Some((b, best.score, crop)))
}

/// Checks a document: decode, read the MRZ, validate, apply `policy`, measure quality, find the
/// portrait with `faces`. `today` is the caller's date (expiry, age, century inference).
///
/// Errors only for unusable input (no input, undecodable or oversized images, malformed MRZ
/// text) and face-engine failures; everything about the document itself is in `reasons`.
pub fn check_document(
    input: &DocumentInput<'_>,
    policy: &DocumentPolicy,
    faces: &dyn FaceEngine,
    today: Date,
) -> Result<DocumentCheck, DocumentError> {
    if input.image.is_none() && input.mrz_text.is_none() {
        return Err(DocumentError::NoInput);
    }
    let text_reading = input
        .mrz_text
        .map(|text| read_mrz(text, today))
        .transpose()?;
    let front = input
        .image
        .map(|bytes| decode_document(bytes, &policy.decode_limits, "image"))
        .transpose()?;
    let back = input
        .back
        .map(|bytes| decode_document(bytes, &policy.decode_limits, "back"))
        .transpose()?;

    let mut reasons = Vec::new();
    let front_gray = front.as_ref().map(|i| to_gray(i.as_rgb_image()));
    let back_gray = back.as_ref().map(|i| to_gray(i.as_rgb_image()));
    let back_mrz = back_gray.as_ref().and_then(|g| read_mrz_in_image(g, today));
    let front_mrz = front_gray
        .as_ref()
        .and_then(|g| read_mrz_in_image(g, today));

    let portrait = match &front {
        Some(image) => find_portrait(image, faces)?,
        None => None,
    };
    let portrait_rect = portrait
        .as_ref()
        .map(|(b, _, _)| (b.x, b.y, b.width, b.height));

    let quality_of = |gray: &Option<image::GrayImage>, found: &Option<ImageMrz>, with_portrait| {
        gray.as_ref().map(|g| {
            assess(
                g,
                found.as_ref().map(|m| &m.located),
                found.as_ref().map_or(0, |m| m.zones_found),
                if with_portrait { portrait_rect } else { None },
                &policy.quality,
            )
        })
    };
    let quality = QualitySummary {
        image: quality_of(&front_gray, &front_mrz, true),
        back: quality_of(&back_gray, &back_mrz, false),
    };
    for report in [&quality.image, &quality.back].into_iter().flatten() {
        for &reason in &report.reasons {
            push(&mut reasons, reason);
        }
    }

    // The image MRZ: the back's when it parses, else the front's.
    let image_mrz = [("back", back_mrz), ("image", front_mrz)]
        .into_iter()
        .filter_map(|(side, found)| found.map(|f| (side, f)))
        .max_by_key(|(_, f)| {
            f.reading
                .as_ref()
                .map_or((0, 0), |r| (1, u8::from(r.all_check_digits_valid)))
        });

    let (reading, report) = match (text_reading, image_mrz) {
        (Some(text), image) => {
            if let Some((_, found)) = &image
                && let Ok(from_image) = &found.reading
                && from_image.all_check_digits_valid
                && from_image.corrected_lines != text.corrected_lines
            {
                push(&mut reasons, DocumentReason::MrzMismatch);
            }
            let report = mrz_report(&text, "text", None);
            (Some(text), Some(report))
        }
        (None, Some((side, found))) => match found.reading {
            Ok(reading) => {
                let report = mrz_report(&reading, side, Some(found.confidence));
                (Some(reading), Some(report))
            }
            Err(_) => {
                push(&mut reasons, DocumentReason::MrzUnreadable);
                (None, None)
            }
        },
        (None, None) => {
            push(&mut reasons, DocumentReason::MrzNotFound);
            (None, None)
        }
    };
    if let Some(reading) = &reading {
        if !(reading.all_check_digits_valid && reading.all_fields_valid()) {
            push(&mut reasons, DocumentReason::MrzInvalid);
        }
        for reason in policy.evaluate(reading, today) {
            push(&mut reasons, reason);
        }
    }
    if portrait.is_none() {
        push(&mut reasons, DocumentReason::PortraitNotFound);
    }

    let (portrait_report, portrait_image) = match portrait {
        Some((b, score, crop)) => (
            PortraitReport {
                found: true,
                face_box: Some(PortraitBox {
                    x: b.x,
                    y: b.y,
                    width: b.width,
                    height: b.height,
                }),
                score: Some(score),
            },
            Some(crop),
        ),
        None => (
            PortraitReport {
                found: false,
                face_box: None,
                score: None,
            },
            None,
        ),
    };
    Ok(DocumentCheck {
        document: DocumentSummary {
            document_type: reading
                .as_ref()
                .map(|r| DocumentType::from_code(&r.document_code)),
            format: reading.as_ref().map(|r| r.format),
            issuer: reading.as_ref().map(|r| r.issuing_state.code.clone()),
        },
        mrz: report,
        quality,
        portrait: portrait_report,
        reasons,
        portrait_image,
    })
}
