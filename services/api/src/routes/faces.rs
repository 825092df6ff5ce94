//! `POST /v1/faces/compare`: one reference image and one probe image in, a match decision out.
//!
//! Each image is decoded under the configured limits before its own inference; the two halves
//! (decode, detection, quality gate) run side by side on two threads. The reference is
//! treated as a document portrait (largest face wins over a ghost image; looser quality
//! limits, small portraits upscaled), the probe as a live selfie (a second significant face is
//! `multiple-faces`). Both pass the quality gate before matching; a failed gate is a 422
//! `face_quality` problem whose `reasons` name the image, never a low score.
//!
//! A probe that reproduces the reference pixel for pixel (the document held up to the camera)
//! is answered 200 with `match: false` and the reason `selfie_is_document_portrait`, not a 4xx:
//! the request was processable and the outcome is a decision to record (a 4xx retake answer
//! would coach an attacker). Passive PAD of the probe is reported in `pad` (`not_configured`
//! without models) and does not change `match`; the verification flow decides on it.
//! Inference runs on the blocking pool so the async workers stay responsive.
//!
//! Admission is bounded by [`crate::admission::InferenceGate`]: when its queue is full the answer
//! is 503 `inference-busy` with `Retry-After`, not an ever-growing wait.

use std::time::Instant;

use axum::{
    Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
};
use serde::Serialize;
use simgate_biometrics::{
    compare::{FaceComparison, compare_prepared},
    decode::{DecodeLimits, decode_image},
    detect::FaceDetection,
    engine::FaceEngine,
    pad::{PadEngine, PadOutcome, assess_pad},
    parallel::both,
    prepare::{PreparedFace, prepare_face},
    quality::QualityMetrics,
    select::CaptureKind,
};
use simgate_core::Scope;

use crate::{
    admission::Busy,
    auth::Principal,
    config::FaceSettings,
    error::{ApiError, face_quality_error, image_error},
    routes::multipart::{multipart_rejection, read_image_fields},
    state::{AppState, ModelStatus, PadStatus},
};

/// The multipart form of a compare request (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CompareFacesForm {
    /// Reference image (the document portrait): JPEG, PNG or WebP; the largest face is used.
    #[schema(value_type = String, format = Binary)]
    reference: Vec<u8>,
    /// Probe image (the live selfie): JPEG, PNG or WebP with exactly one person.
    #[schema(value_type = String, format = Binary)]
    probe: Vec<u8>,
}

/// Result of a comparison.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompareFacesResponse {
    /// Cosine similarity of the two face embeddings, in [-1, 1].
    pub similarity: f32,
    /// The threshold the decision used.
    pub threshold: f32,
    /// What the threshold stands for (its false-match-rate basis).
    pub threshold_basis: String,
    /// The false-match rate the threshold is calibrated for (see models/MODEL_CARD.md).
    pub threshold_fmr: f64,
    /// `similarity >= threshold` and the probe is not the document portrait itself.
    #[serde(rename = "match")]
    pub is_match: bool,
    /// Why `match` is false: `similarity_below_threshold`, `selfie_is_document_portrait`.
    pub reasons: Vec<String>,
    /// The check for a document portrait held up to the camera as the selfie.
    pub document_replay: DocumentReplayReport,
    /// Passive presentation-attack detection of the probe.
    pub pad: PadReport,
    /// Quality measurements of both faces (both passed the gate).
    pub quality: QualityReport,
    /// The face found in the reference image.
    pub reference_face: FaceReport,
    /// The face found in the probe image.
    pub probe_face: FaceReport,
    /// Models that produced the result.
    pub models: ModelsReport,
}

/// One detected face, in the uploaded image's pixel coordinates (after EXIF orientation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FaceReport {
    /// Face bounding box.
    #[serde(rename = "box")]
    pub bounding_box: BoxReport,
    /// Right eye, left eye, nose tip, right and left mouth corners (the subject's right and left).
    pub landmarks: Vec<PointReport>,
    /// Detector confidence in [0, 1].
    pub score: f32,
}

/// An axis-aligned box.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BoxReport {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// A point.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PointReport {
    /// Horizontal coordinate.
    pub x: f32,
    /// Vertical coordinate.
    pub y: f32,
}

