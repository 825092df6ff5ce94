//! Reading named image fields from `multipart/form-data` bodies, with per-field size limits
//! enforced while streaming (an oversized field is refused before it is buffered whole).

use axum::extract::{Multipart, multipart::MultipartRejection};
use bytes::{Bytes, BytesMut};

use crate::error::ApiError;

/// Turns axum's multipart rejection (wrong content type, missing boundary, body too large) into a problem.
pub fn multipart_rejection(rejection: MultipartRejection) -> ApiError {
    ApiError::new(
        rejection.status(),
        "invalid-multipart",
        "Invalid multipart body",
        format!(
            "expected a multipart/form-data body: {}",
            rejection.body_text()
        ),
    )
}

/// Reads exactly the `expected` fields (each once) and nothing else, each at most `max_bytes`.
/// Returns the bodies in the order of `expected`.
pub async fn read_image_fields<const N: usize>(
    mut multipart: Multipart,
    expected: [&'static str; N],
    max_bytes: usize,
) -> Result<[Bytes; N], ApiError> {
    let mut bodies: [Option<Bytes>; N] = std::array::from_fn(|_| None);
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(malformed(error)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let Some(index) = expected.iter().position(|e| *e == name) else {
            return Err(ApiError::bad_request(
                "unexpected-field",
                format!(
                    "unexpected multipart field {name:?}; expected {}",
                    expected.join(", ")
                ),
            ));
        };
        if bodies[index].is_some() {
            return Err(ApiError::bad_request(
                "duplicate-field",
                format!("multipart field '{name}' was sent twice"),
            ));
        }
        let mut buffer = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if buffer.len() + chunk.len() > max_bytes {
                return Err(ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "image-too-large",
                    "Image too large",
                    format!(
                        "the '{}' image exceeds the limit of {max_bytes} bytes",
                        expected[index]
                    ),
                )
                .with("image", expected[index]));
            }
            buffer.extend_from_slice(&chunk);
        }
        bodies[index] = Some(buffer.freeze());
    }
    let missing: Vec<&str> = expected
        .iter()
        .zip(&bodies)
        .filter(|(_, body)| body.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            "missing-field",
            format!("missing multipart field(s): {}", missing.join(", ")),
        ));
    }
    Ok(bodies.map(Option::unwrap_or_default))
}

/// What a form field holds.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// An uploaded image, at most the configured image size.
    Image,
    /// UTF-8 text of at most this many bytes.
    Text(usize),
}

/// One field a form accepts.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The field name.
    pub name: &'static str,
    /// What it holds.
    pub kind: FieldKind,
    /// Least number of occurrences (0 = optional).
    pub min: usize,
    /// Greatest number of occurrences.
    pub max: usize,
}

/// The fields of a form read by [`read_form`], in the order they arrived.
#[derive(Debug, Default)]
pub struct FormData {
    /// Image fields.
    pub images: Vec<(&'static str, Bytes)>,
    /// Text fields.
    pub texts: Vec<(&'static str, String)>,
}

impl FormData {
    /// Every image sent under `name`.
    pub fn images_named(&self, name: &str) -> Vec<Bytes> {
        self.images
            .iter()
            .filter(|(field, _)| *field == name)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The first image sent under `name`.
    pub fn image(&self, name: &str) -> Option<Bytes> {
        self.images_named(name).into_iter().next()
    }

    /// The text sent under `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, text)| text.as_str())
    }
}

/// Reads a form of the given fields, enforcing occurrence counts and sizes while streaming.
pub async fn read_form(
    mut multipart: Multipart,
    fields: &[FieldSpec],
    max_image_bytes: usize,
) -> Result<FormData, ApiError> {
    let mut form = FormData::default();
    let mut counts = vec![0usize; fields.len()];
    let expected = || fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let Some(index) = fields.iter().position(|f| f.name == name) else {
            return Err(ApiError::bad_request(
                "unexpected-field",
                format!(
                    "unexpected multipart field {name:?}; expected {}",
                    expected()
                ),
            ));
        };
        let spec = fields[index];
        counts[index] += 1;
        if counts[index] > spec.max {
            return Err(ApiError::bad_request(
                "duplicate-field",
                format!(
                    "multipart field '{}' may appear at most {} time(s)",
                    spec.name, spec.max
                ),
            ));
        }
        let limit = match spec.kind {
            FieldKind::Image => max_image_bytes,
            FieldKind::Text(max) => max,
        };
        let mut buffer = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if buffer.len() + chunk.len() > limit {
                return Err(ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "field-too-large",
                    "Field too large",
                    format!(
                        "the '{}' field exceeds the limit of {limit} bytes",
                        spec.name
                    ),
                )
                .with("field", spec.name));
            }
            buffer.extend_from_slice(&chunk);
        }
        match spec.kind {
            FieldKind::Image => form.images.push((spec.name, buffer.freeze())),
            FieldKind::Text(_) => {
                let text = String::from_utf8(buffer.to_vec()).map_err(|_| {
                    ApiError::bad_request(
                        "invalid-field",
                        format!("the '{}' field is not UTF-8 text", spec.name),
                    )
                })?;
                form.texts.push((spec.name, text));
            }
        }
    }
    for (spec, count) in fields.iter().zip(counts) {
        if count < spec.min {
            return Err(ApiError::bad_request(
                "missing-field",
                format!(
                    "multipart field '{}' must appear at least {} time(s)",
                    spec.name, spec.min
                ),
            ));
        }
    }
    Ok(form)
}

fn malformed(error: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(
        error.status(),
        "invalid-multipart",
        "Invalid multipart body",
        error.body_text(),
    )
}
