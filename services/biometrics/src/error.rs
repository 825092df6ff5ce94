//! The crate's single error type.
//!
//! [`BiometricsError`] covers every failure of the face pipeline: rejected input images
//! (empty, too large, unsupported, corrupt), face-count problems (none, several), malformed
//! requests and model problems (loading, inference). It knows nothing about HTTP; callers map
//! it to responses.

/// Everything that can go wrong while decoding an image, finding a face or embedding it.
#[derive(Debug, thiserror::Error)]
pub enum BiometricsError {
    /// The image body was empty.
    #[error("image is empty")]
    EmptyImage,
    /// The encoded image is larger than the configured byte limit.
    #[error("image is {bytes} bytes, more than the limit of {limit} bytes")]
    ImageTooLarge {
        /// Size of the encoded image in bytes.
        bytes: usize,
        /// Configured maximum in bytes.
        limit: usize,
    },
    /// The image header declares more pixels (or a longer side) than allowed.
    #[error("image is {width}x{height} pixels, which exceeds the limit of {limit}")]
    TooManyPixels {
        /// Width declared by the image header.
        width: u32,
        /// Height declared by the image header.
        height: u32,
        /// The limit that was exceeded (total pixels, or pixels per side).
        limit: u64,
    },
    /// The bytes are not a JPEG, PNG or WebP image.
    #[error("unsupported image format: only JPEG, PNG and WebP are accepted")]
    UnsupportedFormat,
    /// The image is truncated or otherwise cannot be decoded.
    #[error("image is corrupt or truncated: {0}")]
    CorruptImage(String),
    /// No face was found in the image.
    #[error("no face found in the image")]
    NoFace,
    /// More than one face was found where exactly one is required.
    #[error("{count} faces found in the image; exactly one is required")]
    MultipleFaces {
        /// Number of faces found.
        count: usize,
        /// Their boxes in image pixels, so the caller can show who else is in frame.
        boxes: Vec<crate::detect::BoundingBox>,
    },
    /// The caller passed arguments that cannot be evaluated (e.g. too few liveness frames).
    #[error("invalid biometric request: {0}")]
    InvalidRequest(String),
    /// The ONNX Runtime library or a model could not be loaded.
    #[error("could not load face models: {0}")]
    ModelLoad(String),
    /// Running a model failed or produced unexpected output.
    #[error("face model inference failed: {0}")]
    Inference(String),
}
