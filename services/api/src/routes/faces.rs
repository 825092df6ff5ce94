//! `POST /v1/faces/compare`: one reference image and one probe image in, a match decision out.
//!
//! Both images are decoded under the configured limits before any inference; each must hold
//! exactly one face. Inference runs on the blocking pool so the async workers stay responsive,
//! behind the bounded [`crate::admission::InferenceGate`]: when its queue is full the answer is
//! 503 `inference-busy` with `Retry-After`, not an ever-growing wait.

use std::time::Instant;

use axum::{
    Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
};
use serde::Serialize;
use simgate_biometrics::{
    decode::decode_image, detect::FaceDetection, engine::extract_single_face,
};
use simgate_core::Scope;

use crate::{
    admission::Busy,
    auth::Principal,
    error::{ApiError, image_error},
    routes::multipart::{multipart_rejection, read_image_fields},
    state::{AppState, ModelStatus},
};

/// The multipart form of a compare request (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CompareFacesForm {
    /// Reference image (e.g. the document portrait): JPEG, PNG or WebP with exactly one face.
    #[schema(value_type = String, format = Binary)]
    reference: Vec<u8>,
    /// Probe image (e.g. the live selfie): JPEG, PNG or WebP with exactly one face.
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
    /// `similarity >= threshold`.
    #[serde(rename = "match")]
    pub is_match: bool,
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
        (status = 422, description = "Undecodable image, no face or several faces (the `image` member names which)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Models still loading, or the inference queue is full (`inference-busy`, with `Retry-After`)", body = crate::error::Problem, content_type = "application/problem+json"),
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

    let metrics = state.metrics.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // Held until inference ends, even if the client hangs up meanwhile.
        let _permit = permit;
        let reference =
            decode_image(&reference_bytes, &limits).map_err(|e| image_error("reference", e))?;
        let probe = decode_image(&probe_bytes, &limits).map_err(|e| image_error("probe", e))?;
        metrics.inference_in_flight.inc();
        let started = Instant::now();
        let faces = extract_single_face(engine.as_ref(), &reference)
            .map_err(|e| image_error("reference", e))
            .and_then(|r| {
                Ok((
                    r,
                    extract_single_face(engine.as_ref(), &probe)
                        .map_err(|e| image_error("probe", e))?,
                ))
            });
        metrics.inference_in_flight.dec();
        metrics
            .inference_duration_seconds
            .observe(started.elapsed().as_secs_f64());
        let ((reference_face, reference_embedding), (probe_face, probe_embedding)) = faces?;
        Ok::<_, ApiError>((
            reference_face,
            probe_face,
            reference_embedding.cosine_similarity(&probe_embedding),
            engine.model_info(),
        ))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;

    let (reference_face, probe_face, similarity, info) = match outcome {
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
    let faces = &state.settings.faces;
    let is_match = similarity >= faces.match_threshold;
    state
        .metrics
        .face_compare_total
        .with_label_values(&[if is_match { "match" } else { "no_match" }])
        .inc();
    tracing::info!(tenant = %principal.tenant, key_id = %principal.key_id, similarity, is_match, "faces compared");
    Ok(Json(CompareFacesResponse {
        similarity,
        threshold: faces.match_threshold,
        threshold_basis: faces.threshold_basis.clone(),
        threshold_fmr: faces.threshold_fmr,
        is_match,
        reference_face: FaceReport::from(&reference_face),
        probe_face: FaceReport::from(&probe_face),
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
