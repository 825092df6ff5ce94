//! YuNet face detection: pre-processing, output decoding and non-maximum suppression.
//!
//! The model itself runs in [`crate::engine`]; this module holds the pure parts so they can
//! be tested without a model:
//! - [`letterbox`] lays an image out as YuNet's BGR 0..255 NCHW `f32` input: scaled (aspect kept)
//!   so its longer side is the configured detection side, with [`crate::resample`]'s triangle
//!   filter (its support widens when reducing: no aliasing), then padded right and bottom with
//!   black to multiples of [`YUNET_INPUT_ALIGNMENT`], which the network's strides need. The
//!   input is as large as the image needs, not a fixed square, and the resampling writes the
//!   tensor planes directly (no intermediate image). Small photos are scaled *up*: YuNet's
//!   landmarks on a face only a few dozen pixels wide are too coarse to align (measured: 0.29 eye
//!   distances off on a 204x244 photo rotated 20 degrees, against 0.16 when upscaled).
//! - [`decode_yunet_outputs`] turns the per-stride `cls`/`obj`/`bbox`/`kps` tensors into
//!   detections (score = sqrt(cls*obj), centre = (col+dx, row+dy)*stride, size =
//!   exp(dw, dh)*stride, landmarks = (col+kx, row+ky)*stride), applies the score threshold,
//!   [`non_maximum_suppression`], and maps boxes and landmarks back to original image pixels.
//! - [`FaceDetection`], [`BoundingBox`] and [`Point`] are the serialisable results.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::{
    BiometricsError,
    resample::{Kernel, resample_into_planes},
};

/// Default longer side, in pixels, of the image the detector sees (photos are scaled to it).
pub const DEFAULT_DETECTION_SIDE: u32 = 640;
/// YuNet's input sides must be multiples of its largest stride.
pub const YUNET_INPUT_ALIGNMENT: u32 = 32;
/// Feature-map strides of the YuNet heads.
pub const YUNET_STRIDES: [u32; 3] = [8, 16, 32];
/// Default minimum detection score (OpenCV `FaceDetectorYN` default).
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.9;
/// IoU above which overlapping detections are suppressed (OpenCV `FaceDetectorYN` default).
pub const NMS_IOU_THRESHOLD: f32 = 0.3;
/// Number of landmark coordinates per anchor (5 points, x and y).
const LANDMARK_VALUES: usize = 10;

/// A point in image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal coordinate in pixels.
    pub x: f32,
    /// Vertical coordinate in pixels.
    pub y: f32,
}

/// An axis-aligned box in image pixel coordinates (top-left corner plus size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left edge in pixels.
    pub x: f32,
    /// Top edge in pixels.
    pub y: f32,
    /// Width in pixels.
    pub width: f32,
    /// Height in pixels.
    pub height: f32,
}

impl BoundingBox {
    /// Area in square pixels (zero for degenerate boxes).
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with another box, in 0..=1.
    pub fn intersection_over_union(&self, other: &BoundingBox) -> f32 {
        let left = self.x.max(other.x);
        let top = self.y.max(other.y);
        let right = (self.x + self.width).min(other.x + other.width);
        let bottom = (self.y + self.height).min(other.y + other.height);
        let intersection = (right - left).max(0.0) * (bottom - top).max(0.0);
        let union = self.area() + other.area() - intersection;
        if union <= 0.0 {
            0.0
        } else {
            intersection / union
        }
    }

    /// True when the point lies inside the box (edges included).
    pub fn contains(&self, point: &Point) -> bool {
        point.x >= self.x
            && point.x <= self.x + self.width
            && point.y >= self.y
            && point.y <= self.y + self.height
    }
}

/// One detected face in original image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceDetection {
    /// Face box, clamped to the image.
    pub bbox: BoundingBox,
    /// Right eye, left eye, nose tip, right mouth corner, left mouth corner (YuNet order).
    pub landmarks: [Point; 5],
    /// Detection confidence in 0..=1.
    pub score: f32,
}

