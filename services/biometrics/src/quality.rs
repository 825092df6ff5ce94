//! The face quality gate: measure a detected face and reject captures a matcher should not
//! judge, with a reason code, a retake hint, the measured value and the threshold.
//!
//! Layout:
//! - [`QualityThresholds`]: serde-deserialisable limits; [`QualityThresholds::selfie`] (the
//!   `Default`) and the looser [`QualityThresholds::document_portrait`] for small printed
//!   portraits.
//! - [`measure_quality`] -> [`QualityMetrics`]: every measurement, from the image and the
//!   face's box and landmarks, in original image pixels.
//! - [`assess_quality`] -> [`QualityReport`]: metrics compared with thresholds, one
//!   [`QualityReason`] per failed check.
//!
//! How each metric is measured, and why:
//! - `inter_eye_px`: eye-landmark distance; SFace's template puts the eyes 35 px apart, so a
//!   face below that is upsampled and loses identity detail.
//! - `visible_fraction`: the ArcFace crop region (forehead to chin) mapped back into the image
//!   through the alignment transform and sampled on a grid; the share inside the frame. The
//!   detector's box is clamped to the image, so it cannot tell a cut-off face by itself.
//! - `sharpness`: variance of the 4-neighbour Laplacian of the grey face region, after scaling
//!   the region so the eyes are at most [`MEASURE_INTER_EYE_PX`] apart (a fixed scale, so
//!   large photos are not favoured; small faces are never upscaled, which would blur them).
//! - `brightness`: mean luma (BT.601) of the central face region, 0..=255.
//! - `yaw_degrees` / `roll_degrees`: from [`crate::pose::LandmarkPose`].
//! - `eye_contrast`: the lower of the luma standard deviations of two squares centred on the
//!   eye landmarks (side 0.4 eye distances): an open eye has iris, sclera and lid edges; a bar,
//!   hand or dark glasses over it is flat. `eye_occlusion`: the higher share of near-black
//!   pixels (luma < 24) in wider squares (side 0.6 eye distances) around the eyes, for when the
//!   detector guesses an occluded eye's landmark at the edge of the cover.

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::{
    align::{ARCFACE_TEMPLATE, SimilarityTransform},
    detect::{BoundingBox, FaceDetection},
    pose::LandmarkPose,
    resample::{Kernel, resample_rgb},
    select::CaptureKind,
};

/// Eye distance (pixels) at which sharpness, brightness and eye contrast are measured.
pub const MEASURE_INTER_EYE_PX: f32 = 64.0;
/// Face region of the 112x112 ArcFace crop (left, top, right, bottom) used for visibility.
const TEMPLATE_FACE_REGION: [f32; 4] = [12.0, 8.0, 100.0, 110.0];
/// Luma below which a pixel counts as covered (a black bar, dark glasses).
const DARK_LUMA: f64 = 24.0;
/// Grid samples per side when measuring the visible fraction.
const VISIBILITY_GRID: usize = 16;

/// Limits of the quality gate. Every field has a documented default; see
/// [`QualityThresholds::selfie`] and [`QualityThresholds::document_portrait`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityThresholds {
    /// Minimum eye-landmark distance in pixels (`face_too_small`).
    pub min_inter_eye_px: f32,
    /// Minimum share of the face region inside the frame, 0..=1 (`face_cut_off`).
    pub min_visible_fraction: f32,
    /// Minimum variance of the Laplacian of the face (`blurry`).
    pub min_sharpness: f32,
    /// Minimum mean face luma, 0..=255 (`underexposed`).
    pub min_brightness: f32,
    /// Maximum mean face luma, 0..=255 (`overexposed`).
    pub max_brightness: f32,
    /// Maximum absolute yaw in degrees (`excessive_yaw`).
    pub max_yaw_degrees: f32,
    /// Maximum absolute roll in degrees (`excessive_roll`).
    pub max_roll_degrees: f32,
    /// Minimum luma standard deviation around each eye (`eyes_not_visible`).
    pub min_eye_contrast: f32,
    /// Maximum share of near-black pixels (luma < 24) around either eye, 0..=1
    /// (`eyes_not_visible`: a bar, dark glasses or a hand over the eyes).
    pub max_eye_occlusion: f32,
}

impl Default for QualityThresholds {
    fn default() -> Self {
        Self::selfie()
    }
}

