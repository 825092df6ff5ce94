//! Passive presentation-attack detection (PAD): is the face in a single image a live person or
//! a printed photo / screen replay?
//!
//! Layout:
//! - [`PadEngine`]: the seam (a trait), scoring one face in one image as P(real) in 0..=1.
//! - [`OrtPadEngine`]: the Silent-Face MiniFASNet models through ONNX Runtime, loaded once
//!   (sharing the process-wide ONNX Runtime environment of [`crate::engine`]). Each model gets
//!   a square crop of the face box scaled by the factor in its file name (`2.7_80x80_...` ->
//!   2.7, `4_0_0_80x80_...` -> 4.0), shifted to stay inside the image, resized to 80x80, as
//!   `input` [1,3,80,80] BGR 0..255; `logits` [1,3] go through softmax, class 1 is "real",
//!   and the models' P(real) are averaged.
//! - [`PadConfig`] / [`PadOutcome`]: configuration (empty model list = not configured) and the
//!   serialisable verdict, `{"status": "live" | "attack" | "not_configured", "score": ..}`.
//! - [`assess_pad`]: runs an optional engine and applies the threshold.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use image::{RgbImage, imageops::FilterType};
use ort::{session::Session, value::Tensor};
use serde::{Deserialize, Serialize};

use crate::{
    BiometricsError,
    detect::FaceDetection,
    engine::{
        first_input_name, inference_error, load_session, lock, require_outputs, shared_environment,
    },
};

/// Side of the MiniFASNet input in pixels.
pub const PAD_INPUT_SIZE: u32 = 80;
/// Name of the MiniFASNet output.
const PAD_OUTPUT_NAME: &str = "logits";
/// Index of the "real face" class in the MiniFASNet output.
const REAL_CLASS: usize = 1;
/// Number of MiniFASNet classes.
const PAD_CLASSES: usize = 3;

/// Scores faces for presentation attacks; tests can swap in a fake.
pub trait PadEngine: Send + Sync {
    /// P(real) in 0..=1 for `face` in `image`.
    fn real_probability(
        &self,
        image: &RgbImage,
        face: &FaceDetection,
    ) -> Result<f32, BiometricsError>;
    /// Identifiers of the models in use (for reports and `/readyz`).
    fn model_ids(&self) -> Vec<String>;
}

/// PAD configuration: which models, and the decision threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PadConfig {
    /// MiniFASNet ONNX files; empty means PAD is not configured.
    pub models: Vec<PathBuf>,
    /// P(real) at or above which a face counts as live (default 0.5, uncalibrated).
    pub threshold: f32,
}

impl Default for PadConfig {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            threshold: 0.5,
        }
    }
}

impl PadConfig {
    /// True when at least one model is listed.
    pub fn is_configured(&self) -> bool {
        !self.models.is_empty()
    }
}

/// The PAD verdict for one face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadStatus {
    /// P(real) at or above the threshold.
    Live,
    /// P(real) below the threshold: printed photo, screen, mask...
    Attack,
    /// No PAD model is configured; nothing was checked.
    NotConfigured,
}

/// PAD verdict with the score behind it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PadOutcome {
    /// Live, attack or not configured.
    pub status: PadStatus,
    /// Averaged P(real), when models ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// The threshold applied, when models ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

impl PadOutcome {
    /// The outcome when no PAD engine is configured.
    pub fn not_configured() -> Self {
        Self {
            status: PadStatus::NotConfigured,
            score: None,
            threshold: None,
        }
    }
}

/// Scores `face` with `engine` (if any) and applies `threshold`.
pub fn assess_pad(
    engine: Option<&dyn PadEngine>,
    image: &RgbImage,
    face: &FaceDetection,
    threshold: f32,
) -> Result<PadOutcome, BiometricsError> {
    let Some(engine) = engine else {
        return Ok(PadOutcome::not_configured());
    };
    let score = engine.real_probability(image, face)?;
    Ok(PadOutcome {
        status: if score >= threshold {
            PadStatus::Live
        } else {
            PadStatus::Attack
        },
        score: Some(score),
        threshold: Some(threshold),
    })
}

/// One loaded MiniFASNet model.
struct PadModel {
    id: String,
    crop_scale: f32,
    input_name: String,
    session: Mutex<Session>,
}

