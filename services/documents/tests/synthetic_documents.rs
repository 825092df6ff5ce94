//! Synthetic TD1 and TD3 documents rendered in OCR-B (see `simgate_documents::testing`):
//! flat renders read with every check digit valid, photographed-style variants (rotation,
//! perspective, blur, glare, JPEG noise) are measured against the 95% target, and a
//! deliberately wrong check digit is reported, not silently "corrected".
//!
//! State today (printed by the test): 119 of the 120 photographed variants (10 documents x 12
//! variants, up to 90 and 178 degrees, perspective up to 0.08, blur up to 1.8 px, JPEG down to
//! quality 35, a veiling highlight over the MRZ) read with every check digit valid (99.2%), none
//! validated with a wrong character. The miss is a TD3 at -30 degrees with perspective, where
//! part of a line's cells are matched to the neighbouring glyphs. A *clipped* highlight that erases characters is tested
//! separately: it cannot be read back, so the check must report `glare` and never validate a
//! wrong reading.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use simgate_documents::mrz::{MrzField, ReasonCode};
use simgate_documents::raster::to_gray;
use simgate_documents::reader::read_mrz_in_image;
use simgate_documents::testing::{
    Glare, PhotoVariant, SyntheticDocument, photo_variants, photograph, render_document,
    synthetic_documents, synthetic_td3,
};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 11 - 25);

/// The (line, column) positions the composite check digit covers, with the check digits.
fn protected_positions(lines: usize) -> Vec<(usize, usize)> {
    if lines == 3 {
        (5..30)
            .map(|c| (0, c))
            .chain((0..7).chain(8..15).chain(18..30).map(|c| (1, c)))
            .collect()
    } else {
        (0..10)
            .chain(13..20)
            .chain(21..44)
            .map(|c| (1, c))
            .collect()
    }
}

/// Outcome of reading one synthetic image.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Every check digit valid and the protected characters as printed.
    Valid,
    /// Every check digit valid but a protected character differs: several OCR errors that
    /// cancel out in the 7-3-1 sums (the dangerous case).
    ValidButWrong,
    /// Not read, or a check digit fails.
    NotValid,
}

/// Reads `image` and compares the protected characters (names and nationality carry no
/// check digit) with `expected`.
fn reads_valid(image: &image::RgbImage, expected: &[String]) -> (Outcome, String) {
    let found = read_mrz_in_image(&to_gray(image), TODAY);
    match found {
        None => (Outcome::NotValid, "no MRZ found".into()),
        Some(found) => match &found.reading {
            Ok(r) => {
                let exact = protected_positions(expected.len())
                    .into_iter()
                    .all(|(l, c)| r.corrected_lines[l].as_bytes()[c] == expected[l].as_bytes()[c]);
                let outcome = match (r.all_check_digits_valid, exact) {
                    (true, true) => Outcome::Valid,
                    (true, false) => Outcome::ValidButWrong,
                    _ => Outcome::NotValid,
                };
                (outcome, format!("{:?}", r.corrected_lines))
            }
            Err(e) => (Outcome::NotValid, format!("{e}: {:?}", found.ocr_lines)),
        },
    }
}

#[test]
fn flat_renders_read_with_valid_check_digits() {
    let mut valid = 0;
    for document in synthetic_documents() {
        let image = render_document(&document, 18.0);
        let (outcome, detail) = reads_valid(&image, &document.mrz_lines);
        println!("{outcome:?}: {detail}");
        assert_ne!(outcome, Outcome::ValidButWrong, "{detail}");
        valid += usize::from(outcome == Outcome::Valid);
    }
    println!("flat renders valid: {valid}/10");
    assert!(valid >= 8, "{valid}/10");
}

