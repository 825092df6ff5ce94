//! Criterion benchmarks of every face-pipeline stage on the labelled fixture photos, and of a
//! whole compare (two encoded images in, one similarity out). Run with `make bench`; results and
//! the machine they came from are recorded in BENCHMARKS.md.
//!
//! Stages: `decode` (JPEG bytes -> upright RGB), `detect` (letterbox + YuNet + anchor decoding
//! and NMS), `align` (5-point similarity transform + bilinear warp to 112x112), `embed` (SFace
//! on an aligned crop), `end_to_end` (decode both, one face each, embed both, cosine). The
//! models are whatever set-up put in models/dist; `SIMGATE_BENCH_INTRA_THREADS` overrides the
//! ONNX Runtime intra-op thread count (default 2, as the API).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use simgate_biometrics::{
    align::warp_to_template,
    decode::{DecodeLimits, decode_image},
    engine::{FaceEngine as _, OrtFaceEngine, extract_single_face},
    testing,
};

/// The portrait every single-image stage is timed on (716x900 JPEG).
const STAGE_PHOTO: &str = "person_b_1.jpg";
/// The pair timed end to end (a genuine pair).
const PAIR: (&str, &str) = ("person_a_1.jpg", "person_a_2.jpg");

fn engine() -> OrtFaceEngine {
    let mut config = testing::engine_config();
    if let Some(threads) = std::env::var("SIMGATE_BENCH_INTRA_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
    {
        config.intra_threads = threads;
    }
    OrtFaceEngine::load(&config).expect("load face models")
}

fn stages(c: &mut Criterion) {
    let engine = engine();
    let limits = DecodeLimits::default();
    let bytes = testing::photo_bytes(STAGE_PHOTO);
    let image = decode_image(&bytes, &limits).unwrap();
    let face = engine.detect_faces(&image).unwrap()[0];
    let aligned = warp_to_template(image.as_rgb_image(), &face.landmarks).unwrap();

    let mut group = c.benchmark_group("stage");
    group.bench_function("decode", |b| {
        b.iter(|| decode_image(black_box(&bytes), &limits).unwrap())
    });
    group.bench_function("detect", |b| {
        b.iter(|| engine.detect_faces(black_box(&image)).unwrap())
    });
    group.bench_function("align", |b| {
        b.iter(|| warp_to_template(black_box(image.as_rgb_image()), &face.landmarks).unwrap())
    });
    group.bench_function("embed", |b| {
        b.iter(|| engine.embed_aligned(black_box(&aligned)).unwrap())
    });
    group.finish();

    let reference = testing::photo_bytes(PAIR.0);
    let probe = testing::photo_bytes(PAIR.1);
    c.bench_function("end_to_end/compare_two_images", |b| {
        b.iter(|| {
            let reference = decode_image(black_box(&reference), &limits).unwrap();
            let probe = decode_image(black_box(&probe), &limits).unwrap();
            let (_, left) = extract_single_face(&engine, &reference).unwrap();
            let (_, right) = extract_single_face(&engine, &probe).unwrap();
            left.cosine_similarity(&right)
        })
    });
}

criterion_group! {
    name = benches;
    // Inference stages take 50-300 ms on 2 shared cores: fewer samples keep a run near 2 minutes.
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    targets = stages
}
criterion_main!(benches);
