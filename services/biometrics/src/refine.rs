//! Two-pass face detection: a coarse pass over the whole image finds the faces, then a second
//! pass on a crop around each face measures its box and landmarks at a useful resolution.
//!
//! Why: YuNet's landmark precision depends on how many input pixels the face covers, not on the
//! whole image's size. One pass at a longer side of 640 buys that precision for every pixel of
//! the photo (a 544x640 input: 7 ms on one core); a 320 pass finds the same faces for a quarter
//! of the cost, and a 320-pixel crop of 1.5 times the face box gives landmarks nearly as good
//! (BENCHMARKS.md has the timings, `tests/geometry_variants.rs` the precision).
//!
//! The pure decisions live here, testable without a model; [`crate::engine`] runs the passes:
//! - [`TwoPassDetection`]: the settings, `coarse_side` 0 turning the scheme off;
//! - [`coarse_pass_suffices`]: whether the coarse result can be refined, or the caller must run
//!   the single full-resolution pass instead (no face found, too many faces, or a face too small
//!   in the coarse input for a second person of half its width to be found reliably there);
//! - [`refine_region`]: the crop, a square around the face clipped to the image;
//! - [`copy_region`]: the crop's pixels;
//! - [`matching_refined_face`]: which face of the crop pass is the coarse face.

use image::RgbImage;

use crate::detect::{BoundingBox, FaceDetection};

/// Default longer side of the coarse whole-image pass.
pub const DEFAULT_COARSE_SIDE: u32 = 320;
/// Default longer side of the crop pass around each face.
pub const DEFAULT_REFINE_SIDE: u32 = 320;
/// Default crop side as a multiple of the face box's longer side.
pub const DEFAULT_CROP_SCALE: f32 = 1.5;
/// Default most faces refined one by one; more go to the full pass.
pub const DEFAULT_MAX_REFINED_FACES: usize = 4;
/// Default smallest width, in coarse-input pixels, of the largest face for the coarse pass to
/// stand. The selection policy treats a second face of half the largest face's width as a
/// second person; at 48 pixels that face is 24 pixels wide in the coarse input, where YuNet
/// finds faces reliably (its smallest anchors are 8 pixels).
pub const DEFAULT_MIN_COARSE_FACE_PX: f32 = 48.0;
/// Least overlap between a crop-pass face and the coarse face for the two to be one face.
const SAME_FACE_IOU: f32 = 0.3;

/// Settings of the two-pass detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoPassDetection {
    /// Longer side of the coarse pass over the whole image; 0 turns the scheme off (one pass at
    /// the engine's full detection side).
    pub coarse_side: u32,
    /// Longer side the crop around each face is scaled to for the second pass.
    pub refine_side: u32,
    /// Crop side as a multiple of the coarse face box's longer side.
    pub crop_scale: f32,
    /// Most faces refined one by one.
    pub max_refined_faces: usize,
    /// Smallest width of the largest face in coarse-input pixels.
    pub min_coarse_face_px: f32,
}

impl Default for TwoPassDetection {
    fn default() -> Self {
        Self {
            coarse_side: DEFAULT_COARSE_SIDE,
            refine_side: DEFAULT_REFINE_SIDE,
            crop_scale: DEFAULT_CROP_SCALE,
            max_refined_faces: DEFAULT_MAX_REFINED_FACES,
            min_coarse_face_px: DEFAULT_MIN_COARSE_FACE_PX,
        }
    }
}

impl TwoPassDetection {
    /// One pass at the full detection side only.
    pub fn off() -> Self {
        Self {
            coarse_side: 0,
            ..Self::default()
        }
    }

    /// Whether the coarse pass runs at all (it is pointless unless smaller than the full pass).
    pub fn applies_below(&self, full_side: u32) -> bool {
        self.coarse_side > 0 && self.coarse_side < full_side && self.refine_side > 0
    }
}

/// A rectangle of whole pixels inside an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRegion {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width (at least 1).
    pub width: u32,
    /// Height (at least 1).
    pub height: u32,
}

/// Whether `faces` from the coarse pass over a `width` x `height` image can be refined one by
/// one, or the full pass must run instead.
pub fn coarse_pass_suffices(
    faces: &[FaceDetection],
    width: u32,
    height: u32,
    settings: &TwoPassDetection,
) -> bool {
    let Some(largest_width) = faces
        .iter()
        .map(|face| face.bbox.width)
        .max_by(f32::total_cmp)
    else {
        return false;
    };
    let coarse_scale = settings.coarse_side as f32 / width.max(height).max(1) as f32;
    faces.len() <= settings.max_refined_faces
        && largest_width * coarse_scale >= settings.min_coarse_face_px
}

/// The crop the second pass sees for `face`: a square of `crop_scale` times the box's longer
/// side around the box centre, clipped to the `width` x `height` image.
pub fn refine_region(
    face: &FaceDetection,
    width: u32,
    height: u32,
    crop_scale: f32,
) -> PixelRegion {
    let side = face.bbox.width.max(face.bbox.height) * crop_scale.max(1.0);
    let centre_x = face.bbox.x + face.bbox.width / 2.0;
    let centre_y = face.bbox.y + face.bbox.height / 2.0;
    let clip =
        |start: f32, limit: u32| (start.floor().max(0.0) as u32).min(limit.saturating_sub(1));
    let x = clip(centre_x - side / 2.0, width);
    let y = clip(centre_y - side / 2.0, height);
    let right = ((centre_x + side / 2.0).ceil().max(0.0) as u32).clamp(x + 1, width.max(x + 1));
    let bottom = ((centre_y + side / 2.0).ceil().max(0.0) as u32).clamp(y + 1, height.max(y + 1));
    PixelRegion {
        x,
        y,
        width: right - x,
        height: bottom - y,
    }
}

