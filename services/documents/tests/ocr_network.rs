//! The committed OCR-B network (`data/ocrb-mlp.bin`) reads characters it has never seen:
//! augmented renders made with a seed the training run did not use.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use simgate_documents::ocr::OcrbNetwork;
use simgate_documents::ocr_training::{evaluate, training_samples};

#[test]
fn committed_network_reads_fresh_ocrb_renders() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/ocrb-mlp.bin")).unwrap();
    let network = OcrbNetwork::decode(&bytes).expect("the committed network parses");
    let samples = training_samples(20_261_127, 40);
    let (accuracy, confusions) = evaluate(&network, &samples);
    println!(
        "accuracy on {} fresh renders: {:.2}%, confusions: {:?}",
        samples.len(),
        accuracy * 100.0,
        confusions
            .iter()
            .map(|(a, b, n)| format!("{}->{} x{n}", char::from(*a), char::from(*b)))
            .collect::<Vec<_>>()
    );
    // The training run measured 99.7% on its own held-out renders; 98% leaves room for the
    // sampling noise of 1,480 samples, and a broken or stale network falls far below it.
    assert!(accuracy >= 0.98, "accuracy {accuracy}");
}

#[test]
fn malformed_network_files_are_refused() {
    assert!(OcrbNetwork::decode(b"").is_none());
    assert!(OcrbNetwork::decode(b"OCRBMLP1\x80\x00\x00\x00short").is_none());
    let good = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/ocrb-mlp.bin")).unwrap();
    assert!(OcrbNetwork::decode(&good[..good.len() - 4]).is_none());
}