impl QualityThresholds {
    /// Defaults for live captures (selfies): eyes >= 32 px apart, >= 90% of the face in frame,
    /// sharpness >= 40, brightness 45..=215, |yaw| <= 15 deg, |roll| <= 15 deg, eye
    /// contrast >= 8, eye occlusion <= 0.5. YuNet's landmarks under-report strong poses (a 40 degree
    /// rotation measures 20-28 degrees of roll), hence the tight pose limits.
    pub fn selfie() -> Self {
        Self {
            min_inter_eye_px: 32.0,
            min_visible_fraction: 0.9,
            min_sharpness: 40.0,
            min_brightness: 45.0,
            max_brightness: 215.0,
            max_yaw_degrees: 15.0,
            max_roll_degrees: 15.0,
            min_eye_contrast: 8.0,
            max_eye_occlusion: 0.5,
        }
    }

    /// Looser defaults for document portraits, which are small, printed, scanned and often
    /// JPEG-compressed: eyes >= 20 px apart, >= 85% in frame, sharpness >= 12, brightness
    /// 35..=230, |yaw| <= 20 deg, |roll| <= 20 deg, eye contrast >= 5, eye occlusion <= 0.6.
    pub fn document_portrait() -> Self {
        Self {
            min_inter_eye_px: 20.0,
            min_visible_fraction: 0.85,
            min_sharpness: 12.0,
            min_brightness: 35.0,
            max_brightness: 230.0,
            max_yaw_degrees: 20.0,
            max_roll_degrees: 20.0,
            min_eye_contrast: 5.0,
            max_eye_occlusion: 0.6,
        }
    }

    /// The default thresholds for a kind of capture.
    pub fn for_kind(kind: CaptureKind) -> Self {
        match kind {
            CaptureKind::Selfie => Self::selfie(),
            CaptureKind::DocumentPortrait => Self::document_portrait(),
        }
    }
}

/// Stable reason codes of the quality gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityCode {
    /// The face is too small (eye distance in pixels).
    FaceTooSmall,
    /// Part of the face is outside the frame.
    FaceCutOff,
    /// The face is out of focus or motion-blurred.
    Blurry,
    /// The face is too dark.
    Underexposed,
    /// The face is too bright (washed out).
    Overexposed,
    /// The head is turned too far sideways.
    ExcessiveYaw,
    /// The head is tilted too far.
    ExcessiveRoll,
    /// The eyes are covered or not visible.
    EyesNotVisible,
}

impl QualityCode {
    /// The code as it appears in JSON (`face_too_small`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FaceTooSmall => "face_too_small",
            Self::FaceCutOff => "face_cut_off",
            Self::Blurry => "blurry",
            Self::Underexposed => "underexposed",
            Self::Overexposed => "overexposed",
            Self::ExcessiveYaw => "excessive_yaw",
            Self::ExcessiveRoll => "excessive_roll",
            Self::EyesNotVisible => "eyes_not_visible",
        }
    }

    /// What the person capturing should do differently.
    pub fn hint(self, kind: CaptureKind) -> &'static str {
        match (self, kind) {
            (Self::FaceTooSmall, CaptureKind::Selfie) => {
                "move closer to the camera so your face fills more of the picture"
            }
            (Self::FaceTooSmall, CaptureKind::DocumentPortrait) => {
                "capture the document closer or at a higher resolution so the portrait is larger"
            }
            (Self::FaceCutOff, CaptureKind::Selfie) => {
                "centre your whole face in the picture, from forehead to chin"
            }
            (Self::FaceCutOff, CaptureKind::DocumentPortrait) => {
                "capture the whole document so the portrait is not cut off"
            }
            (Self::Blurry, _) => "hold the camera still and make sure it is focused",
            (Self::Underexposed, _) => "move to a brighter place or turn towards the light",
            (Self::Overexposed, _) => "avoid direct light, flash or glare on the face",
            (Self::ExcessiveYaw, _) => "look straight into the camera",
            (Self::ExcessiveRoll, _) => "keep your head (or the document) upright",
            (Self::EyesNotVisible, CaptureKind::Selfie) => {
                "remove sunglasses or anything covering your eyes"
            }
            (Self::EyesNotVisible, CaptureKind::DocumentPortrait) => {
                "make sure nothing covers the portrait's eyes (glare, fingers, stickers)"
            }
        }
    }
}