/// How an image was laid out in the detector's input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LetterboxGeometry {
    /// Original image width in pixels.
    pub original_width: u32,
    /// Original image height in pixels.
    pub original_height: u32,
    /// Width of the scaled image inside the input.
    pub scaled_width: u32,
    /// Height of the scaled image inside the input.
    pub scaled_height: u32,
    /// Width of the model input: `scaled_width` rounded up to [`YUNET_INPUT_ALIGNMENT`].
    pub input_width: u32,
    /// Height of the model input: `scaled_height` rounded up to [`YUNET_INPUT_ALIGNMENT`].
    pub input_height: u32,
}

impl LetterboxGeometry {
    /// Geometry for an image of the given size: scaled so its longer side is `side` (aspect
    /// kept), padded to the input alignment.
    pub fn for_image(original_width: u32, original_height: u32, side: u32) -> Self {
        let side = side.max(YUNET_INPUT_ALIGNMENT);
        let longer_side = original_width.max(original_height).max(1);
        let scale = f64::from(side) / f64::from(longer_side);
        let scaled = |length: u32| ((f64::from(length) * scale).round() as u32).clamp(1, side);
        let aligned = |side: u32| side.div_ceil(YUNET_INPUT_ALIGNMENT) * YUNET_INPUT_ALIGNMENT;
        let (scaled_width, scaled_height) = (scaled(original_width), scaled(original_height));
        Self {
            original_width,
            original_height,
            scaled_width,
            scaled_height,
            input_width: aligned(scaled_width),
            input_height: aligned(scaled_height),
        }
    }

    /// Maps a point in model-input pixels back to original image pixels.
    pub fn to_original(&self, x: f32, y: f32) -> Point {
        Point {
            x: x * self.original_width as f32 / self.scaled_width as f32,
            y: y * self.original_height as f32 / self.scaled_height as f32,
        }
    }
}

/// An image laid out for YuNet: `[1, 3, input_height, input_width]` BGR 0..255 plus its geometry.
#[derive(Debug, Clone)]
pub struct LetterboxedInput {
    /// NCHW tensor data, channel order B, G, R.
    pub tensor: Vec<f32>,
    /// Geometry for mapping detections back.
    pub geometry: LetterboxGeometry,
}

/// Lays the image out as YuNet's BGR NCHW input, its longer side scaled to `side` (see the
/// module documentation).
pub fn letterbox(image: &RgbImage, side: u32) -> LetterboxedInput {
    let geometry = LetterboxGeometry::for_image(image.width(), image.height(), side);
    let (input_width, input_height) = (
        geometry.input_width as usize,
        geometry.input_height as usize,
    );
    let plane = input_width * input_height;
    let mut tensor = vec![0.0f32; 3 * plane];
    let (blue, rest) = tensor.split_at_mut(plane);
    let (green, red) = rest.split_at_mut(plane);
    let mut planes = [red, green, blue];
    if (geometry.scaled_width, geometry.scaled_height) == image.dimensions() {
        copy_into_planes(image, &mut planes, input_width);
    } else {
        resample_into_planes(
            image,
            (
                geometry.scaled_width as usize,
                geometry.scaled_height as usize,
            ),
            Kernel::Triangle,
            &mut planes,
            input_width,
        );
    }
    LetterboxedInput { tensor, geometry }
}

/// Copies RGB pixels into the top-left of three planes of row length `row_length`.
fn copy_into_planes(image: &RgbImage, planes: &mut [&mut [f32]; 3], row_length: usize) {
    let width = image.width() as usize;
    for (y, row) in image.as_raw().chunks_exact(width * 3).enumerate() {
        let start = y * row_length;
        for (channel, plane) in planes.iter_mut().enumerate() {
            let out = &mut plane[start..start + width];
            for (value, pixel) in out.iter_mut().zip(row.chunks_exact(3)) {
                *value = f32::from(pixel[channel]);
            }
        }
    }
}

