//! One line of the results file: what the job decided about one record, why, with which model
//! and threshold, and how long each stage took.
//!
//! Decisions:
//! - `match`: every selfie matches the reference at the threshold and none is the document
//!   portrait itself;
//! - `no_match`: a comparison ran and failed (`similarity_below_threshold`,
//!   `selfie_is_document_portrait`);
//! - `retake`: a face failed the quality gate (`reference_blurry`, `selfie_face_too_small`, ...),
//!   so no score is given, as the API does;
//! - `unusable`: the record could not be scored (`record_invalid`, `selfie_image_missing`,
//!   `reference_image_unreadable`, `selfie_no_face`, `selfie_multiple_faces`, ...).
//!
//! A stored verification re-scored from its stored score (no selfie in the record) is decided
//! by the current threshold; `decision_changed` is added to its reasons when the outcome differs
//! from the one stored, and a score from another recogniser is `unusable`
//! (`stored_score_other_model`: thresholds do not carry across models).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::manifest::Label;

/// The outcome of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Same person.
    Match,
    /// Compared and not the same person (or a replayed portrait).
    NoMatch,
    /// A face failed the quality gate; a better capture is needed.
    Retake,
    /// The record could not be scored.
    Unusable,
}

impl Decision {
    /// The decision as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::NoMatch => "no_match",
            Self::Retake => "retake",
            Self::Unusable => "unusable",
        }
    }
}

/// The models that produced a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Face detector id.
    pub detector: String,
    /// Face recogniser id.
    pub recogniser: String,
}

/// Milliseconds per stage of one record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Fetching image bytes.
    pub read: f64,
    /// Decoding (format checks, EXIF orientation).
    pub decode: f64,
    /// Detection, face selection and the quality gate.
    pub detect: f64,
    /// Alignment, embedding, cosine and the document-replay check.
    pub embed: f64,
    /// The whole record.
    pub total: f64,
}

/// One results line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordResult {
    /// The record's position in the manifest (0-based, counting every non-blank line).
    pub seq: u64,
    /// The record's id, when it had one.
    pub id: Option<String>,
    /// The outcome.
    pub decision: Decision,
    /// Why it is not a match; empty for `match`.
    pub reasons: Vec<String>,
    /// The lowest similarity over the selfies (the one the decision rests on), when scored.
    pub similarity: Option<f32>,
    /// The similarity of each selfie, in manifest order, when scored.
    pub similarities: Vec<f32>,
    /// The threshold applied.
    pub threshold: f32,
    /// The false-match rate the threshold stands for.
    pub threshold_fmr: f64,
    /// `document_image`, `portrait_image` or `verification_id`, for valid records.
    pub reference: Option<String>,
    /// Ground truth from the manifest.
    pub label: Option<Label>,
    /// What the verification decided when it ran (stored re-scoring only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<StoredScore>,
    /// The models used.
    pub model: ModelVersion,
    /// Stage timings.
    pub timings_ms: Timings,
    /// The shard that wrote the line.
    pub shard_index: u32,
    /// Which invocation of the job wrote it (1 for the first, 2 after one resume, ...).
    pub run: u32,
    /// When the record was finished.
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
}

/// The score a verification stored when its selfie step ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredScore {
    /// The (lowest) similarity of the selfie to the portrait.
    pub similarity: f32,
    /// The threshold it was held against then.
    pub threshold: f32,
    /// Whether it matched then.
    pub matched: bool,
    /// The recogniser that scored it, when recorded.
    pub model: Option<String>,
}

/// Only the fields resuming and merging need, parsed cheaply from a line.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct LinePosition {
    /// The record's manifest position.
    pub seq: u64,
}
