//! Scoring one record: fetch and decode the images, find and quality-check each face exactly as
//! the API does (`simgate_biometrics::prepare`), embed the reference once, compare every selfie,
//! and decide.
//!
//! Several selfies: the decision rests on the *lowest* similarity, as the verification flow's
//! selfie step does, so one good frame cannot carry a sequence that also shows someone else.
//! A stored-verification reference has a template but no pixels, so the document-replay check
//! (a selfie that reproduces the portrait) only runs for image references.
//!
//! Nothing here returns an error: every problem becomes reason codes on the record's result.

use std::time::Instant;

use simgate_biometrics::{
    BiometricsError,
    compare::{DocumentReplayThresholds, check_document_replay},
    decode::{DecodeLimits, DecodedImage, decode_image},
    embed::FaceEmbedding,
    engine::FaceEngine,
    prepare::{FaceCheckConfig, PreparedFace, prepare_face},
    select::CaptureKind,
};
use time::OffsetDateTime;

use crate::{
    manifest::{ImageLocation, ManifestEntry, ManifestRecord, ReferenceSource},
    result::{Decision, ModelVersion, RecordResult, StoredScore, Timings},
    source::{ImageSource, SourceError},
};

/// The decision rules of a run (taken from the deployment's `faces.*` configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringConfig {
    /// Cosine similarity at or above which two faces match.
    pub match_threshold: f32,
    /// The false-match rate the threshold stands for.
    pub threshold_fmr: f64,
    /// Face selection and quality gate.
    pub checks: FaceCheckConfig,
    /// When a selfie counts as the document portrait itself.
    pub document_replay: DocumentReplayThresholds,
    /// Image byte and pixel limits.
    pub limits: DecodeLimits,
}

/// What earlier verifications kept (the database, in production).
pub trait StoredVerifications: Send + Sync {
    /// The portrait template of verification `id`; `Ok(None)` when there is no such verification
    /// or it kept no template.
    fn portrait_template(&self, verification_id: &str) -> Result<Option<Vec<f32>>, String>;
    /// The score its selfie step stored; `Ok(None)` when there is no such verification or its
    /// selfie was never scored.
    fn stored_selfie_score(&self, verification_id: &str) -> Result<Option<StoredScore>, String>;
}

/// What a record is scored with.
#[derive(Clone, Copy)]
pub struct Scorer<'a> {
    /// The face models.
    pub engine: &'a dyn FaceEngine,
    /// Where images come from.
    pub images: &'a dyn ImageSource,
    /// Stored verifications, when the run has database access.
    pub templates: Option<&'a dyn StoredVerifications>,
    /// Threshold and gates.
    pub config: &'a ScoringConfig,
    /// The models' ids, written on every line.
    pub model: &'a ModelVersion,
    /// Written on every line.
    pub shard_index: u32,
    /// Written on every line.
    pub run: u32,
}

impl std::fmt::Debug for Scorer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("config", self.config)
            .field("model", self.model)
            .finish_non_exhaustive()
    }
}

/// Why a record stops before a decision could be a match: the reason codes and the decision.
struct Stop {
    decision: Decision,
    reasons: Vec<String>,
}

impl Stop {
    fn unusable(reason: impl Into<String>) -> Self {
        Self {
            decision: Decision::Unusable,
            reasons: vec![reason.into()],
        }
    }
}

/// Per selfie (similarity, selfie replays the portrait), or why there is no score.
type Scored = Result<Vec<(f32, bool)>, Stop>;

/// The reference face, ready to compare against.
enum Reference {
    Image(Box<PreparedFace>, FaceEmbedding),
    Template(FaceEmbedding),
}