/// One failed check: what, how to fix it, and the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReason {
    /// Stable code.
    pub code: QualityCode,
    /// Retake hint for the person capturing.
    pub hint: String,
    /// The measured value.
    pub measured: f32,
    /// The threshold it failed (a minimum or a maximum, depending on the code).
    pub threshold: f32,
}

/// Every quality measurement of one face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityMetrics {
    /// Eye-landmark distance in pixels.
    pub inter_eye_px: f32,
    /// Share of the face region inside the frame, 0..=1.
    pub visible_fraction: f32,
    /// Variance of the Laplacian of the grey face at the measuring scale.
    pub sharpness: f32,
    /// Mean luma of the central face region, 0..=255.
    pub brightness: f32,
    /// Estimated yaw in degrees (positive: nose towards image right).
    pub yaw_degrees: f32,
    /// Eye-line angle in degrees.
    pub roll_degrees: f32,
    /// Lower of the two eye-region luma standard deviations.
    pub eye_contrast: f32,
    /// Higher of the two eye-region shares of near-black pixels, 0..=1.
    pub eye_occlusion: f32,
}

/// Outcome of the gate for one face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// True when no check failed.
    pub passed: bool,
    /// Failed checks, in a fixed order (size, framing, focus, exposure, pose, eyes).
    pub reasons: Vec<QualityReason>,
    /// Every measurement, failed or not.
    pub metrics: QualityMetrics,
}

/// Measures a face; `face` is in `image` pixels.
pub fn measure_quality(image: &RgbImage, face: &FaceDetection) -> QualityMetrics {
    let pose = LandmarkPose::from_landmarks(&face.landmarks);
    let region = FaceRegion::extract(image, face, pose.inter_eye_px);
    QualityMetrics {
        inter_eye_px: pose.inter_eye_px,
        visible_fraction: visible_fraction(image.width(), image.height(), face),
        sharpness: region.as_ref().map_or(0.0, FaceRegion::sharpness),
        brightness: region.as_ref().map_or(0.0, FaceRegion::brightness),
        yaw_degrees: pose.yaw_degrees,
        roll_degrees: pose.roll_degrees,
        eye_contrast: region.as_ref().map_or(0.0, FaceRegion::eye_contrast),
        eye_occlusion: region.as_ref().map_or(1.0, FaceRegion::eye_occlusion),
    }
}

/// Measures a face and compares it with `thresholds`; hints are worded for `kind`.
pub fn assess_quality(
    image: &RgbImage,
    face: &FaceDetection,
    kind: CaptureKind,
    thresholds: &QualityThresholds,
) -> QualityReport {
    let metrics = measure_quality(image, face);
    let checks = [
        (
            QualityCode::FaceTooSmall,
            metrics.inter_eye_px,
            thresholds.min_inter_eye_px,
            metrics.inter_eye_px < thresholds.min_inter_eye_px,
        ),
        (
            QualityCode::FaceCutOff,
            metrics.visible_fraction,
            thresholds.min_visible_fraction,
            metrics.visible_fraction < thresholds.min_visible_fraction,
        ),
        (
            QualityCode::Blurry,
            metrics.sharpness,
            thresholds.min_sharpness,
            metrics.sharpness < thresholds.min_sharpness,
        ),
        (
            QualityCode::Underexposed,
            metrics.brightness,
            thresholds.min_brightness,
            metrics.brightness < thresholds.min_brightness,
        ),
        (
            QualityCode::Overexposed,
            metrics.brightness,
            thresholds.max_brightness,
            metrics.brightness > thresholds.max_brightness,
        ),
        (
            QualityCode::ExcessiveYaw,
            metrics.yaw_degrees,
            thresholds.max_yaw_degrees,
            metrics.yaw_degrees.abs() > thresholds.max_yaw_degrees,
        ),
        (
            QualityCode::ExcessiveRoll,
            metrics.roll_degrees,
            thresholds.max_roll_degrees,
            metrics.roll_degrees.abs() > thresholds.max_roll_degrees,
        ),
        // One eyes_not_visible reason at most: flat eye regions first, else dark ones.
        if metrics.eye_contrast < thresholds.min_eye_contrast {
            (
                QualityCode::EyesNotVisible,
                metrics.eye_contrast,
                thresholds.min_eye_contrast,
                true,
            )
        } else {
            (
                QualityCode::EyesNotVisible,
                metrics.eye_occlusion,
                thresholds.max_eye_occlusion,
                metrics.eye_occlusion > thresholds.max_eye_occlusion,
            )
        },
    ];
    let reasons: Vec<QualityReason> = checks
        .into_iter()
        .filter(|(_, _, _, failed)| *failed)
        .map(|(code, measured, threshold, _)| QualityReason {
            code,
            hint: code.hint(kind).to_owned(),
            measured,
            threshold,
        })
        .collect();
    QualityReport {
        passed: reasons.is_empty(),
        reasons,
        metrics,
    }
}