/// The four YuNet output tensors of one stride, flattened (`[1, rows*cols, C]`).
#[derive(Debug, Clone, Copy)]
pub struct YunetStrideOutputs<'a> {
    /// Feature-map stride in input pixels (8, 16 or 32).
    pub stride: u32,
    /// Classification scores, one per anchor.
    pub cls: &'a [f32],
    /// Objectness scores, one per anchor.
    pub obj: &'a [f32],
    /// Box regressions (dx, dy, dw, dh), four per anchor.
    pub bbox: &'a [f32],
    /// Landmark regressions (kx, ky) x 5, ten per anchor.
    pub kps: &'a [f32],
}

/// Decodes YuNet outputs into detections above `score_threshold`, after NMS, in original
/// image pixels, sorted by descending score.
pub fn decode_yunet_outputs(
    outputs: &[YunetStrideOutputs<'_>],
    geometry: &LetterboxGeometry,
    score_threshold: f32,
) -> Result<Vec<FaceDetection>, BiometricsError> {
    let mut candidates = Vec::new();
    for output in outputs {
        decode_stride(output, geometry, score_threshold, &mut candidates)?;
    }
    let kept = non_maximum_suppression(candidates, NMS_IOU_THRESHOLD);
    Ok(kept
        .into_iter()
        .map(|detection| map_to_original(&detection, geometry))
        .collect())
}

/// Decodes one stride's anchors into letterbox-space candidates.
fn decode_stride(
    output: &YunetStrideOutputs<'_>,
    geometry: &LetterboxGeometry,
    score_threshold: f32,
    candidates: &mut Vec<FaceDetection>,
) -> Result<(), BiometricsError> {
    if output.stride == 0 {
        return Err(BiometricsError::Inference(
            "YuNet stride is zero".to_owned(),
        ));
    }
    let columns = (geometry.input_width / output.stride) as usize;
    let rows = (geometry.input_height / output.stride) as usize;
    let anchors = rows * columns;
    let lengths_match = output.cls.len() == anchors
        && output.obj.len() == anchors
        && output.bbox.len() == anchors * 4
        && output.kps.len() == anchors * LANDMARK_VALUES;
    if !lengths_match {
        return Err(BiometricsError::Inference(format!(
            "YuNet stride {} outputs have unexpected sizes (cls {}, obj {}, bbox {}, kps {}; \
             expected {anchors} anchors)",
            output.stride,
            output.cls.len(),
            output.obj.len(),
            output.bbox.len(),
            output.kps.len()
        )));
    }
    let stride = output.stride as f32;
    for row in 0..rows {
        for column in 0..columns {
            let index = row * columns + column;
            let class_score = output.cls[index].clamp(0.0, 1.0);
            let object_score = output.obj[index].clamp(0.0, 1.0);
            let score = (class_score * object_score).sqrt();
            if score.is_nan() || score < score_threshold {
                continue;
            }
            let regression = &output.bbox[index * 4..index * 4 + 4];
            let centre_x = (column as f32 + regression[0]) * stride;
            let centre_y = (row as f32 + regression[1]) * stride;
            let width = regression[2].exp() * stride;
            let height = regression[3].exp() * stride;
            let key_points = &output.kps[index * LANDMARK_VALUES..(index + 1) * LANDMARK_VALUES];
            let landmarks = std::array::from_fn(|point| Point {
                x: (column as f32 + key_points[2 * point]) * stride,
                y: (row as f32 + key_points[2 * point + 1]) * stride,
            });
            candidates.push(FaceDetection {
                bbox: BoundingBox {
                    x: centre_x - width / 2.0,
                    y: centre_y - height / 2.0,
                    width,
                    height,
                },
                landmarks,
                score,
            });
        }
    }
    Ok(())
}

/// Greedy NMS: keeps the best-scoring detections, dropping any whose IoU with a kept one
/// exceeds `iou_threshold`. Returns detections sorted by descending score.
pub fn non_maximum_suppression(
    mut detections: Vec<FaceDetection>,
    iou_threshold: f32,
) -> Vec<FaceDetection> {
    detections.retain(|detection| detection.score.is_finite());
    detections.sort_by(|left, right| right.score.total_cmp(&left.score));
    let mut kept: Vec<FaceDetection> = Vec::new();
    for candidate in detections {
        let overlaps_kept = kept
            .iter()
            .any(|existing| existing.bbox.intersection_over_union(&candidate.bbox) > iou_threshold);
        if !overlaps_kept {
            kept.push(candidate);
        }
    }
    kept
}

/// Maps a letterbox-space detection to original pixels and clamps its box to the image.
fn map_to_original(detection: &FaceDetection, geometry: &LetterboxGeometry) -> FaceDetection {
    let image_width = geometry.original_width as f32;
    let image_height = geometry.original_height as f32;
    let top_left = geometry.to_original(detection.bbox.x, detection.bbox.y);
    let bottom_right = geometry.to_original(
        detection.bbox.x + detection.bbox.width,
        detection.bbox.y + detection.bbox.height,
    );
    let left = top_left.x.clamp(0.0, image_width);
    let top = top_left.y.clamp(0.0, image_height);
    let right = bottom_right.x.clamp(0.0, image_width);
    let bottom = bottom_right.y.clamp(0.0, image_height);
    FaceDetection {
        bbox: BoundingBox {
            x: left,
            y: top,
            width: right - left,
            height: bottom - top,
        },
        landmarks: detection
            .landmarks
            .map(|point| geometry.to_original(point.x, point.y)),
        score: detection.score,
    }
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    fn detection(x: f32, y: f32, size: f32, score: f32) -> FaceDetection {
        FaceDetection {
            bbox: BoundingBox {
                x,
                y,
                width: size,
                height: size,
            },
            landmarks: [Point { x, y }; 5],
            score,
        }
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = detection(0.0, 0.0, 10.0, 1.0).bbox;
        let b = detection(20.0, 20.0, 10.0, 1.0).bbox;
        let half = detection(5.0, 0.0, 10.0, 1.0).bbox;
        assert!((a.intersection_over_union(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.intersection_over_union(&b), 0.0);
        assert!((a.intersection_over_union(&half) - 50.0 / 150.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_all_separate() {
        let detections = vec![
            detection(0.0, 0.0, 100.0, 0.91),
            detection(5.0, 5.0, 100.0, 0.97),
            detection(300.0, 300.0, 80.0, 0.93),
            detection(60.0, 0.0, 100.0, 0.95), // IoU with the best is about 0.25: kept
        ];
        let kept = non_maximum_suppression(detections, NMS_IOU_THRESHOLD);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.97, 0.95, 0.93]);
    }

    #[test]
    fn nms_drops_nan_scores() {
        let kept = non_maximum_suppression(vec![detection(0.0, 0.0, 10.0, f32::NAN)], 0.3);
        assert!(kept.is_empty());
    }

    #[test]
    fn letterbox_geometry_scales_the_longer_side_to_the_detection_side() {
        let geometry = LetterboxGeometry::for_image(1280, 960, 640);
        assert_eq!((geometry.scaled_width, geometry.scaled_height), (640, 480));
        assert_eq!((geometry.input_width, geometry.input_height), (640, 480));
        let point = geometry.to_original(320.0, 240.0);
        assert!((point.x - 640.0).abs() < 1e-3 && (point.y - 480.0).abs() < 1e-3);

        let portrait = LetterboxGeometry::for_image(722, 899, 640);
        assert_eq!((portrait.scaled_width, portrait.scaled_height), (514, 640));
        assert_eq!((portrait.input_width, portrait.input_height), (544, 640));
        let corner = portrait.to_original(514.0, 640.0);
        assert!((corner.x - 722.0).abs() < 1e-3 && (corner.y - 899.0).abs() < 1e-3);

        // A small photo is scaled up, then padded to the stride alignment.
        let small = LetterboxGeometry::for_image(204, 244, 320);
        assert_eq!((small.scaled_width, small.scaled_height), (268, 320));
        assert_eq!((small.input_width, small.input_height), (288, 320));
        let point = small.to_original(134.0, 160.0);
        assert!((point.x - 102.0).abs() < 1e-3 && (point.y - 122.0).abs() < 1e-3);
        // At its own size it is only padded.
        let native = LetterboxGeometry::for_image(204, 244, 244);
        assert_eq!((native.input_width, native.input_height), (224, 256));
        assert_eq!(native.to_original(100.0, 50.0), Point { x: 100.0, y: 50.0 });
    }

    #[test]
    fn letterbox_tensor_is_bgr_and_padded_right_bottom() {
        let image = RgbImage::from_pixel(1280, 640, Rgb([10, 20, 30]));
        let input = letterbox(&image, 640);
        let (width, height) = (640, 320);
        assert_eq!(
            (input.geometry.input_width, input.geometry.input_height),
            (width as u32, height as u32)
        );
        let plane = width * height;
        assert_eq!(input.tensor.len(), 3 * plane);
        // Scaled by half with the triangle filter, a flat colour stays exactly that colour.
        for offset in [0, 100 * width + 100, plane - 1] {
            assert!((input.tensor[offset] - 30.0).abs() < 1e-3);
            assert!((input.tensor[plane + offset] - 20.0).abs() < 1e-3);
            assert!((input.tensor[2 * plane + offset] - 10.0).abs() < 1e-3);
        }

        let small = RgbImage::from_fn(50, 40, |x, y| Rgb([x as u8, y as u8, 7]));
        let input = letterbox(&small, 50);
        let (width, height) = (64usize, 64usize);
        let plane = width * height;
        assert_eq!(input.tensor.len(), 3 * plane);
        let at = |x: usize, y: usize| y * width + x;
        assert_eq!(input.tensor[at(49, 39)], 7.0); // blue
        assert_eq!(input.tensor[plane + at(49, 39)], 39.0); // green = y
        assert_eq!(input.tensor[2 * plane + at(49, 39)], 49.0); // red = x
        // Right of and below the image: padding.
        assert_eq!(input.tensor[2 * plane + at(50, 10)], 0.0);
        assert_eq!(input.tensor[plane + at(10, 40)], 0.0);
    }

    #[test]
    fn downscaling_averages_instead_of_skipping_pixels() {
        // One-pixel stripes alternating black and white: a point sampler would see only one of
        // them; the triangle filter's support covers both and gives the mean.
        let stripes = RgbImage::from_fn(1280, 8, |x, _| {
            let value = if x % 2 == 0 { 0 } else { 255 };
            Rgb([value, value, value])
        });
        let input = letterbox(&stripes, 640);
        assert_eq!(input.geometry.scaled_width, 640);
        for x in 1..639 {
            assert!(
                (input.tensor[x] - 127.5).abs() < 1.0,
                "column {x}: {}",
                input.tensor[x]
            );
        }
    }

    /// Builds stride outputs over a `width` x `height` input with one confident anchor and
    /// everything else at zero.
    fn single_anchor_outputs(
        (width, height): (u32, u32),
        stride: u32,
        row: usize,
        column: usize,
    ) -> [Vec<f32>; 4] {
        let columns = (width / stride) as usize;
        let anchors = columns * (height / stride) as usize;
        let index = row * columns + column;
        let mut cls = vec![0.0; anchors];
        let mut obj = vec![0.0; anchors];
        let mut bbox = vec![0.0; anchors * 4];
        let mut kps = vec![0.0; anchors * 10];
        cls[index] = 0.99;
        obj[index] = 1.5; // clamped to 1
        bbox[index * 4..index * 4 + 4].copy_from_slice(&[0.5, 0.5, 2.0f32.ln(), 2.0f32.ln()]);
        for point in 0..5 {
            kps[index * 10 + 2 * point] = 0.25 + point as f32 * 0.1;
            kps[index * 10 + 2 * point + 1] = 0.25;
        }
        [cls, obj, bbox, kps]
    }

    #[test]
    fn decodes_anchor_and_maps_to_original_coordinates() {
        let [cls, obj, bbox, kps] = single_anchor_outputs((640, 640), 32, 4, 6);
        let outputs = [YunetStrideOutputs {
            stride: 32,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        }];
        // Original image 1280x1280 -> scale 0.5, so every coordinate doubles.
        let geometry = LetterboxGeometry::for_image(1280, 1280, 640);
        let faces = decode_yunet_outputs(&outputs, &geometry, 0.9).unwrap();
        assert_eq!(faces.len(), 1);
        let face = faces[0];
        assert!((face.score - 0.99f32.sqrt()).abs() < 1e-6);
        // Centre (6.5*32, 4.5*32) = (208, 144), size 64 -> letterbox box (176, 112, 64, 64).
        assert!((face.bbox.x - 352.0).abs() < 1e-3);
        assert!((face.bbox.y - 224.0).abs() < 1e-3);
        assert!((face.bbox.width - 128.0).abs() < 1e-3);
        assert!((face.landmarks[0].x - (6.25 * 32.0 * 2.0)).abs() < 1e-3);
        assert!((face.landmarks[0].y - (4.25 * 32.0 * 2.0)).abs() < 1e-3);
    }

    #[test]
    fn decodes_a_non_square_input_row_by_row() {
        // 204x244 at its own size runs as a 224x256 input: 7 columns and 8 rows of stride-32
        // anchors.
        let [cls, obj, bbox, kps] = single_anchor_outputs((224, 256), 32, 5, 2);
        let outputs = [YunetStrideOutputs {
            stride: 32,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        }];
        let geometry = LetterboxGeometry::for_image(204, 244, 244);
        let face = decode_yunet_outputs(&outputs, &geometry, 0.9).unwrap()[0];
        // Centre (2.5*32, 5.5*32) = (80, 176), size 64; the image is not scaled.
        assert!((face.bbox.x - 48.0).abs() < 1e-3);
        assert!((face.bbox.y - 144.0).abs() < 1e-3);
        // The same outputs read as a square grid would fail the size check.
        let square = LetterboxGeometry::for_image(256, 256, 256);
        assert!(decode_yunet_outputs(&outputs, &square, 0.9).is_err());
    }

    #[test]
    fn boxes_are_clamped_to_the_image() {
        let [cls, obj, bbox, kps] = single_anchor_outputs((640, 640), 32, 0, 0);
        let outputs = [YunetStrideOutputs {
            stride: 32,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        }];
        let geometry = LetterboxGeometry::for_image(640, 640, 640);
        let face = decode_yunet_outputs(&outputs, &geometry, 0.5).unwrap()[0];
        assert_eq!((face.bbox.x, face.bbox.y), (0.0, 0.0));
        assert!((face.bbox.width - 48.0).abs() < 1e-3); // centre 16, half-size 32 -> 0..48
    }

    #[test]
    fn threshold_and_wrong_sizes() {
        let [cls, obj, bbox, kps] = single_anchor_outputs((640, 640), 16, 1, 1);
        let outputs = [YunetStrideOutputs {
            stride: 16,
            cls: &cls,
            obj: &obj,
            bbox: &bbox,
            kps: &kps,
        }];
        let geometry = LetterboxGeometry::for_image(640, 640, 640);
        assert!(
            decode_yunet_outputs(&outputs, &geometry, 0.999)
                .unwrap()
                .is_empty()
        );
        let wrong = [YunetStrideOutputs {
            stride: 8,
            ..outputs[0]
        }];
        assert!(matches!(
            decode_yunet_outputs(&wrong, &geometry, 0.9),
            Err(BiometricsError::Inference(_))
        ));
    }
}
