//! Time per document: decode, locate, OCR and parse (no face detection), on a synthetic TD3
//! passport photographed at an angle and on a flat TD1 card, plus the MRZ text layer alone.
//! `cargo bench -p simgate-documents`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use simgate_documents::decode::{decode_document, document_decode_limits};
use simgate_documents::raster::to_gray;
use simgate_documents::reader::read_mrz_in_image;
use simgate_documents::testing::{
    Glare, PhotoVariant, SyntheticDocument, encode_jpeg, photograph, render_document,
};
use time::macros::date;

fn bench(c: &mut Criterion) {
    let today = date!(2026 - 11 - 25);
    let passport = SyntheticDocument {
        mrz_lines: vec![
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<".into(),
            "L898902C36UTO7408122F1204159ZE184226B<<<<<10".into(),
        ],
        portrait: Some("person_a_1.jpg".into()),
    };
    let card = SyntheticDocument {
        mrz_lines: vec![
            "I<UTOD231458907<<<<<<<<<<<<<<<".into(),
            "7408122F1204159UTO<<<<<<<<<<<6".into(),
            "ERIKSSON<<ANNA<MARIA<<<<<<<<<<".into(),
        ],
        portrait: Some("person_b_1.jpg".into()),
    };
    let photo = photograph(
        &render_document(&passport, 20.0),
        PhotoVariant {
            rotation_degrees: 8.0,
            perspective: 0.04,
            blur_sigma: 0.0,
            glare: Glare::None,
            jpeg_quality: 85,
        },
        3,
    );
    let inputs = [
        ("td3_photographed_jpeg", encode_jpeg(&photo, 85)),
        (
            "td1_flat_jpeg",
            encode_jpeg(&render_document(&card, 20.0), 90),
        ),
    ];
    for (name, bytes) in &inputs {
        // Stage by stage: decode (with the upload limits), greyscale, locate, then locate +
        // OCR + parse; OCR + parse is the difference of the last two.
        c.bench_function(&format!("stage/decode/{name}"), |b| {
            b.iter(|| decode_document(bytes, &document_decode_limits(), "image").unwrap())
        });
        let image = decode_document(bytes, &document_decode_limits(), "image").unwrap();
        c.bench_function(&format!("stage/gray/{name}"), |b| {
            b.iter(|| to_gray(image.as_rgb_image()))
        });
        let gray = to_gray(image.as_rgb_image());
        c.bench_function(&format!("stage/locate/{name}"), |b| {
            b.iter(|| simgate_documents::locate::locate_mrz(&gray))
        });
        c.bench_function(&format!("stage/locate_ocr_parse/{name}"), |b| {
            b.iter(|| read_mrz_in_image(&gray, today).unwrap())
        });
        c.bench_function(&format!("decode_locate_ocr_parse/{name}"), |b| {
            b.iter(|| {
                let image = decode_document(bytes, &document_decode_limits(), "image").unwrap();
                let found = read_mrz_in_image(&to_gray(image.as_rgb_image()), today).unwrap();
                assert!(found.reading.unwrap().all_check_digits_valid);
            })
        });
    }
    let text = passport.mrz_lines.join("\n");
    c.bench_function("parse_mrz_text/td3", |b| {
        b.iter(|| simgate_documents::read_mrz(&text, today).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