/// The crop-pass face (already in whole-image pixels) that is `coarse`: the one overlapping it
/// most, if it overlaps enough.
pub fn matching_refined_face(
    coarse: &FaceDetection,
    candidates: &[FaceDetection],
) -> Option<FaceDetection> {
    candidates
        .iter()
        .map(|candidate| {
            (
                candidate,
                candidate.bbox.intersection_over_union(&coarse.bbox),
            )
        })
        .filter(|(_, overlap)| *overlap >= SAME_FACE_IOU)
        .max_by(|left, right| left.1.total_cmp(&right.1))
        .map(|(candidate, _)| *candidate)
}

/// The pixels of `region` as an image of their own (whole rows copied at once: the generic
/// `image::imageops::crop_imm(..).to_image()` copies pixel by pixel, 10x slower).
pub fn copy_region(image: &RgbImage, region: PixelRegion) -> RgbImage {
    let x = region.x.min(image.width()) as usize;
    let y = region.y.min(image.height()) as usize;
    let width = (region.width as usize).min(image.width() as usize - x);
    let height = (region.height as usize).min(image.height() as usize - y);
    let row_bytes = image.width() as usize * 3;
    let mut pixels = Vec::with_capacity(width * height * 3);
    for row in image.as_raw().chunks_exact(row_bytes).skip(y).take(height) {
        pixels.extend_from_slice(&row[x * 3..(x + width) * 3]);
    }
    RgbImage::from_raw(width as u32, height as u32, pixels)
        .unwrap_or_else(|| RgbImage::new(width as u32, height as u32))
}

/// `face`, found in a crop whose top-left corner is at (`x`, `y`), in whole-image pixels.
pub fn offset_detection(face: &FaceDetection, x: u32, y: u32) -> FaceDetection {
    let (dx, dy) = (x as f32, y as f32);
    FaceDetection {
        bbox: BoundingBox {
            x: face.bbox.x + dx,
            y: face.bbox.y + dy,
            ..face.bbox
        },
        landmarks: face.landmarks.map(|point| crate::detect::Point {
            x: point.x + dx,
            y: point.y + dy,
        }),
        score: face.score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Point;

    fn face(x: f32, y: f32, side: f32) -> FaceDetection {
        FaceDetection {
            bbox: BoundingBox {
                x,
                y,
                width: side,
                height: side,
            },
            landmarks: [Point { x, y }; 5],
            score: 0.95,
        }
    }

    #[test]
    fn no_face_or_a_small_face_in_the_coarse_pass_sends_the_image_to_the_full_pass() {
        let settings = TwoPassDetection::default();
        assert!(!coarse_pass_suffices(&[], 800, 600, &settings));
        // 800 px wide image at a coarse side of 320: scale 0.4. A 100 px face is 40 px there.
        assert!(!coarse_pass_suffices(
            &[face(10.0, 10.0, 100.0)],
            800,
            600,
            &settings
        ));
        assert!(coarse_pass_suffices(
            &[face(10.0, 10.0, 130.0)],
            800,
            600,
            &settings
        ));
    }

    #[test]
    fn a_crowd_goes_to_the_full_pass() {
        let settings = TwoPassDetection::default();
        let crowd: Vec<_> = (0..5).map(|i| face(i as f32 * 150.0, 0.0, 140.0)).collect();
        assert!(!coarse_pass_suffices(&crowd, 800, 600, &settings));
        assert!(coarse_pass_suffices(&crowd[..4], 800, 600, &settings));
    }

    #[test]
    fn the_refine_region_is_a_square_around_the_face_clipped_to_the_image() {
        let centred = refine_region(&face(300.0, 200.0, 100.0), 800, 600, 2.0);
        assert_eq!(
            centred,
            PixelRegion {
                x: 250,
                y: 150,
                width: 200,
                height: 200
            }
        );
        let corner = refine_region(&face(-10.0, 550.0, 100.0), 800, 600, 2.0);
        assert_eq!((corner.x, corner.y), (0, 500));
        assert_eq!((corner.width, corner.height), (140, 100));
    }

    #[test]
    fn the_refined_face_is_the_crop_face_overlapping_the_coarse_one() {
        let coarse = face(100.0, 100.0, 80.0);
        let other_person = face(300.0, 100.0, 80.0);
        let same_shifted = face(104.0, 98.0, 76.0);
        assert_eq!(
            matching_refined_face(&coarse, &[other_person, same_shifted]),
            Some(same_shifted)
        );
        assert_eq!(matching_refined_face(&coarse, &[other_person]), None);
    }

    #[test]
    fn a_copied_region_holds_exactly_the_pixels_of_the_region() {
        let image = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let region = PixelRegion {
            x: 2,
            y: 1,
            width: 4,
            height: 3,
        };
        let copied = copy_region(&image, region);
        assert_eq!(copied.dimensions(), (4, 3));
        assert_eq!(copied.get_pixel(0, 0), &image::Rgb([2, 1, 9]));
        assert_eq!(copied.get_pixel(3, 2), &image::Rgb([5, 3, 9]));
        let expected = image::imageops::crop_imm(&image, 2, 1, 4, 3).to_image();
        assert_eq!(copied, expected);
    }

    #[test]
    fn offsetting_moves_box_and_landmarks_by_the_crop_origin() {
        let moved = offset_detection(&face(5.0, 7.0, 10.0), 100, 200);
        assert_eq!((moved.bbox.x, moved.bbox.y), (105.0, 207.0));
        assert_eq!(moved.landmarks[3], Point { x: 105.0, y: 207.0 });
    }
}
