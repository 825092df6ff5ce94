//! `check_document` end to end with the real YuNet model: a synthetic passport passes with its
//! portrait cropped, policy reasons appear for an expired minor's document, MRZ text alone is
//! validated, and no input is an error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use simgate_biometrics::engine::OrtFaceEngine;
use simgate_documents::testing::{SyntheticDocument, encode_jpeg, render_document};
use simgate_documents::{
    DocumentError, DocumentInput, DocumentPolicy, DocumentReason, check_document,
};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 11 - 25);

fn engine() -> OrtFaceEngine {
    OrtFaceEngine::load(&simgate_biometrics::testing::engine_config()).unwrap()
}

fn passport(line2: &str, portrait: bool) -> Vec<u8> {
    let document = SyntheticDocument {
        mrz_lines: vec![
            "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<".into(),
            line2.into(),
        ],
        portrait: portrait.then(|| "person_a_1.jpg".to_owned()),
    };
    encode_jpeg(&render_document(&document, 18.0), 92)
}

#[test]
fn checks_a_passport_and_crops_its_portrait() {
    let engine = engine();
    // Expires 2032-04-15, born 1974: valid and adult on TODAY.
    let image = passport("L898902C36UTO7408122F3204153<<<<<<<<<<<<<<04", true);
    let input = DocumentInput {
        image: Some(&image),
        ..DocumentInput::default()
    };
    let check = check_document(&input, &DocumentPolicy::default(), &engine, TODAY).unwrap();
    let mrz = check.mrz.as_ref().expect("MRZ read");
    assert!(mrz.checks.check_digits_valid, "{check:?}");
    assert_eq!(mrz.fields.document_number, "L898902C3");
    assert!(check.portrait.found, "{check:?}");
    let crop = check.portrait_image.as_ref().unwrap();
    let face = check.portrait.face_box.unwrap();
    assert!(crop.width() as f32 > face.width, "crop includes a margin");
    assert!(!check.reasons.contains(&DocumentReason::DocumentExpired));
    assert!(!check.reasons.contains(&DocumentReason::HolderUnderAge));
    let json = serde_json::to_value(&check).unwrap();
    assert_eq!(json["document"]["type"], "passport");
    assert_eq!(json["portrait"]["found"], true);
    assert!(
        json.get("portrait_image").is_none(),
        "the crop is never serialised"
    );
}

#[test]
fn mrz_text_alone_gets_policy_reasons_and_no_input_is_an_error() {
    let engine = engine();
    // Born 2015-01-01, expired 2020-01-01.
    let text = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nX123456785UTO1501010F2001012<<<<<<<<<<<<<<06";
    let input = DocumentInput {
        mrz_text: Some(text),
        ..DocumentInput::default()
    };
    let check = check_document(&input, &DocumentPolicy::default(), &engine, TODAY).unwrap();
    let mrz = check.mrz.as_ref().unwrap();
    assert!(mrz.checks.check_digits_valid, "{check:?}");
    for reason in [
        DocumentReason::DocumentExpired,
        DocumentReason::HolderUnderAge,
        DocumentReason::PortraitNotFound,
    ] {
        assert!(check.reasons.contains(&reason), "{reason:?}: {check:?}");
    }
    let none = check_document(
        &DocumentInput::default(),
        &DocumentPolicy::default(),
        &engine,
        TODAY,
    );
    assert!(matches!(none, Err(DocumentError::NoInput)));
}
