//! Face alignment: map five detected landmarks onto the ArcFace 112x112 template.
//!
//! [`SimilarityTransform::estimate`] solves the least-squares similarity (rotation, uniform
//! scale, translation; no reflection) between two point sets — Umeyama's method, which in 2-D
//! has a closed form. [`warp_to_template`] estimates the transform from a face's landmarks and
//! resamples the source image with bilinear interpolation into a 112x112 RGB crop (pixels
//! falling outside the source are black, as OpenCV's `warpAffine` with a constant border).

use image::RgbImage;

use crate::detect::Point;

/// Side of the aligned face crop in pixels.
pub const ALIGNED_FACE_SIZE: u32 = 112;

/// ArcFace landmark template for a 112x112 crop (eyes, nose tip, mouth corners).
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// A 2-D similarity transform `(x, y) -> (a*x - b*y + tx, b*x + a*y + ty)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarityTransform {
    /// Scale times cosine of the rotation angle.
    pub a: f64,
    /// Scale times sine of the rotation angle.
    pub b: f64,
    /// Horizontal translation.
    pub tx: f64,
    /// Vertical translation.
    pub ty: f64,
}

impl SimilarityTransform {
    /// Least-squares similarity mapping `source[i]` onto `target[i]`; `None` if degenerate.
    pub fn estimate(source: &[[f64; 2]], target: &[[f64; 2]]) -> Option<Self> {
        if source.len() != target.len() || source.len() < 2 {
            return None;
        }
        let count = source.len() as f64;
        let mean = |points: &[[f64; 2]]| {
            let (sx, sy) = points
                .iter()
                .fold((0.0, 0.0), |(sx, sy), p| (sx + p[0], sy + p[1]));
            [sx / count, sy / count]
        };
        let source_mean = mean(source);
        let target_mean = mean(target);

        // With centred points p and q, the optimal rotation-and-scale [[a, -b], [b, a]] is
        // a = sum(p.q) / sum(|p|^2), b = sum(p x q) / sum(|p|^2). This equals Umeyama's
        // solution with the reflection correction (det < 0 -> flip the smaller singular value).
        let (mut dot, mut cross, mut source_spread) = (0.0, 0.0, 0.0);
        for (p, q) in source.iter().zip(target) {
            let (px, py) = (p[0] - source_mean[0], p[1] - source_mean[1]);
            let (qx, qy) = (q[0] - target_mean[0], q[1] - target_mean[1]);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            source_spread += px * px + py * py;
        }
        if source_spread <= f64::EPSILON {
            return None;
        }
        let a = dot / source_spread;
        let b = cross / source_spread;
        if a == 0.0 && b == 0.0 {
            return None;
        }
        Some(Self {
            a,
            b,
            tx: target_mean[0] - (a * source_mean[0] - b * source_mean[1]),
            ty: target_mean[1] - (b * source_mean[0] + a * source_mean[1]),
        })
    }