/// [`PadEngine`] running MiniFASNet models through ONNX Runtime.
pub struct OrtPadEngine {
    models: Vec<PadModel>,
}

impl std::fmt::Debug for OrtPadEngine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("OrtPadEngine")
            .field("models", &self.model_ids())
            .finish()
    }
}

impl OrtPadEngine {
    /// Loads every model of `config` (ONNX Runtime from `ort_dylib` unless the process already
    /// loaded it). Fails when the list is empty or a file is missing or malformed.
    pub fn load(config: &PadConfig, ort_dylib: &Path) -> Result<Self, BiometricsError> {
        if !config.is_configured() {
            return Err(BiometricsError::ModelLoad(
                "no PAD model configured".to_owned(),
            ));
        }
        if !(0.0..=1.0).contains(&config.threshold) {
            return Err(BiometricsError::ModelLoad(format!(
                "PAD threshold {} is outside 0..=1",
                config.threshold
            )));
        }
        let environment = shared_environment(
            ort_dylib,
            crate::engine::SessionThreads { intra: 1, inter: 1 },
        )?;
        let mut models = Vec::with_capacity(config.models.len());
        for path in &config.models {
            let file_name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default()
                .to_owned();
            let crop_scale = crop_scale_from_file_name(&file_name).ok_or_else(|| {
                BiometricsError::ModelLoad(format!(
                    "{}: cannot read the crop scale from the file name (expected e.g. \
                     2.7_80x80_MiniFASNetV2.onnx)",
                    path.display()
                ))
            })?;
            let session = load_session(
                &environment,
                path,
                crate::engine::SessionThreads { intra: 1, inter: 1 },
            )?;
            require_outputs(&session, &file_name, &[PAD_OUTPUT_NAME.to_owned()])?;
            models.push(PadModel {
                id: file_name.trim_end_matches(".onnx").to_owned(),
                crop_scale,
                input_name: first_input_name(&session, &file_name)?,
                session: Mutex::new(session),
            });
        }
        Ok(Self { models })
    }
}

impl PadEngine for OrtPadEngine {
    fn real_probability(
        &self,
        image: &RgbImage,
        face: &FaceDetection,
    ) -> Result<f32, BiometricsError> {
        let mut total = 0.0;
        for model in &self.models {
            let crop = pad_crop(image, face, model.crop_scale).ok_or_else(|| {
                BiometricsError::Inference("face box is empty; cannot crop for PAD".to_owned())
            })?;
            let side = PAD_INPUT_SIZE as usize;
            let tensor = Tensor::from_array(([1usize, 3, side, side], bgr_tensor(&crop)))
                .map_err(inference_error)?;
            let mut session = lock(&model.session)?;
            let outputs = session
                .run(ort::inputs![model.input_name.as_str() => tensor])
                .map_err(inference_error)?;
            let value = outputs.get(PAD_OUTPUT_NAME).ok_or_else(|| {
                BiometricsError::Inference(format!("{}: output logits missing", model.id))
            })?;
            let (_shape, logits) = value.try_extract_tensor::<f32>().map_err(inference_error)?;
            total += real_class_probability(logits).ok_or_else(|| {
                BiometricsError::Inference(format!(
                    "{}: expected {PAD_CLASSES} finite logits, got {}",
                    model.id,
                    logits.len()
                ))
            })?;
        }
        Ok(total / self.models.len() as f32)
    }

    fn model_ids(&self) -> Vec<String> {
        self.models.iter().map(|model| model.id.clone()).collect()
    }
}

/// The crop scale encoded at the start of a Silent-Face model file name.
pub fn crop_scale_from_file_name(file_name: &str) -> Option<f32> {
    let prefix = file_name.split('_').next()?;
    let scale: f32 = prefix.parse().ok()?;
    (scale.is_finite() && scale > 0.0).then_some(scale)
}

