//! `POST /v1/documents/check` over HTTP with the real YuNet model: a rendered passport is read
//! from the image with every check digit valid and its portrait found; a kiosk reader's MRZ text
//! with one wrong check digit is reported field by field; an expired document and a photo
//! without a document give their reasons; unusable input is a 4xx naming the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use simgate_documents::testing::{SyntheticDocument, encode_jpeg, render_document};
use simgate_store::Backend;
use support::{TestApp, photo, problem};

const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";

fn passport(line2: &str) -> Vec<u8> {
    let document = SyntheticDocument {
        mrz_lines: vec![LINE1.into(), line2.into()],
        portrait: Some("person_a_1.jpg".to_owned()),
    };
    encode_jpeg(&render_document(&document, 18.0), 92)
}

async fn check(app: &TestApp, key: &str, form: reqwest::multipart::Form) -> reqwest::Response {
    app.client
        .post(app.url("/v1/documents/check"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn image_form(bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(bytes).file_name("document.jpg"),
    )
}

#[tokio::test]
async fn documents_are_checked_with_per_field_results() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let key = app.create_key("carrier-a", "verify").await;

    // A photographed passport, read from the image alone (valid until 2032, holder born 1974).
    let response = check(
        &app,
        &key,
        image_form(passport("L898902C36UTO7408122F3204153<<<<<<<<<<<<<<04")),
    )
    .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    // Every check digit and the composite hold. The OCR reads this rendering's O as Q; in the
    // state code the list of known codes corrects `UTQ` to `UTO` (reported in `corrections`),
    // in the surname nothing can (`ERIKSSQN`): names carry no check digit.
    assert_eq!(report["mrz"]["source"], "image", "{report}");
    assert_eq!(
        report["mrz"]["checks"]["check_digits_valid"], true,
        "{report}"
    );
    assert_eq!(report["mrz"]["checks"]["composite"], "valid");
    assert_eq!(report["mrz"]["valid"], true, "{report}");
    assert_eq!(report["document"]["type"], "passport");
    assert_eq!(report["document"]["format"], "td3");
    assert_eq!(report["document"]["issuer"], "UTO");
    assert_eq!(report["reasons"], serde_json::json!([]), "{report}");
    assert_eq!(report["mrz"]["fields"]["document_number"], "L898902C3");
    assert_eq!(report["mrz"]["fields"]["birth_date"]["date"], "1974-08-12");
    assert_eq!(report["mrz"]["fields"]["expiry_date"]["date"], "2032-04-15");
    assert_eq!(report["portrait"]["found"], true);
    assert!(report["portrait"]["box"]["width"].as_f64().unwrap() > 20.0);
    assert!(
        !report["reasons"].to_string().contains("expired"),
        "{report}"
    );

    // A kiosk reader's text with the birth-date check digit wrong: reported per field.
    let form = reqwest::multipart::Form::new()
        .text("channel", "kiosk")
        .text(
            "mrz_text",
            format!("{LINE1}\nL898902C36UTO7408123F3204153<<<<<<<<<<<<<<04"),
        );
    let report: Value = check(&app, &key, form).await.json().await.unwrap();
    assert_eq!(report["mrz"]["valid"], false, "{report}");
    let fields = report["mrz"]["checks"]["fields"].as_array().unwrap();
    let invalid: Vec<&Value> = fields.iter().filter(|f| f["valid"] == false).collect();
    assert!(!invalid.is_empty(), "{report}");
    assert!(
        invalid.iter().any(|f| f.to_string().contains("birth")),
        "the birth date is named: {invalid:?}"
    );

    // An expired passport: read fine, refused with a reason.
    let report: Value = check(
        &app,
        &key,
        image_form(passport("L898902C36UTO7408122F2001012<<<<<<<<<<<<<<06")),
    )
    .await
    .json()
    .await
    .unwrap();
    let reasons = report["reasons"].to_string();
    assert!(reasons.contains("expired"), "{report}");

    // A selfie is not a document: no MRZ is found.
    let report: Value = check(&app, &key, image_form(photo("person_a_2.jpg")))
        .await
        .json()
        .await
        .unwrap();
    assert!(report["mrz"].is_null(), "{report}");
    assert!(!report["reasons"].as_array().unwrap().is_empty());

    // Unusable input names the field.
    let empty = problem(
        check(
            &app,
            &key,
            reqwest::multipart::Form::new().text("channel", "kiosk"),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(empty["field"], "image");
    let garbage = problem(
        check(
            &app,
            &key,
            reqwest::multipart::Form::new().text("mrz_text", "HELLO"),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(garbage["field"], "mrz_text");
    let not_an_image = check(&app, &key, image_form(b"%PDF-1.4 not an image".to_vec())).await;
    assert_eq!(not_an_image.status(), 415);
    // The verify scope is required.
    let otp_only = app.create_key("carrier-a", "otp").await;
    problem(
        check(&app, &otp_only, image_form(photo("person_a_2.jpg"))).await,
        403,
    )
    .await;
}
