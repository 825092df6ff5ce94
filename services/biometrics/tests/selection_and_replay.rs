//! Face selection on several-face images (a second person in a selfie is rejected with the
//! boxes; a document's ghost portrait is not) and the `selfie_is_document_portrait` check (a
//! document held up to the camera is caught, genuine pairs are not). Needs `make setup`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // test helpers fail loudly and report measurements

use std::sync::OnceLock;

use image::{Rgb, RgbImage};
use simgate_biometrics::{
    BiometricsError,
    compare::{DocumentReplayThresholds, compare_prepared},
    engine::OrtFaceEngine,
    prepare::{FaceCheckConfig, PreparedFace, prepare_face},
    select::CaptureKind,
    testing::{self, synthetic},
};

fn engine() -> &'static OrtFaceEngine {
    static ENGINE: OnceLock<OrtFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        OrtFaceEngine::load(&testing::engine_config())
            .unwrap_or_else(|error| panic!("loading the face engine failed: {error}"))
    })
}

fn prepare(image: &RgbImage, kind: CaptureKind) -> Result<PreparedFace, BiometricsError> {
    prepare_face(
        engine(),
        &testing::decoded(image),
        kind,
        &FaceCheckConfig::default(),
    )
}

fn side_by_side(left: &RgbImage, right: &RgbImage) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(
        left.width() + right.width(),
        left.height().max(right.height()),
        Rgb([200, 200, 200]),
    );
    image::imageops::replace(&mut canvas, left, 0, 0);
    image::imageops::replace(&mut canvas, right, i64::from(left.width()), 0);
    canvas
}

#[test]
fn a_second_person_in_a_selfie_is_multiple_faces_with_count_and_boxes() {
    let two = side_by_side(
        &testing::photo_rgb("person_a_2.jpg"),
        &testing::photo_rgb("impostor_2.jpg"),
    );
    match prepare(&two, CaptureKind::Selfie) {
        Err(BiometricsError::MultipleFaces { count, boxes }) => {
            assert_eq!(count, 2);
            assert_eq!(boxes.len(), 2);
            let left_photo_width = testing::photo_rgb("person_a_2.jpg").width() as f32;
            assert!(boxes.iter().any(|b| b.x + b.width <= left_photo_width));
            assert!(boxes.iter().any(|b| b.x >= left_photo_width));
        }
        other => panic!("expected MultipleFaces, got {other:?}"),
    }
}

#[test]
fn a_small_face_in_the_background_does_not_block_a_selfie() {
    let main = testing::photo_rgb("person_b_1.jpg");
    let bystander = synthetic::scale(&testing::photo_rgb("impostor_1.jpg"), 0.25);
    let scene = side_by_side(&main, &bystander);
    let prepared = prepare(&scene, CaptureKind::Selfie).unwrap();
    assert_eq!(prepared.faces_found, 2, "the bystander is detected");
    assert!(
        prepared.face.bbox.x < main.width() as f32,
        "the main face is chosen"
    );
}

#[test]
fn a_document_ghost_portrait_is_ignored_and_the_largest_face_chosen() {
    // An ID-card layout: main portrait, and a lighter ghost image at 60% size.
    let portrait = testing::photo_rgb("person_a_2.jpg");
    let ghost = synthetic::expose(&synthetic::scale(&portrait, 0.6), 0.5, 110.0);
    let card = side_by_side(&portrait, &ghost);
    assert!(matches!(
        prepare(&card, CaptureKind::Selfie),
        Err(BiometricsError::MultipleFaces { count: 2, .. })
    ));
    let prepared = prepare(&card, CaptureKind::DocumentPortrait).unwrap();
    assert_eq!(prepared.faces_found, 2);
    assert!(
        prepared.face.bbox.x < portrait.width() as f32,
        "the main portrait is chosen"
    );
}

#[test]
fn document_held_up_to_the_camera_is_selfie_is_document_portrait() {
    let thresholds = DocumentReplayThresholds::default();
    for (portrait_file, live_file) in [
        ("person_a_2.jpg", "person_a_1.jpg"),
        ("person_b_1.jpg", "person_b_2.jpg"),
    ] {
        let portrait_image = testing::photo_rgb(portrait_file);
        let portrait = prepare(&portrait_image, CaptureKind::DocumentPortrait).unwrap();

        let live = prepare(&testing::photo_rgb(live_file), CaptureKind::Selfie).unwrap();
        let genuine = compare_prepared(engine(), &portrait, &live, &thresholds).unwrap();

        let held_up = synthetic::document_held_up(&portrait_image);
        let attack_face = prepare(&held_up, CaptureKind::Selfie).unwrap();
        let attack = compare_prepared(engine(), &portrait, &attack_face, &thresholds).unwrap();
        println!(
            "{portrait_file}: live {live_file} ncc {:.3} sim {:.3}; held-up card ncc {:.3} sim {:.3}",
            genuine.document_replay.crop_correlation,
            genuine.similarity,
            attack.document_replay.crop_correlation,
            attack.similarity
        );
        assert!(
            !genuine.document_replay.selfie_is_document_portrait,
            "{live_file}"
        );
        assert!(
            attack.document_replay.selfie_is_document_portrait,
            "{portrait_file} card"
        );
        assert!(
            attack.document_replay.crop_correlation
                > genuine.document_replay.crop_correlation + 0.3,
            "the aligned crops of a recaptured portrait are far more alike than a live capture's"
        );
    }
}
