//! Face biometrics for simgate: decode an untrusted image safely, detect and select the face,
//! gate its quality, align and embed it with SFace, compare, and check liveness (passive PAD
//! with MiniFASNet, active challenge-response over a few frames).
//!
//! Layout:
//! - [`decode`]: byte/pixel limits, format allow-list, EXIF orientation -> [`decode::DecodedImage`].
//! - [`detect`]: YuNet pre-processing (letterbox) and post-processing (anchor decoding, NMS).
//! - [`resample`]: the separable resizes of the hot path (detector input, portrait upscaling).
//! - [`select`]: which face an image is about ([`select::CaptureKind`]: selfie or document
//!   portrait); a second person in a selfie is [`BiometricsError::MultipleFaces`].
//! - [`pose`]: scale, roll and yaw from the five landmarks.
//! - [`quality`]: the quality gate, reason codes with retake hints, thresholds per kind.
//! - [`prepare`]: detect + select + quality (+ upscaling of small portraits) in one call.
//! - [`align`]: 5-point similarity transform (Umeyama) and bilinear warp to a 112x112 crop.
//! - [`embed`]: SFace pre-processing and [`embed::FaceEmbedding`] with cosine similarity.
//! - [`calibration`]: genuine/impostor score distributions, FNMR at a target FMR, the shipped
//!   threshold and the FMR it stands for.
//! - [`compare`]: embedding comparison and the `selfie_is_document_portrait` check.
//! - [`pad`]: passive presentation-attack detection behind the [`pad::PadEngine`] trait.
//! - [`liveness`]: active liveness challenges, frame fingerprints, evaluation.
//! - [`engine`]: the [`engine::FaceEngine`] trait and its ONNX Runtime implementation.
//! - [`parallel`]: a compare's two halves side by side on two threads.
//! - [`error`]: the crate's single error type [`BiometricsError`].
//! - `testing` (feature `testing`): fixture paths and synthetic good and bad captures.
//!
//! # Using it from a verification flow
//!
//! Load once per process (ONNX Runtime allows one environment; both engines share it):
//!
//! ```ignore
//! let faces = OrtFaceEngine::load(&EngineConfig { .. })?;            // engine::
//! let pad = OrtPadEngine::load(&PadConfig { models, threshold }, &ort_dylib)?; // optional
//! let checks = FaceCheckConfig::default();                            // prepare::
//! ```
//!
//! Document portrait against selfie:
//!
//! ```ignore
//! let reference = prepare_face(&faces, &portrait, CaptureKind::DocumentPortrait, &checks)?;
//! let probe = prepare_face(&faces, &selfie, CaptureKind::Selfie, &checks)?;
//! // Errors: NoFace, MultipleFaces { count, boxes } (second person in the selfie), model errors.
//! if !reference.quality.passed || !probe.quality.passed {
//!     // report reference.quality.reasons / probe.quality.reasons (code, hint, measured,
//!     // threshold) and ask for a retake; do not match.
//! }
//! let comparison = compare_prepared(&faces, &reference, &probe, &DocumentReplayThresholds::default())?;
//! let matched = comparison.similarity >= match_threshold
//!     && !comparison.document_replay.selfie_is_document_portrait;
//! let pad = assess_pad(Some(&pad), probe.matching_image().as_rgb_image(),
//!                      probe.matching_face(), pad_threshold)?;   // PadOutcome { status, score }
//! ```
//!
//! Active liveness for a session's `selfie` step:
//!
//! ```ignore
//! let challenge = LivenessChallenge::issue_random();   // store with the session, send to client
//! // ... client returns 2..=10 frames captured while following challenge.action ...
//! let result = evaluate_liveness(&faces, &challenge, &frames, &earlier_fingerprints,
//!                                &LivenessConfig::default())?;
//! // result.passed, result.reasons (challenge_not_followed, static_frames, duplicate_frames,
//! // replayed_frames, no_face_in_frame, multiple_faces), result.frames (per-frame pose);
//! // store result.fingerprints() to catch replays in later sessions.
//! ```

pub mod align;
pub mod calibration;
pub mod compare;
pub mod decode;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod error;
pub mod liveness;
pub mod pad;
pub mod parallel;
pub mod pose;
pub mod prepare;
pub mod quality;
pub mod refine;
pub mod resample;
pub mod select;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::BiometricsError;

/// SFace cosine-similarity threshold published by OpenCV Zoo (LFW, 99.40% accuracy).
pub const SFACE_PUBLISHED_THRESHOLD: f32 = 0.363;