impl Scorer<'_> {
    /// Scores one manifest entry (valid or not) into its result line.
    pub fn score(&self, entry: &ManifestEntry) -> RecordResult {
        let started = Instant::now();
        let mut timings = Timings::default();
        let (outcome, reference, label, stored) = match &entry.record {
            Ok(record) if record.selfies.is_empty() => {
                let (outcome, stored) = self.rescore_stored(&record.reference, &mut timings);
                (
                    outcome,
                    Some(record.reference.kind().to_owned()),
                    record.label,
                    stored,
                )
            }
            Ok(record) => (
                self.score_record(record, &mut timings),
                Some(record.reference.kind().to_owned()),
                record.label,
                None,
            ),
            Err(_) => (Err(Stop::unusable("record_invalid")), None, None, None),
        };
        timings.total = elapsed_ms(started);
        let (decision, mut reasons, similarities) = match outcome {
            Ok(similarities) => {
                let (decision, reasons) = self.decide(&similarities);
                (
                    decision,
                    reasons,
                    similarities.into_iter().map(|s| s.0).collect(),
                )
            }
            Err(stop) => (stop.decision, stop.reasons, Vec::new()),
        };
        if let Some(stored) = &stored
            && matches!(decision, Decision::Match | Decision::NoMatch)
            && stored.matched != (decision == Decision::Match)
        {
            reasons.push("decision_changed".to_owned());
        }
        RecordResult {
            seq: entry.seq,
            id: entry.id.clone(),
            decision,
            reasons,
            similarity: similarities.iter().copied().reduce(f32::min),
            similarities,
            threshold: self.config.match_threshold,
            threshold_fmr: self.config.threshold_fmr,
            reference,
            label,
            stored,
            model: self.model.clone(),
            timings_ms: timings,
            shard_index: self.shard_index,
            run: self.run,
            completed_at: OffsetDateTime::now_utc(),
        }
    }

    /// Match when every selfie reaches the threshold and none replays the portrait.
    fn decide(&self, scored: &[(f32, bool)]) -> (Decision, Vec<String>) {
        let mut reasons = Vec::new();
        if scored
            .iter()
            .any(|(similarity, _)| *similarity < self.config.match_threshold)
        {
            reasons.push("similarity_below_threshold".to_owned());
        }
        if scored.iter().any(|(_, replayed)| *replayed) {
            reasons.push("selfie_is_document_portrait".to_owned());
        }
        if reasons.is_empty() {
            (Decision::Match, reasons)
        } else {
            (Decision::NoMatch, reasons)
        }
    }

    /// The stored score of a verification, held against the current threshold.
    fn rescore_stored(
        &self,
        reference: &ReferenceSource,
        timings: &mut Timings,
    ) -> (Scored, Option<StoredScore>) {
        let ReferenceSource::StoredVerification(id) = reference else {
            return (Err(Stop::unusable("record_invalid")), None);
        };
        let Some(verifications) = self.templates else {
            return (Err(Stop::unusable("verification_lookup_unavailable")), None);
        };
        let started = Instant::now();
        let stored = verifications.stored_selfie_score(id);
        timings.read += elapsed_ms(started);
        match stored {
            Err(_) => (Err(Stop::unusable("verification_lookup_failed")), None),
            Ok(None) => (Err(Stop::unusable("verification_not_scored")), None),
            Ok(Some(stored)) => {
                let other_model = stored
                    .model
                    .as_deref()
                    .is_some_and(|model| model != self.model.recogniser);
                let outcome = if other_model {
                    Err(Stop::unusable("stored_score_other_model"))
                } else {
                    Ok(vec![(stored.similarity, false)])
                };
                (outcome, Some(stored))
            }
        }
    }

    /// (similarity, selfie replays the portrait) per selfie, or why there is none.
    fn score_record(&self, record: &ManifestRecord, timings: &mut Timings) -> Scored {
        let reference = self.reference(&record.reference, timings);
        // Every selfie is examined even when the reference failed, so one pass reports every
        // problem of the record.
        let mut selfies = Vec::with_capacity(record.selfies.len());
        let mut stops = Vec::new();
        for location in &record.selfies {
            match self.prepared(location, "selfie", CaptureKind::Selfie, timings) {
                Ok(face) => selfies.push(face),
                Err(stop) => stops.push(stop),
            }
        }
        let reference = match reference {
            Ok(reference) => Some(reference),
            Err(stop) => {
                stops.insert(0, stop);
                None
            }
        };
        if !stops.is_empty() {
            let decision = stops
                .iter()
                .map(|stop| stop.decision)
                .max()
                .unwrap_or(Decision::Unusable);
            let mut reasons: Vec<String> = stops.into_iter().flat_map(|s| s.reasons).collect();
            reasons.dedup();
            return Err(Stop { decision, reasons });
        }
        let Some(reference) = reference else {
            return Err(Stop::unusable("reference_unavailable"));
        };
        let started = Instant::now();
        let mut scored = Vec::with_capacity(selfies.len());
        for selfie in &selfies {
            let embedding = self
                .engine
                .embed_face(selfie.matching_image(), selfie.matching_face())
                .map_err(|error| Stop::unusable(biometrics_code("selfie", &error)))?;
            let (similarity, replayed) = match &reference {
                Reference::Image(prepared, reference_embedding) => {
                    let similarity = reference_embedding.cosine_similarity(&embedding);
                    let replay = check_document_replay(
                        prepared,
                        selfie,
                        similarity,
                        &self.config.document_replay,
                    )
                    .map_err(|error| Stop::unusable(biometrics_code("selfie", &error)))?;
                    (similarity, replay.selfie_is_document_portrait)
                }
                Reference::Template(template) => (template.cosine_similarity(&embedding), false),
            };
            scored.push((similarity, replayed));
        }
        timings.embed += elapsed_ms(started);
        Ok(scored)
    }

    fn reference(
        &self,
        source: &ReferenceSource,
        timings: &mut Timings,
    ) -> Result<Reference, Stop> {
        match source {
            ReferenceSource::DocumentImage(location) | ReferenceSource::PortraitImage(location) => {
                let prepared = self.prepared(
                    location,
                    "reference",
                    CaptureKind::DocumentPortrait,
                    timings,
                )?;
                let started = Instant::now();
                let embedding = self
                    .engine
                    .embed_face(prepared.matching_image(), prepared.matching_face())
                    .map_err(|error| Stop::unusable(biometrics_code("reference", &error)))?;
                timings.embed += elapsed_ms(started);
                Ok(Reference::Image(Box::new(prepared), embedding))
            }
            ReferenceSource::StoredVerification(id) => {
                let started = Instant::now();
                let templates = self
                    .templates
                    .ok_or_else(|| Stop::unusable("verification_lookup_unavailable"))?;
                let template = templates
                    .portrait_template(id)
                    .map_err(|_| Stop::unusable("verification_lookup_failed"))?
                    .ok_or_else(|| Stop::unusable("verification_template_missing"))?;
                timings.read += elapsed_ms(started);
                FaceEmbedding::from_values(&template)
                    .map(Reference::Template)
                    .ok_or_else(|| Stop::unusable("verification_template_unusable"))
            }
        }
    }

    /// Fetches, decodes, detects and quality-checks one image; a failed quality gate is a
    /// `retake` stop with one reason per failed check.
    fn prepared(
        &self,
        location: &ImageLocation,
        role: &str,
        kind: CaptureKind,
        timings: &mut Timings,
    ) -> Result<PreparedFace, Stop> {
        let image = self.decoded(location, role, timings)?;
        let started = Instant::now();
        let prepared = prepare_face(self.engine, &image, kind, &self.config.checks);
        timings.detect += elapsed_ms(started);
        let prepared = prepared.map_err(|error| Stop::unusable(biometrics_code(role, &error)))?;
        if !prepared.quality.passed {
            return Err(Stop {
                decision: Decision::Retake,
                reasons: prepared
                    .quality
                    .reasons
                    .iter()
                    .map(|reason| format!("{role}_{}", reason.code.as_str()))
                    .collect(),
            });
        }
        Ok(prepared)
    }

    fn decoded(
        &self,
        location: &ImageLocation,
        role: &str,
        timings: &mut Timings,
    ) -> Result<DecodedImage, Stop> {
        let started = Instant::now();
        let bytes = self
            .images
            .fetch(location, self.config.limits.max_bytes)
            .map_err(|error: SourceError| Stop::unusable(format!("{role}_{}", error.code())))?;
        timings.read += elapsed_ms(started);
        let started = Instant::now();
        let image = decode_image(&bytes, &self.config.limits);
        timings.decode += elapsed_ms(started);
        image.map_err(|error| Stop::unusable(biometrics_code(role, &error)))
    }
}

/// `{role}_{code}` for a biometrics error.
fn biometrics_code(role: &str, error: &BiometricsError) -> String {
    let code = match error {
        BiometricsError::EmptyImage
        | BiometricsError::UnsupportedFormat
        | BiometricsError::CorruptImage(_) => "image_unreadable",
        BiometricsError::ImageTooLarge { .. } | BiometricsError::TooManyPixels { .. } => {
            "image_too_large"
        }
        BiometricsError::NoFace => "no_face",
        BiometricsError::MultipleFaces { .. } => "multiple_faces",
        BiometricsError::InvalidRequest(_) => "invalid_request",
        BiometricsError::ModelLoad(_) | BiometricsError::Inference(_) => "inference_failed",
    };
    format!("{role}_{code}")
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}
