//! Active liveness with synthetic frame sequences made from the labelled photos: a simulated
//! head turn and approach pass their challenges; the wrong direction, a flat photo turned as a
//! whole, identical frames, a still photo, a replay of another session's frames and frames with
//! two people fail with the matching reason. Needs `make setup`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // test helpers fail loudly and report measurements

use std::sync::OnceLock;

use image::RgbImage;
use simgate_biometrics::{
    BiometricsError,
    decode::DecodedImage,
    detect::FaceDetection,
    engine::{FaceEngine, OrtFaceEngine},
    liveness::{
        ChallengeAction, LivenessChallenge, LivenessCode, LivenessConfig, LivenessResult,
        evaluate_liveness,
    },
    testing::{self, synthetic},
};

fn engine() -> &'static OrtFaceEngine {
    static ENGINE: OnceLock<OrtFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        OrtFaceEngine::load(&testing::engine_config())
            .unwrap_or_else(|error| panic!("loading the face engine failed: {error}"))
    })
}

fn challenge(action: ChallengeAction) -> LivenessChallenge {
    LivenessChallenge {
        nonce: "0123456789abcdef0123456789abcdef".to_owned(),
        action,
    }
}

fn face(image: &RgbImage) -> FaceDetection {
    engine().detect_faces(&testing::decoded(image)).unwrap()[0]
}

fn evaluate(
    action: ChallengeAction,
    frames: &[RgbImage],
    seen: &[simgate_biometrics::liveness::FrameFingerprint],
) -> LivenessResult {
    let decoded: Vec<DecodedImage> = frames.iter().map(testing::decoded).collect();
    let result = evaluate_liveness(
        engine(),
        &challenge(action),
        &decoded,
        seen,
        &LivenessConfig::default(),
    )
    .unwrap();
    let yaw: Vec<String> = result
        .frames
        .iter()
        .map(|f| {
            f.pose.map_or("-".to_owned(), |p| {
                format!("yaw {:.3} eyes {:.1}px", p.yaw_ratio, p.inter_eye_px)
            })
        })
        .collect();
    println!(
        "{action:?}: passed {} reasons {:?} movement {:?} frames {yaw:?}",
        result.passed, result.reasons, result.movement
    );
    result
}

fn head_turn(file: &str) -> Vec<RgbImage> {
    let image = testing::photo_rgb(file);
    let nose_x = face(&image).landmarks[2].x;
    synthetic::head_turn_frames(&image, nose_x)
}

#[test]
fn simulated_head_turn_passes_the_matching_challenge_only() {
    for file in ["person_b_1.jpg", "impostor_2.jpg"] {
        // The warp compresses image right: the subject turns to their left.
        let frames = head_turn(file);
        let left = evaluate(ChallengeAction::TurnHeadLeft, &frames, &[]);
        assert!(left.passed, "{file}: {:?}", left.reasons);
        assert_eq!(left.frames.len(), frames.len());

        let right = evaluate(ChallengeAction::TurnHeadRight, &frames, &[]);
        assert_eq!(
            right.reasons,
            vec![LivenessCode::ChallengeNotFollowed],
            "{file}"
        );

        let closer = evaluate(ChallengeAction::MoveCloser, &frames, &[]);
        assert!(closer.reasons.contains(&LivenessCode::ChallengeNotFollowed));

        // Mirrored frames turn the other way.
        let mirrored: Vec<RgbImage> = frames.iter().map(synthetic::flip_horizontal).collect();
        assert!(
            evaluate(ChallengeAction::TurnHeadRight, &mirrored, &[]).passed,
            "{file}"
        );
    }
}

#[test]
fn simulated_approach_passes_move_closer() {
    let image = testing::photo_rgb("person_a_2.jpg");
    let nose = face(&image).landmarks[2];
    let frames = synthetic::move_closer_frames(&image, nose);
    let result = evaluate(ChallengeAction::MoveCloser, &frames, &[]);
    assert!(result.passed, "{:?}", result.reasons);
    assert!(result.movement.unwrap() >= LivenessConfig::default().min_closer_factor);
    let turn = evaluate(ChallengeAction::TurnHeadLeft, &frames, &[]);
    assert!(turn.reasons.contains(&LivenessCode::ChallengeNotFollowed));
}

#[test]
fn a_flat_photo_turned_in_front_of_the_camera_does_not_follow_a_head_turn() {
    let frames = synthetic::flat_turn_frames(&testing::photo_rgb("person_b_2.jpg"));
    for action in [
        ChallengeAction::TurnHeadLeft,
        ChallengeAction::TurnHeadRight,
    ] {
        let result = evaluate(action, &frames, &[]);
        assert!(!result.passed);
        assert!(
            result.reasons.contains(&LivenessCode::ChallengeNotFollowed),
            "{action:?}"
        );
    }
}

