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

fn malformed(error: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(
        error.status(),
        "invalid-multipart",
        "Invalid multipart body",
        error.body_text(),
    )
}
