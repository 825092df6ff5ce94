//! Comparing two prepared faces, and catching a document held up to the camera.
//!
//! [`compare_prepared`] embeds both faces (from their matching images, in one batch where the
//! engine batches), takes the cosine similarity and runs [`check_document_replay`].
//!
//! A selfie that is really a photo of the document portrait (the card held up to the camera,
//! or the portrait image uploaded as the selfie) matches the reference *too well*: live
//! captures differ from the portrait in pose, expression, lighting and age, while a recapture
//! reproduces its pixels. Two independent signals, either of which flags the attack
//! (`selfie_is_document_portrait`):
//! - normalised cross-correlation of the grey 112x112 aligned crops over the face region
//!   (forehead to chin, so the black warp borders do not count) above
//!   [`DocumentReplayThresholds::max_crop_correlation`];
//! - SFace cosine similarity above [`DocumentReplayThresholds::max_embedding_similarity`].

use image::{GrayImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::{
    BiometricsError,
    embed::FaceEmbedding,
    engine::{FaceEngine, align_face},
    prepare::PreparedFace,
};

/// Aligned-crop region (left, top, right, bottom) compared by the correlation.
const CORRELATION_REGION: [u32; 4] = [16, 24, 96, 108];

/// Limits above which a selfie is taken to be the document portrait itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentReplayThresholds {
    /// Aligned-crop correlation above which the selfie reproduces the portrait (default 0.8;
    /// measured: genuine live/portrait pairs about 0.2-0.3, a card held up about 0.85).
    pub max_crop_correlation: f32,
    /// Embedding similarity above which the selfie is the portrait (default 0.92; measured:
    /// genuine pairs about 0.6, a card held up about 0.97).
    pub max_embedding_similarity: f32,
}

impl Default for DocumentReplayThresholds {
    fn default() -> Self {
        Self {
            max_crop_correlation: 0.8,
            max_embedding_similarity: 0.92,
        }
    }
}

/// Measurements and verdict of the document-replay check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DocumentReplayCheck {
    /// Normalised cross-correlation of the aligned grey crops, -1..=1.
    pub crop_correlation: f32,
    /// Cosine similarity of the embeddings.
    pub embedding_similarity: f32,
    /// True when either measurement exceeds its limit: `selfie_is_document_portrait`.
    pub selfie_is_document_portrait: bool,
}

/// Result of [`compare_prepared`].
#[derive(Debug, Clone)]
pub struct FaceComparison {
    /// Cosine similarity of the two embeddings, -1..=1.
    pub similarity: f32,
    /// Whether the probe reproduces the reference's pixels.
    pub document_replay: DocumentReplayCheck,
    /// Reference embedding (a biometric template: store only encrypted).
    pub reference_embedding: FaceEmbedding,
    /// Probe embedding (a biometric template: store only encrypted).
    pub probe_embedding: FaceEmbedding,
}

/// Embeds both faces and compares them, including the document-replay check.
pub fn compare_prepared(
    engine: &dyn FaceEngine,
    reference: &PreparedFace,
    probe: &PreparedFace,
    thresholds: &DocumentReplayThresholds,
) -> Result<FaceComparison, BiometricsError> {
    // One alignment per face serves both the embedding and the replay check's correlation.
    let aligned = [
        align_face(reference.matching_image(), reference.matching_face())?,
        align_face(probe.matching_image(), probe.matching_face())?,
    ];
    let mut embeddings = engine.embed_aligned_faces(&aligned)?;
    let (Some(probe_embedding), Some(reference_embedding), None) =
        (embeddings.pop(), embeddings.pop(), embeddings.pop())
    else {
        return Err(BiometricsError::Inference(
            "the engine did not return two embeddings".to_owned(),
        ));
    };
    let similarity = reference_embedding.cosine_similarity(&probe_embedding);
    let [reference_crop, probe_crop] = aligned;
    let document_replay =
        document_replay_verdict(&reference_crop, &probe_crop, similarity, thresholds);
    Ok(FaceComparison {
        similarity,
        document_replay,
        reference_embedding,
        probe_embedding,
    })
}

/// Flags a probe (selfie) that reproduces the reference (document portrait) pixel for pixel;
/// `embedding_similarity` is the already computed cosine similarity of the two faces.
pub fn check_document_replay(
    reference: &PreparedFace,
    probe: &PreparedFace,
    embedding_similarity: f32,
    thresholds: &DocumentReplayThresholds,
) -> Result<DocumentReplayCheck, BiometricsError> {
    let reference_crop = align_face(reference.matching_image(), reference.matching_face())?;
    let probe_crop = align_face(probe.matching_image(), probe.matching_face())?;
    Ok(document_replay_verdict(
        &reference_crop,
        &probe_crop,
        embedding_similarity,
        thresholds,
    ))
}

/// The replay verdict from the two aligned colour crops and the embeddings' similarity.
fn document_replay_verdict(
    reference_crop: &RgbImage,
    probe_crop: &RgbImage,
    embedding_similarity: f32,
    thresholds: &DocumentReplayThresholds,
) -> DocumentReplayCheck {
    let crop_correlation = aligned_crop_correlation(
        &image::imageops::grayscale(reference_crop),
        &image::imageops::grayscale(probe_crop),
    );
    DocumentReplayCheck {
        crop_correlation,
        embedding_similarity,
        selfie_is_document_portrait: crop_correlation > thresholds.max_crop_correlation
            || embedding_similarity > thresholds.max_embedding_similarity,
    }
}

/// Normalised cross-correlation of two aligned grey crops over the face region, -1..=1
/// (0 when either region is flat).
pub fn aligned_crop_correlation(a: &GrayImage, b: &GrayImage) -> f32 {
    let [left, top, right, bottom] = CORRELATION_REGION;
    let values = |image: &GrayImage| -> Vec<f64> {
        (top..bottom.min(image.height()))
            .flat_map(|y| (left..right.min(image.width())).map(move |x| (x, y)))
            .map(|(x, y)| f64::from(image.get_pixel(x, y).0[0]))
            .collect()
    };
    let (a, b) = (values(a), values(b));
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let count = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / count, b.iter().sum::<f64>() / count);
    let (mut covariance, mut variance_a, mut variance_b) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(&b) {
        covariance += (x - mean_a) * (y - mean_b);
        variance_a += (x - mean_a) * (x - mean_a);
        variance_b += (y - mean_b) * (y - mean_b);
    }
    let denominator = (variance_a * variance_b).sqrt();
    if denominator <= f64::EPSILON {
        return 0.0;
    }
    (covariance / denominator) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_is_one_for_identical_and_negative_for_inverted_crops() {
        let crop = GrayImage::from_fn(112, 112, |x, y| {
            image::Luma([((x * 7 + y * 3) % 251) as u8])
        });
        let inverted = GrayImage::from_fn(112, 112, |x, y| {
            image::Luma([255 - crop.get_pixel(x, y).0[0]])
        });
        let flat = GrayImage::from_pixel(112, 112, image::Luma([90]));
        assert!((aligned_crop_correlation(&crop, &crop) - 1.0).abs() < 1e-6);
        assert!((aligned_crop_correlation(&crop, &inverted) + 1.0).abs() < 1e-6);
        assert_eq!(aligned_crop_correlation(&crop, &flat), 0.0);
    }
}
