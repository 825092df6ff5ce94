//! Safe decoding of document uploads, reusing the biometrics crate's decoder (format
//! allow-list by magic bytes, byte and pixel limits checked from the header before the full
//! decode, JPEG truncation check, EXIF orientation) with limits sized for document photos,
//! which are larger than selfies.

pub use simgate_biometrics::decode::{DecodeLimits, DecodedImage};
use simgate_biometrics::{BiometricsError, decode::decode_image};

use crate::DocumentError;

/// Default limits for document images: 10 MB (two fit the default request body), 50
/// megapixels and 16 000 pixels a side (more than selfies: documents are shot closer to
/// full sensor resolution).
pub fn document_decode_limits() -> DecodeLimits {
    DecodeLimits {
        max_bytes: 10 * 1024 * 1024,
        max_pixels: 50_000_000,
        max_dimension: 16_000,
    }
}

/// Decodes the upload named `image` (`"image"` or `"back"`) under `limits`.
pub fn decode_document(
    bytes: &[u8],
    limits: &DecodeLimits,
    image: &'static str,
) -> Result<DecodedImage, DocumentError> {
    decode_image(bytes, limits).map_err(|error| match error {
        BiometricsError::EmptyImage => DocumentError::EmptyImage { image },
        BiometricsError::ImageTooLarge { bytes, limit } => DocumentError::ImageTooLarge {
            image,
            bytes,
            limit,
        },
        BiometricsError::TooManyPixels {
            width,
            height,
            limit,
        } => DocumentError::TooManyPixels {
            image,
            width,
            height,
            limit,
        },
        BiometricsError::UnsupportedFormat => DocumentError::UnsupportedFormat { image },
        other => DocumentError::CorruptImage {
            image,
            detail: other.to_string(),
        },
    })
}
