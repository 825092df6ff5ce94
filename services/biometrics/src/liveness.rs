//! Active liveness: the server issues a random challenge, the client captures a few frames
//! while the person follows it, and the landmarks in those frames must move accordingly.
//!
//! Layout:
//! - [`LivenessChallenge::issue`]: a random [`ChallengeAction`] (turn head left, turn head
//!   right, move closer) with a nonce; serialises as
//!   `{"nonce": "<32 hex>", "action": "turn_head_left"}`. The caller stores it with the session
//!   and passes it back when frames arrive.
//! - [`FrameFingerprint`] / [`frame_fingerprint`]: a perceptual fingerprint per frame (64-bit
//!   dHash of the face region plus 64-bit dHash of the whole frame), serialised as 32 hex
//!   digits. The caller stores every session's fingerprints and passes earlier sessions' ones
//!   in, so a frame replayed from another session is caught.
//! - [`evaluate_liveness`] -> [`LivenessResult`]: passed flag, reason codes
//!   ([`LivenessCode`]) and per-frame measurements.
//!
//! What the evaluation checks, in order:
//! 1. every frame holds exactly one face (selfie selection: a second person fails);
//! 2. no two frames are duplicates (32x32 grey thumbnails differ by less than
//!    [`LivenessConfig::duplicate_max_mean_difference`] grey levels on average — a camera's
//!    sensor noise alone exceeds that);
//! 3. the face moved at all (landmark motion relative to the eye distance, and scale change);
//!    a still photo held in front of the camera gives `static_frames`;
//! 4. no frame matches a previously seen fingerprint (`replayed_frames`);
//! 5. the challenge was followed: for a head turn, the yaw ratio (nose offset from the eye
//!    midpoint, in eye distances; see [`crate::pose`]) moves at least
//!    [`LivenessConfig::min_yaw_change`] in the requested direction compared with the first
//!    frame; for "move closer", the eye distance grows by [`LivenessConfig::min_closer_factor`].
//!
//! Directions are the subject's own: "turn head left" moves the nose towards image right in an
//! unmirrored capture; set [`LivenessConfig::mirrored_frames`] if the client sends selfie-preview
//! (mirrored) frames. A flat photo turned in front of the camera shrinks horizontally but keeps
//! the nose centred between the eyes, so it does not pass a head-turn challenge; a 3-D mask
//! would, which is what passive PAD ([`crate::pad`]) is for.

use std::fmt;

use image::{GrayImage, RgbImage, imageops::FilterType};
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    BiometricsError,
    decode::DecodedImage,
    detect::FaceDetection,
    engine::FaceEngine,
    pose::{LandmarkPose, distance},
    select::{CaptureKind, SelectionPolicy, select_face},
};

/// What the person is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeAction {
    /// Turn the head to the subject's left.
    TurnHeadLeft,
    /// Turn the head to the subject's right.
    TurnHeadRight,
    /// Bring the face closer to the camera.
    MoveCloser,
}

impl ChallengeAction {
    /// Every action, for random choice.
    pub const ALL: [ChallengeAction; 3] = [
        ChallengeAction::TurnHeadLeft,
        ChallengeAction::TurnHeadRight,
        ChallengeAction::MoveCloser,
    ];

    /// An instruction to show the person.
    pub fn instruction(self) -> &'static str {
        match self {
            Self::TurnHeadLeft => "slowly turn your head to your left",
            Self::TurnHeadRight => "slowly turn your head to your right",
            Self::MoveCloser => "slowly bring your face closer to the camera",
        }
    }
}

/// A server-issued liveness challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivenessChallenge {
    /// 128 random bits as 32 hex digits, so a challenge cannot be predicted or reused.
    pub nonce: String,
    /// What the person must do.
    pub action: ChallengeAction,
}

impl LivenessChallenge {
    /// Issues a challenge with a random action and nonce from `rng`.
    pub fn issue(rng: &mut impl Rng) -> Self {
        let action = ChallengeAction::ALL[rng.random_range(0..ChallengeAction::ALL.len())];
        Self {
            nonce: format!("{:032x}", rng.random::<u128>()),
            action,
        }
    }

    /// Issues a challenge from the thread-local cryptographic generator.
    pub fn issue_random() -> Self {
        Self::issue(&mut rand::rng())
    }
}

/// Perceptual fingerprint of one frame: dHash of the face region and of the whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameFingerprint {
    /// 64-bit dHash of the face region (the box grown by half), or of the frame without a face.
    pub face: u64,
    /// 64-bit dHash of the whole frame.
    pub frame: u64,
}