/// Measurements of the `selfie_is_document_portrait` check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentReplayReport {
    /// Normalised cross-correlation of the aligned 112x112 grey face crops, in [-1, 1].
    pub crop_correlation: f32,
    /// Limit above which the crops count as the same picture.
    pub max_crop_correlation: f32,
    /// Embedding similarity limit above which the faces count as the same picture.
    pub max_embedding_similarity: f32,
    /// True when the probe reproduces the reference portrait.
    pub selfie_is_document_portrait: bool,
}

/// Passive PAD verdict of the probe.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PadReport {
    /// `live`, `attack` or `not_configured`.
    pub status: String,
    /// Averaged P(real) of the PAD models, when they ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// The threshold applied, when the models ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

impl From<PadOutcome> for PadReport {
    fn from(outcome: PadOutcome) -> Self {
        let status = serde_json::to_value(outcome.status)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            status,
            score: outcome.score,
            threshold: outcome.threshold,
        }
    }
}

/// Quality measurements per image (inter-eye distance, visible fraction, sharpness,
/// brightness, yaw, roll, eye contrast).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QualityReport {
    /// Reference (document portrait) measurements.
    #[schema(value_type = Object)]
    pub reference: QualityMetrics,
    /// Probe (selfie) measurements.
    #[schema(value_type = Object)]
    pub probe: QualityMetrics,
}

/// Model identifiers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelsReport {
    /// Face detector.
    pub detector: String,
    /// Face recogniser.
    pub recogniser: String,
}

impl From<&FaceDetection> for FaceReport {
    fn from(face: &FaceDetection) -> Self {
        let b = &face.bbox;
        Self {
            bounding_box: BoxReport {
                x: b.x,
                y: b.y,
                width: b.width,
                height: b.height,
            },
            landmarks: face
                .landmarks
                .iter()
                .map(|p| PointReport { x: p.x, y: p.y })
                .collect(),
            score: face.score,
        }
    }
}

