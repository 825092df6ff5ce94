//! Reads the MRZ of every image given on the command line and prints what was found.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

fn main() {
    let today = time::macros::date!(2026 - 11 - 25);
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap();
        let started = std::time::Instant::now();
        let image = simgate_biometrics::decode::decode_image(&bytes, &Default::default()).unwrap();
        let gray = simgate_documents::raster::to_gray(image.as_rgb_image());
        let found = simgate_documents::reader::read_mrz_in_image(&gray, today);
        let elapsed = started.elapsed();
        match found {
            None => println!("{path}: no MRZ ({elapsed:?})"),
            Some(m) => {
                let valid = m.reading.as_ref().map(|r| r.all_check_digits_valid);
                println!(
                    "{path}: valid={valid:?} conf={:.3} pitch={:.1} h={:.1} zones={} ({elapsed:?})",
                    m.confidence, m.located.pitch, m.located.char_height, m.zones_found
                );
                for line in &m.ocr_lines {
                    println!("   {line}");
                }
                if let Ok(r) = &m.reading {
                    for line in &r.corrected_lines {
                        println!(" > {line}");
                    }
                }
            }
        }
    }
}
