//! Regenerates `data/ocrb-templates.bin` from the installed OCR-B fonts:
//! `cargo run -p simgate-documents --features testing --example ocrb_templates`.
#![allow(clippy::print_stdout)]

fn main() {
    let templates = simgate_documents::testing::render_ocrb_templates();
    let bytes = simgate_documents::ocr::OcrbClassifier::encode(&templates);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/ocrb-templates.bin");
    if let Err(error) = std::fs::write(&path, &bytes) {
        panic!("{}: {error}", path.display());
    }
    println!(
        "wrote {} templates ({} bytes) to {}",
        templates.len(),
        bytes.len(),
        path.display()
    );
}