/// Compares the face in `reference` with the face in `probe`.
#[utoipa::path(
    post, path = "/v1/faces/compare", tag = "faces",
    request_body(content = CompareFacesForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Comparison done", body = CompareFacesResponse),
        (status = 400, description = "Malformed form", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks the verify scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Image or body too large", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JPEG, PNG or WebP", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Undecodable image, no face, several faces in the probe, or `face_quality` (the `image` member, or each entry of `reasons`, names which image)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Models (or configured PAD models) still loading, or the inference queue is full (`inference-busy`, with `Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]))
)]
pub async fn compare_faces(
    State(state): State<AppState>,
    principal: Principal,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<CompareFacesResponse>, ApiError> {
    principal.require(Scope::Verify)?;
    let multipart = multipart.map_err(multipart_rejection)?;
    let limits = state.face_decode_limits();
    let [reference_bytes, probe_bytes] =
        read_image_fields(multipart, ["reference", "probe"], limits.max_bytes).await?;
    let engine = state
        .faces
        .engine()
        .ok_or_else(|| models_unavailable(state.faces.status()))?;

    let permit = match state
        .inference_gate
        .admit(&state.metrics.inference_queued)
        .await
    {
        Ok(permit) => permit,
        Err(busy) => {
            state
                .metrics
                .face_compare_total
                .with_label_values(&["rejected_busy"])
                .inc();
            return Err(inference_busy(busy));
        }
    };

    let pad_engine = match state.faces.pad_status() {
        PadStatus::NotConfigured => None,
        PadStatus::Ready(_) => state.faces.pad_engine(),
        PadStatus::Loading => return Err(models_unavailable(ModelStatus::Loading)),
        PadStatus::Failed(reason) => {
            return Err(models_unavailable(ModelStatus::Failed(format!(
                "PAD: {reason}"
            ))));
        }
    };

    let metrics = state.metrics.clone();
    let settings = state.settings.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // Held until inference ends, even if the client hangs up meanwhile.
        let _permit = permit;
        let faces = &settings.faces;
        metrics.inference_in_flight.inc();
        let started = Instant::now();
        let result = compare_images(
            engine.as_ref(),
            pad_engine.as_deref(),
            (&reference_bytes, &probe_bytes),
            &limits,
            faces,
        );
        metrics.inference_in_flight.dec();
        metrics
            .inference_duration_seconds
            .observe(started.elapsed().as_secs_f64());
        let (reference, probe, comparison, pad) = result?;
        Ok::<_, ApiError>((reference, probe, comparison, pad, engine.model_info()))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;

    let (reference, probe, comparison, pad, info) = match outcome {
        Ok(result) => result,
        Err(error) => {
            state
                .metrics
                .face_compare_total
                .with_label_values(&[&format!("rejected_{}", error.status().as_u16())])
                .inc();
            return Err(error);
        }
    };
    let similarity = comparison.similarity;
    let replay = comparison.document_replay;
    let faces = &state.settings.faces;
    let mut reasons = Vec::new();
    if similarity < faces.match_threshold {
        reasons.push("similarity_below_threshold".to_owned());
    }
    if replay.selfie_is_document_portrait {
        reasons.push("selfie_is_document_portrait".to_owned());
    }
    let is_match = reasons.is_empty();
    state
        .metrics
        .face_compare_total
        .with_label_values(&[if is_match { "match" } else { "no_match" }])
        .inc();
    tracing::info!(tenant = %principal.tenant, key_id = %principal.key_id, similarity, is_match, reasons = ?reasons, pad = ?pad.status, "faces compared");
    Ok(Json(CompareFacesResponse {
        similarity,
        threshold: faces.match_threshold,
        threshold_basis: faces.threshold_basis.clone(),
        threshold_fmr: faces.threshold_fmr,
        is_match,
        reasons,
        document_replay: DocumentReplayReport {
            crop_correlation: replay.crop_correlation,
            max_crop_correlation: faces.document_replay.max_crop_correlation,
            max_embedding_similarity: faces.document_replay.max_embedding_similarity,
            selfie_is_document_portrait: replay.selfie_is_document_portrait,
        },
        pad: PadReport::from(pad),
        quality: QualityReport {
            reference: reference.quality.metrics,
            probe: probe.quality.metrics,
        },
        reference_face: FaceReport::from(&reference.face),
        probe_face: FaceReport::from(&probe.face),
        models: ModelsReport {
            detector: info.detector,
            recogniser: info.recogniser,
        },
    }))
}

fn inference_busy(busy: Busy) -> ApiError {
    let seconds = busy.retry_after.as_secs().max(1);
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "inference-busy",
        "Inference queue full",
        format!("too many face comparisons are running or queued; retry after {seconds} s"),
    )
    .with_retry_after(seconds)
}

/// What a successful comparison produced.
type Compared = (PreparedFace, PreparedFace, FaceComparison, PadOutcome);

/// Decodes and prepares both faces (selection + quality gate) side by side, compares them and
/// runs PAD on the probe. When both images fail, the reference's error is the one reported.
fn compare_images(
    engine: &dyn FaceEngine,
    pad_engine: Option<&dyn PadEngine>,
    (reference_bytes, probe_bytes): (&[u8], &[u8]),
    limits: &DecodeLimits,
    faces: &FaceSettings,
) -> Result<Compared, ApiError> {
    let checks = faces.quality.face_check_config();
    let prepare = |bytes: &[u8], kind: CaptureKind, which: &'static str| {
        let image = decode_image(bytes, limits).map_err(|e| image_error(which, e))?;
        prepare_face(engine, &image, kind, &checks).map_err(|e| image_error(which, e))
    };
    let (reference, probe) = both(
        || prepare(reference_bytes, CaptureKind::DocumentPortrait, "reference"),
        || prepare(probe_bytes, CaptureKind::Selfie, "probe"),
    );
    let (reference, probe) = (reference?, probe?);
    let failures: Vec<(&'static str, &simgate_biometrics::quality::QualityReport)> =
        [("reference", &reference.quality), ("probe", &probe.quality)]
            .into_iter()
            .filter(|(_, report)| !report.passed)
            .collect();
    if !failures.is_empty() {
        return Err(face_quality_error(&failures));
    }
    let comparison = compare_prepared(engine, &reference, &probe, &faces.document_replay)
        .map_err(|e| ApiError::internal(&e))?;
    let pad = assess_pad(
        pad_engine,
        probe.matching_image().as_rgb_image(),
        probe.matching_face(),
        faces.pad.threshold,
    )
    .map_err(|e| ApiError::internal(&e))?;
    Ok((reference, probe, comparison, pad))
}

fn models_unavailable(status: ModelStatus) -> ApiError {
    let detail = match status {
        ModelStatus::Failed(reason) => format!("face models failed to load: {reason}"),
        _ => "face models are still loading; retry shortly".to_owned(),
    };
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "models-unavailable",
        "Models unavailable",
        detail,
    )
}