/// Share of the ArcFace face region (mapped into the image) that lies inside the frame.
fn visible_fraction(width: u32, height: u32, face: &FaceDetection) -> f32 {
    let source: Vec<[f64; 2]> = ARCFACE_TEMPLATE
        .iter()
        .map(|point| [f64::from(point[0]), f64::from(point[1])])
        .collect();
    let target: Vec<[f64; 2]> = face
        .landmarks
        .iter()
        .map(|point| [f64::from(point.x), f64::from(point.y)])
        .collect();
    let Some(template_to_image) = SimilarityTransform::estimate(&source, &target) else {
        return 0.0;
    };
    let [left, top, right, bottom] = TEMPLATE_FACE_REGION.map(f64::from);
    let steps = VISIBILITY_GRID as f64;
    let mut inside = 0usize;
    for row in 0..VISIBILITY_GRID {
        for column in 0..VISIBILITY_GRID {
            let u = left + (right - left) * (column as f64 + 0.5) / steps;
            let v = top + (bottom - top) * (row as f64 + 0.5) / steps;
            let (x, y) = template_to_image.apply(u, v);
            if x >= 0.0 && y >= 0.0 && x < f64::from(width) && y < f64::from(height) {
                inside += 1;
            }
        }
    }
    inside as f32 / (VISIBILITY_GRID * VISIBILITY_GRID) as f32
}

/// The face box as grey pixels at the measuring scale, with the eye positions in it.
struct FaceRegion {
    grey: GrayImage,
    eyes: [(f32, f32); 2],
    eye_distance: f32,
}

impl FaceRegion {
    fn extract(image: &RgbImage, face: &FaceDetection, inter_eye_px: f32) -> Option<Self> {
        let BoundingBox {
            x,
            y,
            width,
            height,
        } = face.bbox;
        let left = x.max(0.0).floor() as u32;
        let top = y.max(0.0).floor() as u32;
        let right = ((x + width).ceil().max(0.0) as u32).min(image.width());
        let bottom = ((y + height).ceil().max(0.0) as u32).min(image.height());
        if right <= left + 4 || bottom <= top + 4 || inter_eye_px <= f32::EPSILON {
            return None;
        }
        let crop =
            image::imageops::crop_imm(image, left, top, right - left, bottom - top).to_image();
        let scale = (MEASURE_INTER_EYE_PX / inter_eye_px).min(1.0);
        let scaled_width = (((right - left) as f32 * scale).round() as u32).max(5);
        let scaled_height = (((bottom - top) as f32 * scale).round() as u32).max(5);
        let scaled = resample_rgb(&crop, scaled_width, scaled_height, Kernel::Triangle);
        let grey = GrayImage::from_fn(scaled_width, scaled_height, |px, py| {
            let [r, g, b] = scaled.get_pixel(px, py).0;
            let luma = 0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b);
            image::Luma([luma.round().clamp(0.0, 255.0) as u8])
        });
        let to_region = |index: usize| {
            let point = face.landmarks[index];
            (
                (point.x - left as f32) * scale,
                (point.y - top as f32) * scale,
            )
        };
        Some(Self {
            grey,
            eyes: [to_region(0), to_region(1)],
            eye_distance: inter_eye_px * scale,
        })
    }

    /// Variance of the 4-neighbour Laplacian over the inner 80% of the region.
    fn sharpness(&self) -> f32 {
        let (width, height) = self.grey.dimensions();
        let (x0, x1) = ((width / 10).max(1), (width - width / 10).min(width - 1));
        let (y0, y1) = ((height / 10).max(1), (height - height / 10).min(height - 1));
        let at = |x: u32, y: u32| f64::from(self.grey.get_pixel(x, y).0[0]);
        let values: Vec<f64> = (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .map(|(x, y)| {
                at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y)
            })
            .collect();
        variance(&values).0 as f32
    }

    /// Mean luma of the central 60% of the region.
    fn brightness(&self) -> f32 {
        let (width, height) = self.grey.dimensions();
        let values: Vec<f64> = (height / 5..height - height / 5)
            .flat_map(|y| (width / 5..width - width / 5).map(move |x| (x, y)))
            .map(|(x, y)| f64::from(self.grey.get_pixel(x, y).0[0]))
            .collect();
        variance(&values).1 as f32
    }

    /// Lower luma standard deviation of the two eye squares.
    fn eye_contrast(&self) -> f32 {
        self.eyes
            .iter()
            .map(|&eye| variance(&self.eye_patch(eye, 0.2)).0.sqrt() as f32)
            .fold(f32::INFINITY, f32::min)
            .min(255.0)
    }

    /// Higher share of near-black pixels of the two (wider) eye squares.
    fn eye_occlusion(&self) -> f32 {
        self.eyes
            .iter()
            .map(|&eye| {
                let patch = self.eye_patch(eye, 0.3);
                let dark = patch.iter().filter(|value| **value < DARK_LUMA).count();
                if patch.is_empty() {
                    1.0
                } else {
                    dark as f32 / patch.len() as f32
                }
            })
            .fold(0.0, f32::max)
    }

    /// Luma values of the square of half-side `half_side` eye distances around `eye`.
    fn eye_patch(&self, (cx, cy): (f32, f32), half_side: f32) -> Vec<f64> {
        let half = (self.eye_distance * half_side).max(1.0);
        let (width, height) = self.grey.dimensions();
        let x0 = (cx - half).floor().max(0.0) as u32;
        let y0 = (cy - half).floor().max(0.0) as u32;
        let x1 = ((cx + half).ceil().max(0.0) as u32).min(width);
        let y1 = ((cy + half).ceil().max(0.0) as u32).min(height);
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .map(|(x, y)| f64::from(self.grey.get_pixel(x, y).0[0]))
            .collect()
    }
}

