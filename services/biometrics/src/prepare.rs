//! One call from a decoded image to a face ready for matching: detect, select, quality gate,
//! and (for small document portraits) upscale before alignment.
//!
//! [`prepare_face`] returns a [`PreparedFace`] even when the quality gate fails, so callers can
//! report every reason at once; only detection problems (no face, a second person in a
//! selfie) and model failures are errors. Check [`PreparedFace::quality`] before matching.
//!
//! Small document portraits are upscaled with a Catmull-Rom (bicubic) filter until their eyes
//! are [`PortraitUpscale::target_inter_eye_px`] apart: the aligner's bilinear sampling would
//! otherwise magnify the JPEG blocks and print raster of a tiny scanned portrait. Quality is
//! measured on the original pixels (the thresholds speak of what was captured); the embedding
//! is taken from the upscaled image.

use serde::{Deserialize, Serialize};

use crate::{
    BiometricsError,
    decode::DecodedImage,
    detect::{BoundingBox, FaceDetection, Point},
    engine::FaceEngine,
    quality::{QualityReport, QualityThresholds, assess_quality},
    resample::{Kernel, resample_rgb},
    select::{CaptureKind, SelectionPolicy, select_face},
};

/// When and how far small document portraits are upscaled before alignment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortraitUpscale {
    /// Portraits whose eyes are closer than this (pixels) are upscaled to it (default 64).
    pub target_inter_eye_px: f32,
    /// Largest upscale factor (default 4).
    pub max_factor: f32,
}

impl Default for PortraitUpscale {
    fn default() -> Self {
        Self {
            target_inter_eye_px: 64.0,
            max_factor: 4.0,
        }
    }
}

/// Everything [`prepare_face`] needs besides the engine.
///
/// With plain serde, fields missing from a `document_quality` table fall back to the *selfie*
/// defaults (serde knows one default per type); layered loaders that start from the serialised
/// [`FaceCheckConfig::default`] (figment, as the API does) keep the document defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceCheckConfig {
    /// Face selection (second person, ghost image).
    pub selection: SelectionPolicy,
    /// Quality limits for selfies (default [`QualityThresholds::selfie`]).
    pub selfie_quality: QualityThresholds,
    /// Quality limits for document portraits (default [`QualityThresholds::document_portrait`]).
    pub document_quality: QualityThresholds,
    /// Upscaling of small document portraits.
    pub portrait_upscale: PortraitUpscale,
}

impl Default for FaceCheckConfig {
    fn default() -> Self {
        Self {
            selection: SelectionPolicy::default(),
            selfie_quality: QualityThresholds::selfie(),
            document_quality: QualityThresholds::document_portrait(),
            portrait_upscale: PortraitUpscale::default(),
        }
    }
}

impl FaceCheckConfig {
    /// The quality thresholds for a kind of capture.
    pub fn quality_for(&self, kind: CaptureKind) -> &QualityThresholds {
        match kind {
            CaptureKind::Selfie => &self.selfie_quality,
            CaptureKind::DocumentPortrait => &self.document_quality,
        }
    }
}

/// A selected face with its quality verdict, ready to embed when the verdict passed.
#[derive(Debug, Clone)]
pub struct PreparedFace {
    /// What the image was checked as.
    pub kind: CaptureKind,
    /// The face in the uploaded image's pixels (report this to callers).
    pub face: FaceDetection,
    /// How many faces the detector found (including ignored background or ghost faces).
    pub faces_found: usize,
    /// Quality gate verdict, measured on the uploaded pixels.
    pub quality: QualityReport,
    /// Factor the matching image was upscaled by (1 when not upscaled).
    pub upscale_factor: f32,
    matching_image: DecodedImage,
    matching_face: FaceDetection,
}

impl PreparedFace {
    /// The image to align and embed (the upload, or its upscaled copy).
    pub fn matching_image(&self) -> &DecodedImage {
        &self.matching_image
    }

    /// The face in [`PreparedFace::matching_image`] pixels.
    pub fn matching_face(&self) -> &FaceDetection {
        &self.matching_face
    }
}

/// Detects, selects and quality-checks the face in `image` as a `kind` capture.
pub fn prepare_face(
    engine: &dyn FaceEngine,
    image: &DecodedImage,
    kind: CaptureKind,
    config: &FaceCheckConfig,
) -> Result<PreparedFace, BiometricsError> {
    let faces = engine.detect_faces(image)?;
    let face = select_face(
        &faces,
        image.width(),
        image.height(),
        kind,
        &config.selection,
    )?;
    let quality = assess_quality(image.as_rgb_image(), &face, kind, config.quality_for(kind));
    let inter_eye = quality.metrics.inter_eye_px;
    let wanted = config.portrait_upscale.target_inter_eye_px;
    let factor = if kind == CaptureKind::DocumentPortrait && inter_eye > 0.0 && inter_eye < wanted {
        (wanted / inter_eye).min(config.portrait_upscale.max_factor.max(1.0))
    } else {
        1.0
    };
    let (matching_image, matching_face) = if factor > 1.01 {
        let rgb = image.as_rgb_image();
        let width = (rgb.width() as f32 * factor).round() as u32;
        let height = (rgb.height() as f32 * factor).round() as u32;
        let upscaled = resample_rgb(rgb, width, height, Kernel::CatmullRom);
        (
            DecodedImage::from_derived_pixels(upscaled),
            scale_detection(&face, factor),
        )
    } else {
        (image.clone(), face)
    };
    Ok(PreparedFace {
        kind,
        face,
        faces_found: faces.len(),
        quality,
        upscale_factor: if factor > 1.01 { factor } else { 1.0 },
        matching_image,
        matching_face,
    })
}

/// The detection with every coordinate multiplied by `factor`.
fn scale_detection(face: &FaceDetection, factor: f32) -> FaceDetection {
    // Pixel centres move by (factor - 1) / 2 under resize; ignoring that half-pixel is harmless
    // next to landmark noise.
    let scale = |point: Point| Point {
        x: point.x * factor,
        y: point.y * factor,
    };
    FaceDetection {
        bbox: BoundingBox {
            x: face.bbox.x * factor,
            y: face.bbox.y * factor,
            width: face.bbox.width * factor,
            height: face.bbox.height * factor,
        },
        landmarks: face.landmarks.map(scale),
        score: face.score,
    }
}
