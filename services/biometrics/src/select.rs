//! Which detected face an image is about: the selection policy per kind of capture.
//!
//! - [`CaptureKind::Selfie`]: the largest face is the subject; any other face at least
//!   [`SelectionPolicy::significant_face_area_ratio`] of its area is a second person in frame
//!   (a fraud signal), reported as [`BiometricsError::MultipleFaces`] with every significant
//!   box. Small faces far in the background are ignored.
//! - [`CaptureKind::DocumentPortrait`]: passports and ID cards print a small secondary "ghost"
//!   portrait, so the largest face is taken whatever else is found.
//!
//! Among faces of nearly the same size ([`SelectionPolicy::same_size_tolerance`]) the one
//! nearest the image centre wins.

use serde::{Deserialize, Serialize};

use crate::{
    BiometricsError,
    detect::{BoundingBox, FaceDetection},
};

/// What an image is expected to show; decides selection and quality defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureKind {
    /// A live capture of the subject (one person in frame).
    Selfie,
    /// The portrait on an identity document (may hold a ghost image).
    DocumentPortrait,
}

/// Tunables of face selection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SelectionPolicy {
    /// A second face with at least this fraction of the largest face's area makes a selfie
    /// ambiguous (default 0.25: half the width of the main face).
    pub significant_face_area_ratio: f32,
    /// Faces within this relative area of the largest count as the same size; then the most
    /// central one is chosen (default 0.1).
    pub same_size_tolerance: f32,
}

impl Default for SelectionPolicy {
    fn default() -> Self {
        Self {
            significant_face_area_ratio: 0.25,
            same_size_tolerance: 0.1,
        }
    }
}

/// Picks the subject's face among `faces` (in an image of `width` x `height`) for `kind`.
pub fn select_face(
    faces: &[FaceDetection],
    width: u32,
    height: u32,
    kind: CaptureKind,
    policy: &SelectionPolicy,
) -> Result<FaceDetection, BiometricsError> {
    let largest_area = faces
        .iter()
        .map(|face| face.bbox.area())
        .fold(0.0f32, f32::max);
    if faces.is_empty() || largest_area <= 0.0 {
        return Err(BiometricsError::NoFace);
    }
    if kind == CaptureKind::Selfie {
        let significant: Vec<BoundingBox> = faces
            .iter()
            .filter(|face| face.bbox.area() >= largest_area * policy.significant_face_area_ratio)
            .map(|face| face.bbox)
            .collect();
        if significant.len() > 1 {
            return Err(BiometricsError::MultipleFaces {
                count: significant.len(),
                boxes: significant,
            });
        }
    }
    let (centre_x, centre_y) = (width as f32 / 2.0, height as f32 / 2.0);
    let distance_to_centre = |face: &FaceDetection| {
        let (x, y) = (
            face.bbox.x + face.bbox.width / 2.0,
            face.bbox.y + face.bbox.height / 2.0,
        );
        (x - centre_x).hypot(y - centre_y)
    };
    faces
        .iter()
        .filter(|face| face.bbox.area() >= largest_area * (1.0 - policy.same_size_tolerance))
        .min_by(|a, b| distance_to_centre(a).total_cmp(&distance_to_centre(b)))
        .copied()
        .ok_or(BiometricsError::NoFace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Point;

    fn face(x: f32, y: f32, size: f32) -> FaceDetection {
        FaceDetection {
            bbox: BoundingBox {
                x,
                y,
                width: size,
                height: size,
            },
            landmarks: [Point { x, y }; 5],
            score: 0.95,
        }
    }

    #[test]
    fn selfie_ignores_small_background_faces_and_rejects_a_second_person() {
        let policy = SelectionPolicy::default();
        let main = face(200.0, 150.0, 200.0);
        let background = face(20.0, 20.0, 60.0); // 9% of the area
        let chosen =
            select_face(&[background, main], 640, 480, CaptureKind::Selfie, &policy).unwrap();
        assert_eq!(chosen, main);

        let second = face(450.0, 150.0, 150.0); // 56% of the area
        let error =
            select_face(&[main, second], 640, 480, CaptureKind::Selfie, &policy).unwrap_err();
        match error {
            BiometricsError::MultipleFaces { count, boxes } => {
                assert_eq!(count, 2);
                assert_eq!(boxes, vec![main.bbox, second.bbox]);
            }
            other => panic!("expected MultipleFaces, got {other:?}"),
        }
    }

    #[test]
    fn document_takes_the_largest_face_despite_a_ghost_image() {
        let portrait = face(40.0, 60.0, 180.0);
        let ghost = face(500.0, 200.0, 120.0);
        let chosen = select_face(
            &[ghost, portrait],
            800,
            500,
            CaptureKind::DocumentPortrait,
            &SelectionPolicy::default(),
        )
        .unwrap();
        assert_eq!(chosen, portrait);
    }

    #[test]
    fn same_size_faces_resolve_to_the_most_central() {
        let off_centre = face(0.0, 0.0, 100.0);
        let central = face(270.0, 190.0, 98.0);
        let chosen = select_face(
            &[off_centre, central],
            640,
            480,
            CaptureKind::DocumentPortrait,
            &SelectionPolicy::default(),
        )
        .unwrap();
        assert_eq!(chosen, central);
    }

    #[test]
    fn no_faces_is_no_face() {
        let result = select_face(
            &[],
            10,
            10,
            CaptureKind::Selfie,
            &SelectionPolicy::default(),
        );
        assert!(matches!(result, Err(BiometricsError::NoFace)));
    }
}