/// (variance, mean) of the values; (0, 0) when empty.
fn variance(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count;
    (variance, mean)
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;
    use crate::detect::Point;

    /// A synthetic face: eyes 60 px apart at (170, 200) and (230, 200) in a 400x400 image.
    fn synthetic_face(offset_x: f32) -> FaceDetection {
        let p = |x: f32, y: f32| Point { x: x + offset_x, y };
        FaceDetection {
            bbox: BoundingBox {
                x: 140.0 + offset_x,
                y: 150.0,
                width: 120.0,
                height: 150.0,
            },
            landmarks: [
                p(170.0, 200.0),
                p(230.0, 200.0),
                p(200.0, 235.0),
                p(175.0, 265.0),
                p(225.0, 265.0),
            ],
            score: 0.95,
        }
    }

    #[test]
    fn visible_fraction_drops_as_the_face_leaves_the_frame() {
        let inside = visible_fraction(400, 400, &synthetic_face(0.0));
        let half_out = visible_fraction(400, 400, &synthetic_face(-200.0));
        assert_eq!(inside, 1.0);
        assert!((0.3..0.7).contains(&half_out), "{half_out}");
    }

    #[test]
    fn flat_grey_face_is_blurry_and_has_no_visible_eyes() {
        let image = RgbImage::from_pixel(400, 400, Rgb([120, 120, 120]));
        let report = assess_quality(
            &image,
            &synthetic_face(0.0),
            CaptureKind::Selfie,
            &QualityThresholds::selfie(),
        );
        let codes: Vec<QualityCode> = report.reasons.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            vec![QualityCode::Blurry, QualityCode::EyesNotVisible]
        );
        assert!((report.metrics.brightness - 120.0).abs() < 0.5);
        assert!(report.reasons.iter().all(|r| !r.hint.is_empty()));
    }

    #[test]
    fn thresholds_deserialise_with_defaults_for_missing_fields() {
        let parsed: QualityThresholds =
            serde_json::from_str(r#"{"min_inter_eye_px": 50.0}"#).unwrap();
        assert_eq!(parsed.min_inter_eye_px, 50.0);
        assert_eq!(
            parsed.max_roll_degrees,
            QualityThresholds::selfie().max_roll_degrees
        );
        assert!(serde_json::from_str::<QualityThresholds>(r#"{"nope": 1}"#).is_err());
    }
}
