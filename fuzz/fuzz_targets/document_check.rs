//! The document check on an untrusted image: decoding, MRZ location and OCR, capture quality.
//!
//! Feeds the input to `simgate_documents::decode::decode_document` and then to the crate's
//! entry point `check_document` (MRZ location at any rotation, OCR-B template OCR, ICAO 9303
//! validation, policy, capture-quality measurement, portrait crop) as the document's front
//! image, with small decode limits and [`TrailerFaceEngine`] in place of the face model.

#![no_main]

use libfuzzer_sys::fuzz_target;
use simgate_documents::{
    DocumentError, DocumentInput, DocumentPolicy, check_document, decode::decode_document,
};
use simgate_fuzz::{TrailerFaceEngine, small_decode_limits};
use time::macros::date;

fuzz_target!(|data: &[u8]| {
    let limits = small_decode_limits();
    // decode_document first on its own: it maps every decoder error to a document error.
    if decode_document(data, &limits, "image").is_err() {
        return;
    }
    let policy = DocumentPolicy {
        decode_limits: limits,
        ..DocumentPolicy::default()
    };
    let engine = TrailerFaceEngine::from_trailer(data);
    let input = DocumentInput {
        image: Some(data),
        back: None,
        mrz_text: None,
    };
    match check_document(&input, &policy, &engine, date!(2026 - 03 - 01)) {
        Ok(check) => {
            if let Some(report) = &check.mrz
                && report.valid
            {
                assert!(report.checks.check_digits_valid);
            }
        }
        Err(DocumentError::FaceEngine(detail)) => {
            panic!("the model-free engine cannot fail, yet: {detail}")
        }
        Err(_) => {}
    }
});
