//! Face image decoding and the model-free face pipeline on untrusted bytes.
//!
//! Feeds the whole input to `simgate_biometrics::decode::decode_image` (the decoder every face
//! upload goes through), then, for an image that decodes, runs `prepare_face` (selection, the
//! quality gate, small-portrait upscaling) for both capture kinds and aligns the chosen face,
//! with detections from [`TrailerFaceEngine`] (the real YuNet decoding over tensors filled from
//! the input's last bytes) instead of the ONNX model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use simgate_biometrics::{
    BiometricsError,
    decode::decode_image,
    engine::align_face,
    prepare::{FaceCheckConfig, prepare_face},
    select::CaptureKind,
};
use simgate_fuzz::{TrailerFaceEngine, small_decode_limits};

fuzz_target!(|data: &[u8]| {
    let limits = small_decode_limits();
    let image = match decode_image(data, &limits) {
        Ok(image) => image,
        Err(_) => return,
    };
    // The limits are the decoder's promise to every caller: nothing larger gets through.
    assert!(image.width() <= limits.max_dimension && image.height() <= limits.max_dimension);
    assert!(u64::from(image.width()) * u64::from(image.height()) <= limits.max_pixels);
    assert_eq!(
        image.pixels().len(),
        image.width() as usize * image.height() as usize * 3
    );

    let engine = TrailerFaceEngine::from_trailer(data);
    let config = FaceCheckConfig::default();
    for kind in [CaptureKind::Selfie, CaptureKind::DocumentPortrait] {
        match prepare_face(&engine, &image, kind, &config) {
            Ok(prepared) => {
                // A report passes exactly when it lists no reason; callers rely on either.
                assert_eq!(prepared.quality.passed, prepared.quality.reasons.is_empty());
                // Alignment is what the matcher would run next; degenerate landmarks must be
                // an error, not a panic.
                let _ = align_face(prepared.matching_image(), prepared.matching_face());
            }
            Err(BiometricsError::NoFace | BiometricsError::MultipleFaces { .. }) => {}
            Err(other) => panic!("prepare_face failed with a model-free engine: {other}"),
        }
    }
});