impl FrameFingerprint {
    /// Largest of the two Hamming distances to `other` (0 = perceptually the same frame).
    pub fn distance(&self, other: &FrameFingerprint) -> u32 {
        (self.face ^ other.face)
            .count_ones()
            .max((self.frame ^ other.frame).count_ones())
    }

    /// Parses the 32-hex-digit form.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 32 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        Some(Self {
            face: u64::from_str_radix(&text[..16], 16).ok()?,
            frame: u64::from_str_radix(&text[16..], 16).ok()?,
        })
    }
}

impl fmt::Display for FrameFingerprint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:016x}{:016x}", self.face, self.frame)
    }
}

impl Serialize for FrameFingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FrameFingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("a frame fingerprint is 32 hex digits"))
    }
}

/// The fingerprint of a frame; `face` narrows the first hash to the face region.
pub fn frame_fingerprint(image: &RgbImage, face: Option<&FaceDetection>) -> FrameFingerprint {
    let frame = dhash(image);
    let face_hash = face
        .and_then(|face| {
            let bbox = face.bbox;
            let grow = bbox.width.max(bbox.height) * 0.25;
            let left = (bbox.x - grow).max(0.0) as u32;
            let top = (bbox.y - grow).max(0.0) as u32;
            let right = ((bbox.x + bbox.width + grow).max(0.0) as u32).min(image.width());
            let bottom = ((bbox.y + bbox.height + grow).max(0.0) as u32).min(image.height());
            (right > left + 8 && bottom > top + 8).then(|| {
                dhash(
                    &image::imageops::crop_imm(image, left, top, right - left, bottom - top)
                        .to_image(),
                )
            })
        })
        .unwrap_or(frame);
    FrameFingerprint {
        face: face_hash,
        frame,
    }
}

/// Difference hash: grey 9x8 thumbnail, one bit per horizontally adjacent pair (left > right).
fn dhash(image: &RgbImage) -> u64 {
    let grey = image::imageops::grayscale(image);
    let small = image::imageops::resize(&grey, 9, 8, FilterType::Triangle);
    let mut hash = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            hash <<= 1;
            if small.get_pixel(x, y).0[0] > small.get_pixel(x + 1, y).0[0] {
                hash |= 1;
            }
        }
    }
    hash
}

/// Tunables of [`evaluate_liveness`], with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LivenessConfig {
    /// Fewest frames accepted (default 2).
    pub min_frames: usize,
    /// Most frames accepted (default 10).
    pub max_frames: usize,
    /// Yaw-ratio change towards the requested side needed for a head turn (default 0.08 eye
    /// distances, about 7.6 degrees with the pose model). YuNet under-reports strong turns:
    /// the synthetic turns in the tests move the ratio by 0.10 to 0.17, a flat photo turned as
    /// a whole by less than 0.01.
    pub min_yaw_change: f32,
    /// Eye-distance growth factor needed for "move closer" (default 1.2).
    pub min_closer_factor: f32,
    /// Frames whose landmarks all move less than this (in eye distances) and whose scale
    /// changes less than 3% are static (default 0.05; landmark jitter on a still photo with
    /// sensor noise measured up to about 0.03).
    pub static_max_motion: f32,
    /// Two frames whose 32x32 grey thumbnails differ by less than this mean grey level are
    /// duplicates (default 0.5).
    pub duplicate_max_mean_difference: f32,
    /// A frame within this many fingerprint bits of a previously seen one is a replay
    /// (default 3).
    pub replay_max_distance: u32,
    /// Frames come mirrored (selfie preview), which swaps left and right (default false).
    pub mirrored_frames: bool,
    /// Face selection per frame.
    pub selection: SelectionPolicy,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            min_frames: 2,
            max_frames: 10,
            min_yaw_change: 0.08,
            min_closer_factor: 1.2,
            static_max_motion: 0.05,
            duplicate_max_mean_difference: 0.5,
            replay_max_distance: 3,
            mirrored_frames: false,
            selection: SelectionPolicy::default(),
        }
    }
}

/// Stable reason codes of active liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessCode {
    /// A frame holds no face.
    NoFaceInFrame,
    /// A frame holds a second significant face.
    MultipleFaces,
    /// Two frames are (nearly) pixel-identical.
    DuplicateFrames,
    /// The face did not move at all across the frames (a still photo).
    StaticFrames,
    /// A frame was seen before (in another session).
    ReplayedFrames,
    /// The landmarks did not follow the challenge.
    ChallengeNotFollowed,
}

