//! SFace face embeddings: model input layout and the normalised embedding type.
//!
//! [`sface_input_tensor`] lays out an aligned 112x112 RGB crop as the `[1, 3, 112, 112]` RGB
//! 0..255 NCHW tensor SFace expects (no mean or scale). [`FaceEmbedding`] holds the 128-value
//! output, L2-normalised on construction, so [`FaceEmbedding::cosine_similarity`] is a dot
//! product. Its `Debug` output hides the values (a template is special-category data); use
//! [`FaceEmbedding::values`] / [`FaceEmbedding::from_values`] to store and restore it.

use image::RgbImage;

/// Number of values in an SFace embedding.
pub const EMBEDDING_DIMENSION: usize = 128;

/// An L2-normalised SFace face embedding (128 values).
#[derive(Clone, PartialEq)]
pub struct FaceEmbedding {
    values: Vec<f32>,
}

/// Shows only the dimension: an embedding is a biometric template and must not reach logs.
impl std::fmt::Debug for FaceEmbedding {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FaceEmbedding")
            .field("dimension", &self.values.len())
            .finish_non_exhaustive()
    }
}

impl FaceEmbedding {
    /// Normalises raw model output (or stored values); `None` unless 128 finite values with a
    /// non-zero norm.
    pub fn from_values(values: &[f32]) -> Option<Self> {
        if values.len() != EMBEDDING_DIMENSION || values.iter().any(|value| !value.is_finite()) {
            return None;
        }
        let norm = values.iter().map(|value| value * value).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            return None;
        }
        Some(Self {
            values: values.iter().map(|value| value / norm).collect(),
        })
    }

    /// The normalised values.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Cosine similarity in -1..=1 (1 means the same direction).
    pub fn cosine_similarity(&self, other: &FaceEmbedding) -> f32 {
        let dot: f32 = self
            .values
            .iter()
            .zip(&other.values)
            .map(|(left, right)| left * right)
            .sum();
        dot.clamp(-1.0, 1.0)
    }
}

/// Lays out an aligned crop as SFace's NCHW RGB 0..255 input.
pub fn sface_input_tensor(aligned: &RgbImage) -> Vec<f32> {
    let plane = (aligned.width() * aligned.height()) as usize;
    let mut tensor = vec![0.0f32; 3 * plane];
    for (x, y, pixel) in aligned.enumerate_pixels() {
        let offset = (y * aligned.width() + x) as usize;
        for channel in 0..3 {
            tensor[channel * plane + offset] = f32::from(pixel[channel]);
        }
    }
    tensor
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    #[test]
    fn normalises_and_compares() {
        let mut raw = vec![0.0; EMBEDDING_DIMENSION];
        raw[0] = 3.0;
        raw[1] = 4.0;
        let embedding = FaceEmbedding::from_values(&raw).unwrap();
        assert!((embedding.values()[0] - 0.6).abs() < 1e-6);
        assert!((embedding.cosine_similarity(&embedding) - 1.0).abs() < 1e-6);

        let mut orthogonal = vec![0.0; EMBEDDING_DIMENSION];
        orthogonal[2] = 1.0;
        let orthogonal = FaceEmbedding::from_values(&orthogonal).unwrap();
        assert!(embedding.cosine_similarity(&orthogonal).abs() < 1e-6);

        let opposite: Vec<f32> = raw.iter().map(|v| -v).collect();
        let opposite = FaceEmbedding::from_values(&opposite).unwrap();
        assert!((embedding.cosine_similarity(&opposite) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(FaceEmbedding::from_values(&[1.0; 3]).is_none());
        assert!(FaceEmbedding::from_values(&[0.0; EMBEDDING_DIMENSION]).is_none());
        let mut with_nan = vec![1.0; EMBEDDING_DIMENSION];
        with_nan[5] = f32::NAN;
        assert!(FaceEmbedding::from_values(&with_nan).is_none());
    }

    #[test]
    fn input_tensor_is_rgb_planar() {
        let crop = RgbImage::from_pixel(112, 112, Rgb([1, 2, 3]));
        let tensor = sface_input_tensor(&crop);
        let plane = 112 * 112;
        assert_eq!(tensor.len(), 3 * plane);
        assert_eq!(
            (tensor[0], tensor[plane], tensor[2 * plane]),
            (1.0, 2.0, 3.0)
        );
    }
}