    /// Applies the transform to a point.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        )
    }

    /// The inverse transform; `None` if the scale is zero.
    pub fn inverse(&self) -> Option<Self> {
        let norm = self.a * self.a + self.b * self.b;
        if norm <= f64::EPSILON {
            return None;
        }
        let (a, b) = (self.a / norm, -self.b / norm);
        Some(Self {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }

    /// Uniform scale factor of the transform.
    pub fn scale(&self) -> f64 {
        self.a.hypot(self.b)
    }

    /// Rotation angle in radians.
    pub fn rotation(&self) -> f64 {
        self.b.atan2(self.a)
    }
}

/// Aligns a face to the ArcFace template and returns the 112x112 RGB crop, or `None` if the
/// landmarks are degenerate (all in one point).
pub fn warp_to_template(image: &RgbImage, landmarks: &[Point; 5]) -> Option<RgbImage> {
    let source: Vec<[f64; 2]> = landmarks
        .iter()
        .map(|point| [f64::from(point.x), f64::from(point.y)])
        .collect();
    let target: Vec<[f64; 2]> = ARCFACE_TEMPLATE
        .iter()
        .map(|point| [f64::from(point[0]), f64::from(point[1])])
        .collect();
    let transform = SimilarityTransform::estimate(&source, &target)?;
    warp_affine(image, &transform, ALIGNED_FACE_SIZE, ALIGNED_FACE_SIZE)
}

/// Resamples `image` so that output pixel `(u, v)` takes the source value at
/// `transform^-1 (u, v)` (bilinear, black outside). `None` if the transform is not invertible.
pub fn warp_affine(
    image: &RgbImage,
    transform: &SimilarityTransform,
    width: u32,
    height: u32,
) -> Option<RgbImage> {
    let inverse = transform.inverse()?;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for v in 0..height {
        // Walk each output row along the inverse transform's x direction.
        let (mut x, mut y) = inverse.apply(0.0, f64::from(v));
        for _ in 0..width {
            out.extend_from_slice(&sample_bilinear(image, x, y));
            x += inverse.a;
            y += inverse.b;
        }
    }
    RgbImage::from_raw(width, height, out)
}

/// Bilinear sample at a fractional position; neighbours outside the image count as black.
fn sample_bilinear(image: &RgbImage, x: f64, y: f64) -> [u8; 3] {
    let (width, height) = (i64::from(image.width()), i64::from(image.height()));
    if !x.is_finite() || !y.is_finite() {
        return [0; 3];
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = ((x - x0) as f32, (y - y0) as f32);
    let (x0, y0) = (x0 as i64, y0 as i64);
    if x0 < -1 || y0 < -1 || x0 >= width || y0 >= height {
        return [0; 3];
    }
    let raw = image.as_raw();
    let row_length = width * 3;
    let pixel_at = |px: i64, py: i64| -> [f32; 3] {
        if px < 0 || py < 0 || px >= width || py >= height {
            return [0.0; 3];
        }
        // In range: both coordinates are non-negative and inside the image.
        let start = (py * row_length + px * 3) as usize;
        [
            f32::from(raw[start]),
            f32::from(raw[start + 1]),
            f32::from(raw[start + 2]),
        ]
    };
    let top_left = pixel_at(x0, y0);
    let top_right = pixel_at(x0 + 1, y0);
    let bottom_left = pixel_at(x0, y0 + 1);
    let bottom_right = pixel_at(x0 + 1, y0 + 1);
    let mut out = [0u8; 3];
    for (channel, value) in out.iter_mut().enumerate() {
        let top = top_left[channel] + (top_right[channel] - top_left[channel]) * fx;
        let bottom = bottom_left[channel] + (bottom_right[channel] - bottom_left[channel]) * fx;
        *value = (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    fn template_points() -> Vec<[f64; 2]> {
        ARCFACE_TEMPLATE
            .iter()
            .map(|p| [f64::from(p[0]), f64::from(p[1])])
            .collect()
    }

    #[test]
    fn recovers_known_similarity_transform() {
        let angle: f64 = 0.4;
        let scale = 2.5;
        let known = SimilarityTransform {
            a: scale * angle.cos(),
            b: scale * angle.sin(),
            tx: 130.0,
            ty: -42.0,
        };
        let source = template_points();
        let target: Vec<[f64; 2]> = source
            .iter()
            .map(|p| {
                let (x, y) = known.apply(p[0], p[1]);
                [x, y]
            })
            .collect();
        let estimated = SimilarityTransform::estimate(&source, &target).unwrap();
        assert!((estimated.scale() - scale).abs() < 1e-9);
        assert!((estimated.rotation() - angle).abs() < 1e-9);
        assert!((estimated.tx - 130.0).abs() < 1e-7);
        assert!((estimated.ty + 42.0).abs() < 1e-7);
    }

    #[test]
    fn does_not_reflect_mirrored_points() {
        // Mirrored target: the best similarity without reflection must keep a positive scale
        // and a proper rotation (no reflection component is representable).
        let source = template_points();
        let target: Vec<[f64; 2]> = source.iter().map(|p| [-p[0], p[1]]).collect();
        let estimated = SimilarityTransform::estimate(&source, &target).unwrap();
        assert!(estimated.scale() > 0.0);
        assert!(
            estimated.scale() < 1.0,
            "a reflection cannot be fitted exactly"
        );
    }

    #[test]
    fn inverse_round_trips() {
        let transform = SimilarityTransform {
            a: 0.3,
            b: -1.2,
            tx: 5.0,
            ty: 7.0,
        };
        let inverse = transform.inverse().unwrap();
        let (x, y) = transform.apply(12.0, -3.0);
        let (bx, by) = inverse.apply(x, y);
        assert!((bx - 12.0).abs() < 1e-9 && (by + 3.0).abs() < 1e-9);
    }

    #[test]
    fn degenerate_points_are_rejected() {
        let source = vec![[1.0, 1.0]; 5];
        assert!(SimilarityTransform::estimate(&source, &template_points()).is_none());
    }

    #[test]
    fn warp_translates_and_scales_a_known_image() {
        // A 40x40 image with a white 10x10 square at (10..20, 10..20) on black.
        let source = RgbImage::from_fn(40, 40, |x, y| {
            if (10..20).contains(&x) && (10..20).contains(&y) {
                Rgb([255, 255, 255])
            } else {
                Rgb([0, 0, 0])
            }
        });
        // Scale by 2 and shift by (-20, -20): the square lands on (0..20, 0..20).
        let transform = SimilarityTransform {
            a: 2.0,
            b: 0.0,
            tx: -20.0,
            ty: -20.0,
        };
        let warped = warp_affine(&source, &transform, 30, 30).unwrap();
        assert_eq!(warped.get_pixel(2, 2), &Rgb([255, 255, 255]));
        assert_eq!(warped.get_pixel(17, 17), &Rgb([255, 255, 255]));
        assert_eq!(warped.get_pixel(25, 25), &Rgb([0, 0, 0]));
        assert_eq!(warped.get_pixel(25, 5), &Rgb([0, 0, 0]));
        // Half-way between pixels the bilinear sample averages: source x = 19.5 -> mid grey.
        let edge = warped.get_pixel(19, 5)[0];
        assert!((120..=135).contains(&edge), "edge value {edge}");
    }

    #[test]
    fn warp_rotates_by_quarter_turn() {
        // A gradient along x becomes a gradient along y after a 90-degree rotation.
        let source = RgbImage::from_fn(8, 8, |x, _| Rgb([(x * 30) as u8, 0, 0]));
        // (x, y) -> (-y + 7, x): rotate 90 degrees, keep the image in frame.
        let transform = SimilarityTransform {
            a: 0.0,
            b: 1.0,
            tx: 7.0,
            ty: 0.0,
        };
        let warped = warp_affine(&source, &transform, 8, 8).unwrap();
        for v in 0..8 {
            assert_eq!(warped.get_pixel(3, v)[0], (v * 30) as u8);
        }
    }

    #[test]
    fn aligned_template_landmarks_map_to_themselves() {
        let source = RgbImage::from_fn(112, 112, |x, y| Rgb([x as u8, y as u8, 7]));
        let landmarks = ARCFACE_TEMPLATE.map(|p| Point { x: p[0], y: p[1] });
        let aligned = warp_to_template(&source, &landmarks).unwrap();
        assert_eq!(aligned.dimensions(), (112, 112));
        assert_eq!(aligned.get_pixel(50, 60), &Rgb([50, 60, 7]));
    }
}
