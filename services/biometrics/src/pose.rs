//! Head pose and scale estimated from YuNet's five landmarks, shared by the quality gate and
//! active liveness.
//!
//! [`LandmarkPose::from_landmarks`] measures, in a frame aligned with the eye line so roll does
//! not leak into yaw:
//! - `inter_eye_px`: distance between the two eye landmarks (the face's scale);
//! - `roll_degrees`: angle of the eye line against the horizontal;
//! - `yaw_ratio`: offset of the nose tip from the eye midpoint along the eye line, divided by
//!   the eye distance. Positive means the nose points towards image right, which in an
//!   unmirrored photo is the subject's left;
//! - `yaw_degrees`: `atan(yaw_ratio / NOSE_DEPTH_RATIO)`, from a head model whose nose tip sits
//!   [`NOSE_DEPTH_RATIO`] eye distances in front of the eyes (projected offset
//!   `depth * sin(yaw)` over projected eye distance `eyes * cos(yaw)`).

use serde::{Deserialize, Serialize};

use crate::detect::Point;

/// Nose-tip depth in front of the eye plane, in eye distances (adult anthropometry: about
/// 38 mm in front of eyes 63 mm apart).
pub const NOSE_DEPTH_RATIO: f32 = 0.6;

/// Scale, roll and yaw of one face, from its landmarks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LandmarkPose {
    /// Distance between the eye landmarks in pixels.
    pub inter_eye_px: f32,
    /// Eye-line angle in degrees (positive: clockwise in image coordinates).
    pub roll_degrees: f32,
    /// Nose offset from the eye midpoint along the eye line, in eye distances.
    pub yaw_ratio: f32,
    /// Yaw estimated from `yaw_ratio` with the [`NOSE_DEPTH_RATIO`] head model, in degrees.
    pub yaw_degrees: f32,
}

impl LandmarkPose {
    /// Measures pose from landmarks in YuNet order (right eye, left eye, nose, mouth corners).
    pub fn from_landmarks(landmarks: &[Point; 5]) -> Self {
        let [right_eye, left_eye, nose, _, _] = *landmarks;
        let (dx, dy) = (left_eye.x - right_eye.x, left_eye.y - right_eye.y);
        let inter_eye_px = dx.hypot(dy);
        if !(inter_eye_px.is_finite() && inter_eye_px > f32::EPSILON) {
            return Self {
                inter_eye_px: 0.0,
                roll_degrees: 0.0,
                yaw_ratio: 0.0,
                yaw_degrees: 0.0,
            };
        }
        let (axis_x, axis_y) = (dx / inter_eye_px, dy / inter_eye_px);
        let mid_x = (right_eye.x + left_eye.x) / 2.0;
        let mid_y = (right_eye.y + left_eye.y) / 2.0;
        let along = (nose.x - mid_x) * axis_x + (nose.y - mid_y) * axis_y;
        let yaw_ratio = along / inter_eye_px;
        Self {
            inter_eye_px,
            roll_degrees: dy.atan2(dx).to_degrees(),
            yaw_ratio,
            yaw_degrees: (yaw_ratio / NOSE_DEPTH_RATIO).atan().to_degrees(),
        }
    }
}

/// Euclidean distance between two points.
pub fn distance(a: &Point, b: &Point) -> f32 {
    (a.x - b.x).hypot(a.y - b.y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(right_eye: (f32, f32), left_eye: (f32, f32), nose: (f32, f32)) -> [Point; 5] {
        let p = |(x, y): (f32, f32)| Point { x, y };
        [
            p(right_eye),
            p(left_eye),
            p(nose),
            p((right_eye.0, nose.1 + 20.0)),
            p((left_eye.0, nose.1 + 20.0)),
        ]
    }

    #[test]
    fn frontal_face_has_no_roll_or_yaw() {
        let pose =
            LandmarkPose::from_landmarks(&face((100.0, 100.0), (160.0, 100.0), (130.0, 130.0)));
        assert!((pose.inter_eye_px - 60.0).abs() < 1e-4);
        assert!(pose.roll_degrees.abs() < 1e-4 && pose.yaw_degrees.abs() < 1e-4);
    }

    #[test]
    fn nose_towards_image_right_is_positive_yaw_and_rotation_does_not_leak() {
        let turned =
            LandmarkPose::from_landmarks(&face((100.0, 100.0), (160.0, 100.0), (148.0, 130.0)));
        assert!((turned.yaw_ratio - 0.3).abs() < 1e-4);
        assert!((turned.yaw_degrees - 26.565).abs() < 0.01, "{turned:?}");
        // The same face rotated by 30 degrees about the right eye: same yaw, roll 30.
        let (sin, cos) = 30f32.to_radians().sin_cos();
        let rotate = |(x, y): (f32, f32)| {
            let (x, y) = (x - 100.0, y - 100.0);
            (100.0 + x * cos - y * sin, 100.0 + x * sin + y * cos)
        };
        let rotated = LandmarkPose::from_landmarks(&face(
            rotate((100.0, 100.0)),
            rotate((160.0, 100.0)),
            rotate((148.0, 130.0)),
        ));
        assert!((rotated.roll_degrees - 30.0).abs() < 1e-3);
        assert!((rotated.yaw_ratio - 0.3).abs() < 1e-4);
    }

    #[test]
    fn degenerate_landmarks_give_zero_scale() {
        let pose = LandmarkPose::from_landmarks(&[Point { x: 5.0, y: 5.0 }; 5]);
        assert_eq!(pose.inter_eye_px, 0.0);
    }
}