/// Square crop around the face box scaled by `scale`, shifted (and if need be shrunk) to stay
/// inside the image, resized to 80x80. `None` for an empty box or image.
pub fn pad_crop(image: &RgbImage, face: &FaceDetection, scale: f32) -> Option<RgbImage> {
    let (width, height) = (image.width() as f32, image.height() as f32);
    let bbox = face.bbox;
    if bbox.width <= 0.0 || bbox.height <= 0.0 || width < 1.0 || height < 1.0 {
        return None;
    }
    let side = (bbox.width.max(bbox.height) * scale).min(width).min(height);
    let centre_x = bbox.x + bbox.width / 2.0;
    let centre_y = bbox.y + bbox.height / 2.0;
    let left = (centre_x - side / 2.0).clamp(0.0, width - side);
    let top = (centre_y - side / 2.0).clamp(0.0, height - side);
    let side_px = (side.floor() as u32).max(1);
    let crop = image::imageops::crop_imm(image, left as u32, top as u32, side_px, side_px);
    Some(image::imageops::resize(
        &*crop,
        PAD_INPUT_SIZE,
        PAD_INPUT_SIZE,
        FilterType::Triangle,
    ))
}

/// NCHW BGR 0..255 tensor data of an RGB image.
fn bgr_tensor(image: &RgbImage) -> Vec<f32> {
    let plane = (image.width() * image.height()) as usize;
    let mut tensor = vec![0.0f32; 3 * plane];
    for (index, pixel) in image.pixels().enumerate() {
        tensor[index] = f32::from(pixel[2]);
        tensor[plane + index] = f32::from(pixel[1]);
        tensor[2 * plane + index] = f32::from(pixel[0]);
    }
    tensor
}

/// Softmax probability of the real class; `None` unless exactly three finite logits.
fn real_class_probability(logits: &[f32]) -> Option<f32> {
    if logits.len() != PAD_CLASSES || logits.iter().any(|value| !value.is_finite()) {
        return None;
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exponentials: Vec<f32> = logits.iter().map(|value| (value - max).exp()).collect();
    let sum: f32 = exponentials.iter().sum();
    Some(exponentials[REAL_CLASS] / sum)
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;
    use crate::detect::{BoundingBox, Point};

    #[test]
    fn crop_scale_is_read_from_silent_face_file_names() {
        assert_eq!(
            crop_scale_from_file_name("2.7_80x80_MiniFASNetV2.onnx"),
            Some(2.7)
        );
        assert_eq!(
            crop_scale_from_file_name("4_0_0_80x80_MiniFASNetV1SE.onnx"),
            Some(4.0)
        );
        assert_eq!(crop_scale_from_file_name("model.onnx"), None);
    }

    #[test]
    fn softmax_picks_the_real_class() {
        let p = real_class_probability(&[0.0, 2.0, 0.0]).unwrap();
        assert!((p - 2f32.exp() / (2.0 + 2f32.exp())).abs() < 1e-6);
        assert!(real_class_probability(&[0.0, f32::NAN, 0.0]).is_none());
        assert!(real_class_probability(&[0.0, 1.0]).is_none());
    }

    #[test]
    fn crop_is_shifted_inside_the_image() {
        // Left half red, right half blue; a face at the left edge scaled 4x must be shifted
        // right, so the crop still covers 0..side and holds both colours.
        let image = RgbImage::from_fn(400, 300, |x, _| {
            if x < 200 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let face = FaceDetection {
            bbox: BoundingBox {
                x: 0.0,
                y: 100.0,
                width: 60.0,
                height: 60.0,
            },
            landmarks: [Point { x: 30.0, y: 130.0 }; 5],
            score: 0.9,
        };
        let crop = pad_crop(&image, &face, 4.0).unwrap();
        assert_eq!(crop.dimensions(), (80, 80));
        assert_eq!(crop.get_pixel(0, 40).0, [255, 0, 0]);
        assert_eq!(crop.get_pixel(79, 40).0, [0, 0, 255]);
        let tensor = bgr_tensor(&crop);
        assert_eq!(tensor[0], 0.0); // B of a red pixel
        assert_eq!(tensor[2 * 6400], 255.0); // R of a red pixel
    }

    #[test]
    fn not_configured_without_an_engine() {
        let image = RgbImage::new(10, 10);
        let face = FaceDetection {
            bbox: BoundingBox {
                x: 0.0,
                y: 0.0,
                width: 5.0,
                height: 5.0,
            },
            landmarks: [Point { x: 1.0, y: 1.0 }; 5],
            score: 0.9,
        };
        let outcome = assess_pad(None, &image, &face, 0.5).unwrap();
        assert_eq!(outcome.status, PadStatus::NotConfigured);
        assert_eq!(
            serde_json::to_value(outcome).unwrap(),
            serde_json::json!({"status": "not_configured"})
        );
    }
}