impl LivenessCode {
    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoFaceInFrame => "no_face_in_frame",
            Self::MultipleFaces => "multiple_faces",
            Self::DuplicateFrames => "duplicate_frames",
            Self::StaticFrames => "static_frames",
            Self::ReplayedFrames => "replayed_frames",
            Self::ChallengeNotFollowed => "challenge_not_followed",
        }
    }
}

/// What was measured in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameMeasurement {
    /// Position of the frame in the submission (0-based).
    pub index: usize,
    /// Its fingerprint; store it with the session to catch later replays.
    pub fingerprint: FrameFingerprint,
    /// Faces the detector found.
    pub faces_found: usize,
    /// The selected face, if the frame had a usable one.
    pub face: Option<FaceDetection>,
    /// Its pose, if the frame had a usable face.
    pub pose: Option<LandmarkPose>,
    /// Index of a previously seen fingerprint this frame matches, if any.
    pub replay_of: Option<usize>,
}

/// Verdict of [`evaluate_liveness`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessResult {
    /// True when no reason was found.
    pub passed: bool,
    /// The challenge that was evaluated.
    pub action: ChallengeAction,
    /// Why it failed (empty when passed), each code once.
    pub reasons: Vec<LivenessCode>,
    /// Movement towards the requested side (yaw-ratio change for turns, eye-distance factor
    /// for "move closer"), when measurable.
    pub movement: Option<f32>,
    /// The threshold `movement` was compared with.
    pub movement_threshold: f32,
    /// Per-frame measurements, in submission order.
    pub frames: Vec<FrameMeasurement>,
}

impl LivenessResult {
    /// Every frame's fingerprint, for the caller to store.
    pub fn fingerprints(&self) -> Vec<FrameFingerprint> {
        self.frames.iter().map(|frame| frame.fingerprint).collect()
    }
}

/// Evaluates `frames` captured while following `challenge`. `previously_seen` are fingerprints
/// from other sessions. Errors only for a frame count outside the configured range or a model
/// failure; everything about the frames themselves is a reason in the result.
pub fn evaluate_liveness(
    engine: &dyn FaceEngine,
    challenge: &LivenessChallenge,
    frames: &[DecodedImage],
    previously_seen: &[FrameFingerprint],
    config: &LivenessConfig,
) -> Result<LivenessResult, BiometricsError> {
    if !(config.min_frames.max(2)..=config.max_frames).contains(&frames.len()) {
        return Err(BiometricsError::InvalidRequest(format!(
            "active liveness needs {} to {} frames, got {}",
            config.min_frames.max(2),
            config.max_frames,
            frames.len()
        )));
    }
    let mut reasons = Vec::new();
    let add = |code: LivenessCode, reasons: &mut Vec<LivenessCode>| {
        if !reasons.contains(&code) {
            reasons.push(code);
        }
    };
    let mut measurements = Vec::with_capacity(frames.len());
    for (index, frame) in frames.iter().enumerate() {
        let faces = engine.detect_faces(frame)?;
        let selected = match select_face(
            &faces,
            frame.width(),
            frame.height(),
            CaptureKind::Selfie,
            &config.selection,
        ) {
            Ok(face) => Some(face),
            Err(BiometricsError::NoFace) => {
                add(LivenessCode::NoFaceInFrame, &mut reasons);
                None
            }
            Err(BiometricsError::MultipleFaces { .. }) => {
                add(LivenessCode::MultipleFaces, &mut reasons);
                None
            }
            Err(other) => return Err(other),
        };
        let fingerprint = frame_fingerprint(frame.as_rgb_image(), selected.as_ref());
        let replay_of = previously_seen
            .iter()
            .position(|seen| seen.distance(&fingerprint) <= config.replay_max_distance);
        if replay_of.is_some() {
            add(LivenessCode::ReplayedFrames, &mut reasons);
        }
        measurements.push(FrameMeasurement {
            index,
            fingerprint,
            faces_found: faces.len(),
            pose: selected.map(|face| LandmarkPose::from_landmarks(&face.landmarks)),
            face: selected,
            replay_of,
        });
    }

    let thumbnails: Vec<GrayImage> = frames
        .iter()
        .map(|frame| {
            image::imageops::resize(
                &image::imageops::grayscale(frame.as_rgb_image()),
                32,
                32,
                FilterType::Triangle,
            )
        })
        .collect();
    let has_duplicates = (0..thumbnails.len()).any(|i| {
        (i + 1..thumbnails.len()).any(|j| {
            mean_absolute_difference(&thumbnails[i], &thumbnails[j])
                < config.duplicate_max_mean_difference
        })
    });
    if has_duplicates {
        add(LivenessCode::DuplicateFrames, &mut reasons);
    }

    let faces: Vec<(FaceDetection, LandmarkPose)> = measurements
        .iter()
        .filter_map(|frame| frame.face.zip(frame.pose))
        .collect();
    let movement_threshold = match challenge.action {
        ChallengeAction::MoveCloser => config.min_closer_factor,
        _ => config.min_yaw_change,
    };
    let mut movement = None;
    if faces.len() == frames.len() {
        if is_static(&faces, config.static_max_motion) {
            add(LivenessCode::StaticFrames, &mut reasons);
        }
        let first_pose = faces[0].1;
        let measured = match challenge.action {
            ChallengeAction::MoveCloser => faces[1..]
                .iter()
                .map(|(_, pose)| pose.inter_eye_px / first_pose.inter_eye_px.max(f32::EPSILON))
                .fold(f32::NEG_INFINITY, f32::max),
            ChallengeAction::TurnHeadLeft | ChallengeAction::TurnHeadRight => {
                // Subject's left is image right (positive yaw ratio) unless mirrored.
                let mut sign = if challenge.action == ChallengeAction::TurnHeadLeft {
                    1.0
                } else {
                    -1.0
                };
                if config.mirrored_frames {
                    sign = -sign;
                }
                faces[1..]
                    .iter()
                    .map(|(_, pose)| sign * (pose.yaw_ratio - first_pose.yaw_ratio))
                    .fold(f32::NEG_INFINITY, f32::max)
            }
        };
        movement = Some(measured);
        if measured.is_nan() || measured < movement_threshold {
            add(LivenessCode::ChallengeNotFollowed, &mut reasons);
        }
    } else {
        add(LivenessCode::ChallengeNotFollowed, &mut reasons);
    }

    Ok(LivenessResult {
        passed: reasons.is_empty(),
        action: challenge.action,
        reasons,
        movement,
        movement_threshold,
        frames: measurements,
    })
}

