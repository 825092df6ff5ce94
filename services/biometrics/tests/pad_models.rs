//! Passive PAD with the real MiniFASNet models on the labelled photos and on simulated
//! presentation attacks made from them (printed photo, screen replay). The models are optional
//! and live outside the repository (`../shared/models/pad`); without them every test here
//! prints why and returns. `--nocapture` prints every score.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // test helpers fail loudly and report measurements

use std::sync::OnceLock;

use image::RgbImage;
use simgate_biometrics::{
    detect::FaceDetection,
    engine::{FaceEngine, OrtFaceEngine},
    pad::{OrtPadEngine, PadConfig, PadEngine, PadStatus, assess_pad},
    testing::{self, synthetic},
};

fn face_engine() -> &'static OrtFaceEngine {
    static ENGINE: OnceLock<OrtFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        OrtFaceEngine::load(&testing::engine_config())
            .unwrap_or_else(|error| panic!("loading the face engine failed: {error}"))
    })
}

/// The PAD engine, or `None` (with the reason printed) when the models are absent.
fn pad_engine() -> Option<&'static OrtPadEngine> {
    static ENGINE: OnceLock<Option<OrtPadEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| match testing::pad_models() {
            Ok(models) => {
                let ort_dylib = testing::engine_config().ort_dylib;
                face_engine(); // ONNX Runtime environment first, as the service does.
                let config = PadConfig {
                    models,
                    ..PadConfig::default()
                };
                Some(
                    OrtPadEngine::load(&config, &ort_dylib)
                        .unwrap_or_else(|error| panic!("loading PAD models failed: {error}")),
                )
            }
            Err(reason) => {
                println!("skipping PAD test: {reason}");
                None
            }
        })
        .as_ref()
}

fn detect(image: &RgbImage, what: &str) -> FaceDetection {
    let faces = face_engine()
        .detect_faces(&testing::decoded(image))
        .unwrap();
    assert!(!faces.is_empty(), "{what}: no face");
    faces[0]
}

fn score(pad: &OrtPadEngine, image: &RgbImage, face: &FaceDetection, what: &str) -> f32 {
    let score = pad.real_probability(image, face).unwrap();
    assert!((0.0..=1.0).contains(&score), "{what}: {score}");
    score
}

/// (file, real score, printed score, screen score) for every labelled photo. The attacks keep
/// the photo's geometry, so they are scored on the photo's face box (YuNet does not always
/// find a face in the coarse halftone of the printed simulation).
fn scores(pad: &OrtPadEngine) -> Vec<(String, f32, f32, f32)> {
    testing::labelled_photos()
        .into_iter()
        .map(|photo| {
            let image = testing::photo_rgb(&photo.file);
            let face = detect(&image, &photo.file);
            let real = score(pad, &image, &face, &photo.file);
            let printed = score(pad, &synthetic::printed_photo(&image), &face, "printed");
            let screen = score(pad, &synthetic::screen_replay(&image), &face, "screen");
            println!(
                "{}: P(real) photo {real:.3}, printed {printed:.3}, screen {screen:.3}",
                photo.file
            );
            (photo.file, real, printed, screen)
        })
        .collect()
}

#[test]
fn loads_both_models_and_reads_their_crop_scales() {
    let Some(pad) = pad_engine() else { return };
    let ids = pad.model_ids();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().any(|id| id.contains("MiniFASNetV2")));
    assert!(ids.iter().any(|id| id.contains("MiniFASNetV1SE")));
}

#[test]
fn simulated_attacks_score_lower_than_the_photos_they_were_made_from() {
    let Some(pad) = pad_engine() else { return };
    let scores = scores(pad);
    for (file, real, printed, screen) in &scores {
        assert!(printed < real, "{file}: printed {printed} vs photo {real}");
        assert!(screen < real, "{file}: screen {screen} vs photo {real}");
    }
}

/// Measured once (P(real), mean of both models): photos 0.78-1.00; screen replays 0.000 for all
/// six; printed simulations 0.18-0.96, below their photo every time but above 0.5 for two of
/// six (person_a_1 0.96, person_b_2 0.82). So at the default threshold of 0.5 every photo is
/// live and every screen replay an attack, while this printed simulation is only partly caught.
#[test]
fn at_the_default_threshold_photos_are_live_and_screen_replays_attacks() {
    let Some(pad) = pad_engine() else { return };
    let threshold = PadConfig::default().threshold;
    let scores = scores(pad);
    for (file, real, _, screen) in &scores {
        assert!(*real >= threshold, "{file}: photo scored {real}");
        assert!(*screen < threshold, "{file}: screen replay scored {screen}");
    }
    let printed_caught = scores
        .iter()
        .filter(|(_, _, printed, _)| *printed < threshold)
        .count();
    println!(
        "printed simulations below {threshold}: {printed_caught} of {}",
        scores.len()
    );
    assert!(
        printed_caught >= scores.len() / 2,
        "fewer printed attacks caught than measured"
    );
}

#[test]
fn default_threshold_verdicts_on_photos_and_attacks() {
    let Some(pad) = pad_engine() else { return };
    let threshold = PadConfig::default().threshold;
    let image = testing::photo_rgb("person_b_1.jpg");
    let face = face_engine()
        .detect_faces(&testing::decoded(&image))
        .unwrap()[0];
    let outcome = assess_pad(Some(pad), &image, &face, threshold).unwrap();
    println!("person_b_1 at threshold {threshold}: {outcome:?}");
    assert_eq!(outcome.threshold, Some(threshold));
    assert_eq!(
        outcome.status,
        if outcome.score.unwrap() >= threshold {
            PadStatus::Live
        } else {
            PadStatus::Attack
        }
    );
    let screen = synthetic::screen_replay(&image);
    let face = face_engine()
        .detect_faces(&testing::decoded(&screen))
        .unwrap()[0];
    let attack = assess_pad(Some(pad), &screen, &face, threshold).unwrap();
    println!("person_b_1 screen replay: {attack:?}");
}