#[test]
fn identical_frames_are_duplicates_and_static() {
    let image = testing::photo_rgb("person_a_2.jpg");
    let frames = vec![image.clone(), image.clone(), image];
    let result = evaluate(ChallengeAction::TurnHeadLeft, &frames, &[]);
    assert!(!result.passed);
    for code in [
        LivenessCode::DuplicateFrames,
        LivenessCode::StaticFrames,
        LivenessCode::ChallengeNotFollowed,
    ] {
        assert!(
            result.reasons.contains(&code),
            "{code:?} missing: {:?}",
            result.reasons
        );
    }
}

#[test]
fn a_still_photo_with_sensor_noise_is_static() {
    let image = testing::photo_rgb("impostor_1.jpg");
    let frames: Vec<RgbImage> = (0..3)
        .map(|seed| synthetic::add_noise(&image, seed, 6.0))
        .collect();
    let result = evaluate(ChallengeAction::MoveCloser, &frames, &[]);
    assert!(
        result.reasons.contains(&LivenessCode::StaticFrames),
        "{:?}",
        result.reasons
    );
    assert!(result.reasons.contains(&LivenessCode::ChallengeNotFollowed));
}

#[test]
fn frames_replayed_from_another_session_are_caught_by_fingerprint() {
    let frames = head_turn("person_b_1.jpg");
    let first_session = evaluate(ChallengeAction::TurnHeadLeft, &frames, &[]);
    assert!(first_session.passed);
    let stored = first_session.fingerprints();

    // The same frames re-encoded as JPEG and submitted in a new session.
    let replayed: Vec<RgbImage> = frames
        .iter()
        .map(|frame| synthetic::jpeg_round_trip(frame, 80))
        .collect();
    let second_session = evaluate(ChallengeAction::TurnHeadLeft, &replayed, &stored);
    assert!(!second_session.passed);
    assert!(
        second_session
            .reasons
            .contains(&LivenessCode::ReplayedFrames)
    );
    // One matched frame refuses the session. A JPEG re-encode can move a 64-bit dHash by a few
    // bits on a frame whose 9x8 thumbnail has near-equal neighbours (measured: 4 bits on one
    // frame of four, over the 3-bit limit), so not every frame must match, but most do.
    let matched = second_session
        .frames
        .iter()
        .filter(|frame| frame.replay_of.is_some())
        .count();
    assert!(
        matched + 1 >= second_session.frames.len(),
        "{matched} of {} frames matched",
        second_session.frames.len()
    );

    // A different person's genuine session is not mistaken for a replay.
    let other = evaluate(
        ChallengeAction::TurnHeadLeft,
        &head_turn("impostor_2.jpg"),
        &stored,
    );
    assert!(other.passed, "{:?}", other.reasons);
    let closest = other
        .fingerprints()
        .iter()
        .flat_map(|print| stored.iter().map(move |seen| seen.distance(print)))
        .min()
        .unwrap();
    println!("closest fingerprint distance between two people's sessions: {closest} bits");
}

#[test]
fn a_second_person_or_no_face_in_a_frame_fails() {
    let frames = head_turn("person_b_1.jpg");
    let mut with_two = frames.clone();
    let two = image::load_from_memory(&testing::side_by_side_png(
        "person_b_1.jpg",
        "impostor_2.jpg",
    ))
    .unwrap()
    .to_rgb8();
    with_two[1] = two;
    let result = evaluate(ChallengeAction::TurnHeadLeft, &with_two, &[]);
    assert!(
        result.reasons.contains(&LivenessCode::MultipleFaces),
        "{:?}",
        result.reasons
    );

    let mut with_none = frames;
    with_none[2] = image::load_from_memory(&testing::faceless_png())
        .unwrap()
        .to_rgb8();
    let result = evaluate(ChallengeAction::TurnHeadLeft, &with_none, &[]);
    assert!(
        result.reasons.contains(&LivenessCode::NoFaceInFrame),
        "{:?}",
        result.reasons
    );
    assert_eq!(result.frames[2].faces_found, 0);
}

#[test]
fn one_frame_is_a_request_error() {
    let image = testing::decoded(&testing::photo_rgb("person_a_1.jpg"));
    let result = evaluate_liveness(
        engine(),
        &challenge(ChallengeAction::MoveCloser),
        &[image],
        &[],
        &LivenessConfig::default(),
    );
    assert!(
        matches!(result, Err(BiometricsError::InvalidRequest(_))),
        "{result:?}"
    );
}