/// True when no landmark moves more than `max_motion` eye distances between any two frames and
/// the scale stays within 3%.
fn is_static(faces: &[(FaceDetection, LandmarkPose)], max_motion: f32) -> bool {
    let (reference, reference_pose) = faces[0];
    let scale = reference_pose.inter_eye_px.max(f32::EPSILON);
    faces[1..].iter().all(|(face, pose)| {
        let motion = reference
            .landmarks
            .iter()
            .zip(&face.landmarks)
            .map(|(a, b)| distance(a, b))
            .fold(0.0f32, f32::max);
        motion / scale < max_motion && (pose.inter_eye_px / scale - 1.0).abs() < 0.03
    })
}

/// Mean absolute grey-level difference of two same-sized images.
fn mean_absolute_difference(a: &GrayImage, b: &GrayImage) -> f32 {
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f32 / a.as_raw().len().max(1) as f32
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn challenges_are_random_and_serialise_as_snake_case() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let challenges: Vec<LivenessChallenge> = (0..30)
            .map(|_| LivenessChallenge::issue(&mut rng))
            .collect();
        for action in ChallengeAction::ALL {
            assert!(
                challenges.iter().any(|c| c.action == action),
                "{action:?} never issued"
            );
        }
        assert_ne!(challenges[0].nonce, challenges[1].nonce);
        let json = serde_json::to_value(&challenges[0]).unwrap();
        assert_eq!(json["nonce"].as_str().unwrap().len(), 32);
        let back: LivenessChallenge = serde_json::from_value(json).unwrap();
        assert_eq!(back, challenges[0]);
        assert_eq!(
            serde_json::to_value(ChallengeAction::TurnHeadLeft).unwrap(),
            "turn_head_left"
        );
    }

    #[test]
    fn fingerprints_round_trip_and_measure_distance() {
        let image = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 9]));
        let print = frame_fingerprint(&image, None);
        let text = serde_json::to_string(&print).unwrap();
        assert_eq!(text.len(), 34);
        let back: FrameFingerprint = serde_json::from_str(&text).unwrap();
        assert_eq!(back, print);
        assert_eq!(print.distance(&back), 0);
        let flipped = image::imageops::flip_horizontal(&image);
        assert!(print.distance(&frame_fingerprint(&flipped, None)) > 20);
        assert!(serde_json::from_str::<FrameFingerprint>("\"xyz\"").is_err());
    }
}