#[test]
fn photographed_variants_read_valid_in_at_least_95_percent() {
    let mut total = 0;
    let mut valid = 0;
    let mut wrong = 0;
    for (d, document) in synthetic_documents().iter().enumerate() {
        let flat = render_document(document, 16.0);
        for (v, variant) in photo_variants().into_iter().enumerate() {
            let photo = photograph(&flat, variant, (d * 31 + v) as u64);
            let (outcome, detail) = reads_valid(&photo, &document.mrz_lines);
            total += 1;
            match outcome {
                Outcome::Valid => valid += 1,
                Outcome::ValidButWrong => {
                    wrong += 1;
                    println!("VALID BUT WRONG: document {d} variant {variant:?}: {detail}");
                }
                Outcome::NotValid => println!("document {d} variant {variant:?}: {detail}"),
            }
        }
    }
    let rate = valid as f32 / total as f32;
    println!(
        "photographed variants read valid: {valid}/{total} ({:.1}%), validated but wrong: {wrong}",
        rate * 100.0
    );
    // The target; measured 119/120 today.
    assert!(rate >= 0.95, "{valid}/{total}");
    assert_eq!(wrong, 0, "{wrong} readings validated with wrong characters");
}

#[test]
fn a_wrong_check_digit_is_reported_not_corrected() {
    let mut lines = synthetic_td3("ERIKSSON", "ANNA<MARIA", "L898902C3", "740812", "320415");
    // Birth-date check digit (column 20) off by one.
    let mut line2 = lines[1].clone().into_bytes();
    line2[19] = if line2[19] == b'9' {
        b'0'
    } else {
        line2[19] + 1
    };
    lines[1] = String::from_utf8(line2).unwrap();
    let document = SyntheticDocument {
        mrz_lines: lines.clone(),
        portrait: None,
    };
    let photo = photograph(
        &render_document(&document, 16.0),
        PhotoVariant {
            rotation_degrees: 5.0,
            perspective: 0.02,
            blur_sigma: 0.0,
            glare: Glare::None,
            jpeg_quality: 85,
        },
        7,
    );
    let found = read_mrz_in_image(&to_gray(&photo), TODAY).expect("MRZ found");
    let reading = found.reading.expect("well-formed");
    assert_eq!(reading.birth_date.raw, "740812");
    assert_eq!(
        &reading.corrected_lines[1][19..20],
        &lines[1][19..20],
        "printed digit kept"
    );
    assert!(!reading.all_check_digits_valid);
    assert_eq!(
        reading.field(MrzField::BirthDate).unwrap().reasons,
        [ReasonCode::CheckDigitMismatch]
    );
}

/// A clipped highlight erases the characters under it: no reader can get them back, so what
/// matters is that nothing validates wrongly and the answer tells the subscriber why.
#[test]
fn clipped_glare_over_the_mrz_is_reported_and_never_validates_wrongly() {
    let engine = simgate_biometrics::engine::OrtFaceEngine::load(
        &simgate_biometrics::testing::engine_config(),
    )
    .unwrap();
    let mut read = 0;
    for (d, document) in synthetic_documents().iter().enumerate() {
        let photo = photograph(
            &render_document(document, 16.0),
            PhotoVariant {
                rotation_degrees: 2.0,
                perspective: 0.0,
                blur_sigma: 0.0,
                glare: Glare::Clipped,
                jpeg_quality: 85,
            },
            d as u64,
        );
        let (outcome, detail) = reads_valid(&photo, &document.mrz_lines);
        assert_ne!(outcome, Outcome::ValidButWrong, "document {d}: {detail}");
        read += usize::from(outcome == Outcome::Valid);
        let jpeg = simgate_documents::testing::encode_jpeg(&photo, 90);
        let input = simgate_documents::DocumentInput {
            image: Some(&jpeg),
            back: None,
            mrz_text: None,
        };
        let check = simgate_documents::check_document(
            &input,
            &simgate_documents::DocumentPolicy::default(),
            &engine,
            TODAY,
        )
        .unwrap();
        let valid = check.mrz.as_ref().is_some_and(|m| m.valid);
        if !valid {
            assert!(
                check
                    .reasons
                    .contains(&simgate_documents::DocumentReason::Glare),
                "document {d}: not read and no glare reason: {:?}",
                check.reasons
            );
        }
    }
    println!("clipped glare over the MRZ: {read}/10 still read valid");
}
