//! Trains the OCR-B character network and writes `data/ocrb-mlp.bin`:
//! `cargo run --release -p simgate-documents --features testing --example train_ocrb`.
//!
//! Prints the accuracy on a held-out set rendered with another seed, and the commonest
//! confusions, so a retrained network can be compared with the committed one.
#![allow(clippy::print_stdout)]

use simgate_documents::ocr::HIDDEN_UNITS;
use simgate_documents::ocr_training::{TrainingPlan, evaluate, train, training_samples};

fn main() {
    let started = std::time::Instant::now();
    let training = training_samples(1, 1600);
    let held_out = training_samples(2, 60);
    println!(
        "rendered {} training and {} held-out samples in {:.1?}",
        training.len(),
        held_out.len(),
        started.elapsed()
    );
    let plan = TrainingPlan {
        epochs: 14,
        batch: 64,
        learning_rate: 2e-3,
        seed: 3,
    };
    let network = train(&training, HIDDEN_UNITS, plan);
    let (train_accuracy, _) = evaluate(&network, &training[..training.len().min(5000)]);
    let (accuracy, confusions) = evaluate(&network, &held_out);
    println!(
        "trained in {:.1?}: training accuracy {:.2}%, held-out accuracy {:.2}%",
        started.elapsed(),
        train_accuracy * 100.0,
        accuracy * 100.0
    );
    for (truth, read, count) in confusions.iter().take(12) {
        println!(
            "  {} read as {}: {count}",
            char::from(*truth),
            char::from(*read)
        );
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ocrb-mlp.bin");
    if let Err(error) = std::fs::write(&path, network.encode()) {
        panic!("{}: {error}", path.display());
    }
    println!("wrote {}", path.display());
}
