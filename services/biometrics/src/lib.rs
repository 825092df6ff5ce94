//! Face biometrics for simgate: decode an untrusted image safely, detect faces with YuNet,
//! align the face onto the ArcFace template, embed it with SFace and compare embeddings.
//!
//! Layout:
//! - [`decode`]: byte/pixel limits, format allow-list, EXIF orientation -> [`decode::DecodedImage`].
//! - [`detect`]: YuNet pre-processing (letterbox) and post-processing (anchor decoding, NMS).
//! - [`align`]: 5-point similarity transform (Umeyama) and bilinear warp to a 112x112 crop.
//! - [`embed`]: SFace pre-processing and [`embed::FaceEmbedding`] with cosine similarity.
//! - [`calibration`]: genuine/impostor score distributions, FNMR at a target FMR, the shipped
//!   threshold and the FMR it stands for.
//! - [`engine`]: the [`engine::FaceEngine`] trait and its ONNX Runtime implementation.
//! - [`error`]: the crate's single error type [`BiometricsError`].
//! - `testing` (feature `testing`): fixture paths and synthetic bad images for tests.

pub mod align;
pub mod calibration;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod error;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::BiometricsError;

/// SFace cosine-similarity threshold published by OpenCV Zoo (LFW, 99.40% accuracy).
pub const SFACE_PUBLISHED_THRESHOLD: f32 = 0.363;
