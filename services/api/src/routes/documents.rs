//! `POST /v1/documents/check`: a stand-alone document check, outside any verification session.
//!
//! Multipart `image` (the data page; optional when `mrz_text` is given), optional `back` (the
//! back of an ID card, where TD1 cards carry their MRZ), optional `mrz_text` (what a kiosk's
//! document reader read) and optional `channel` (`kiosk`, `mobile` or `batch`; the policy
//! differs per channel). The answer is the documents crate's report: `document` (type, format,
//! issuer), `mrz` (lines, `valid`, per-field values and check-digit validity, corrections),
//! `quality`, `portrait` (`found`, `box`) and `reasons`. A document with problems is a 200
//! with reasons; only unusable input is a 4xx. The portrait crop itself is never returned.

use axum::{
    Json,
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
};
use simgate_core::Scope;
use simgate_documents::{Channel, DocumentError, DocumentInput, DocumentPolicy, check_document};

use crate::{
    auth::Principal,
    error::{ApiError, invalid_field},
    routes::{
        multipart::{FieldKind, FieldSpec, multipart_rejection, read_form},
        verifications::face_engine,
    },
    state::AppState,
};

/// The longest MRZ text accepted (three 30-character lines with generous whitespace).
const MAX_MRZ_TEXT_BYTES: usize = 512;

/// Multipart form of a document check (documentation only).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DocumentCheckForm {
    /// The document's data page (JPEG, PNG or WebP); optional when `mrz_text` is given.
    #[schema(value_type = Option<String>, format = Binary)]
    image: Option<Vec<u8>>,
    /// The back of an ID card.
    #[schema(value_type = Option<String>, format = Binary)]
    back: Option<Vec<u8>>,
    /// The MRZ as read by a document reader, lines separated by newlines.
    mrz_text: Option<String>,
    /// `kiosk`, `mobile` (default) or `batch`.
    channel: Option<String>,
}

/// Maps the documents crate's input errors to problems.
pub fn document_error(error: DocumentError) -> ApiError {
    use DocumentError as E;
    let detail = error.to_string();
    match error {
        E::MrzTooLong { .. }
        | E::MrzLineCount { .. }
        | E::MrzIllegalCharacter { .. }
        | E::MrzLineLength { .. } => invalid_field("mrz_text", detail),
        E::NoInput => invalid_field("image", detail),
        E::ImageTooLarge { image, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "image-too-large",
            "Image too large",
            detail,
        )
        .with("image", image),
        E::UnsupportedFormat { image } => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-image-format",
            "Unsupported image format",
            detail,
        )
        .with("image", image),
        E::EmptyImage { image }
        | E::TooManyPixels { image, .. }
        | E::CorruptImage { image, .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "undecodable-image",
            "Undecodable image",
            detail,
        )
        .with("image", image),
        E::FaceEngine(reason) => ApiError::internal(&reason),
    }
}

/// Checks a document image and/or MRZ text.
#[utoipa::path(
    post, path = "/v1/documents/check", tag = "documents",
    request_body(content = DocumentCheckForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The report: document, mrz (lines, valid, fields, checks), quality, portrait, reasons", body = serde_json::Value),
        (status = 413, description = "Image too large", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JPEG, PNG or WebP", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nothing to check, malformed MRZ text, or an undecodable image (`field` / `image` name it)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Models still loading", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["verify"]))
)]
pub async fn check_document_upload(
    State(state): State<AppState>,
    principal: Principal,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    principal.require(Scope::Verify)?;
    let mut policy = DocumentPolicy::default();
    let form = read_form(
        multipart.map_err(multipart_rejection)?,
        &[
            FieldSpec {
                name: "image",
                kind: FieldKind::Image,
                min: 0,
                max: 1,
            },
            FieldSpec {
                name: "back",
                kind: FieldKind::Image,
                min: 0,
                max: 1,
            },
            FieldSpec {
                name: "mrz_text",
                kind: FieldKind::Text(MAX_MRZ_TEXT_BYTES),
                min: 0,
                max: 1,
            },
            FieldSpec {
                name: "channel",
                kind: FieldKind::Text(16),
                min: 0,
                max: 1,
            },
        ],
        policy.decode_limits.max_bytes,
    )
    .await?;
    if let Some(channel) = form.text("channel") {
        policy.channel = match channel {
            "kiosk" => Channel::Kiosk,
            "mobile" => Channel::Mobile,
            "batch" => Channel::Batch,
            _ => return Err(invalid_field("channel", "must be kiosk, mobile or batch")),
        };
    }
    let engine = face_engine(&state)?;
    let image = form.image("image");
    let back = form.image("back");
    let mrz_text = form.text("mrz_text").map(str::to_owned);
    let today = state.clock.now().date();
    let report = tokio::task::spawn_blocking(move || {
        let input = DocumentInput {
            image: image.as_deref(),
            back: back.as_deref(),
            mrz_text: mrz_text.as_deref(),
        };
        check_document(&input, &policy, engine.as_ref(), today)
            .map_err(document_error)
            .and_then(|check| serde_json::to_value(&check).map_err(|e| ApiError::internal(&e)))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(Json(report))
}
