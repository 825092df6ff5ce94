//! Writes the synthetic photographed-variant set of `tests/synthetic_documents.rs` (10
//! documents x 12 variants) as JPEG files, for readers outside this crate to be measured on
//! the same images (`bench/reference_documents.py --documents DIR` runs PassportEye on them):
//! `cargo run --release -p simgate-documents --features testing --example photographed_set -- DIR`.
//!
//! Each file is named `d{document}-v{variant}.jpg`; `truth.txt` beside them lists every file's
//! printed MRZ lines. The images are encoded at JPEG quality 95 after the variant's own
//! degradations.
#![allow(clippy::print_stdout)]

use simgate_documents::testing::{
    encode_jpeg, photo_variants, photograph, render_document, synthetic_documents,
};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: photographed_set DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(error) = std::fs::create_dir_all(&dir) {
        panic!("{}: {error}", dir.display());
    }
    let mut truth = String::new();
    for (d, document) in synthetic_documents().iter().enumerate() {
        let flat = render_document(document, 16.0);
        for (v, variant) in photo_variants().into_iter().enumerate() {
            // The same seed as the read-rate test.
            let photo = photograph(&flat, variant, (d * 31 + v) as u64);
            let name = format!("d{d}-v{v}.jpg");
            if let Err(error) = std::fs::write(dir.join(&name), encode_jpeg(&photo, 95)) {
                panic!("{name}: {error}");
            }
            truth.push_str(&format!("{name} {}\n", document.mrz_lines.join(" ")));
        }
    }
    if let Err(error) = std::fs::write(dir.join("truth.txt"), truth) {
        panic!("truth.txt: {error}");
    }
    println!(
        "wrote {} images to {}",
        synthetic_documents().len() * photo_variants().len(),
        dir.display()
    );
}
