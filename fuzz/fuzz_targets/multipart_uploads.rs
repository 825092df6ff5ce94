//! `multipart/form-data` parsing of every upload endpoint, on untrusted bodies.
//!
//! Builds an `axum::extract::Multipart` the way the router does (`FromRequest` on a request
//! with the input's boundary and body, delivered in input-chosen chunk sizes, because the
//! parser's state machine sees chunk edges) and drives the API's own readers with the field
//! sets of each upload endpoint, on a current-thread tokio runtime:
//! - `POST /v1/faces/compare`: `read_image_fields(["reference", "probe"])`;
//! - `POST /v1/documents/check`: `read_form` of `image`, `back`, `mrz_text`, `channel`;
//! - `POST /v1/verifications/{id}/document`: `read_form` of `image`, `back`, `mrz_text`;
//! - `POST /v1/verifications/{id}/selfie`: `read_form` of 1..=MAX_SELFIE_FRAMES `frames`.
//!
//! The field sets are copied from the handlers (services/api/src/routes/faces.rs,
//! documents.rs, verifications.rs), which build them inline. Input layout: one byte picks the
//! endpoint, one byte the chunk size (0: the whole body in one chunk), then the boundary up to
//! the first `\n`, then the body. Invariants: success respects every per-field limit and
//! occurrence count; every refusal is a 4xx, never a 5xx.

#![no_main]

use std::{convert::Infallible, sync::OnceLock};

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Multipart},
    http::{Request, header::CONTENT_TYPE},
};
use libfuzzer_sys::fuzz_target;
use simgate_api::{
    error::ApiError,
    routes::{
        multipart::{FieldKind, FieldSpec, FormData, read_form, read_image_fields},
        verifications::MAX_SELFIE_FRAMES,
    },
};

/// Image size limit for the fuzzed forms: small, so the too-large path is reachable.
const MAX_IMAGE_BYTES: usize = 4096;
/// `MAX_MRZ_TEXT_BYTES` of the documents and verifications handlers (private there).
const MAX_MRZ_TEXT_BYTES: usize = 512;

const fn field(name: &'static str, kind: FieldKind, min: usize, max: usize) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        min,
        max,
    }
}

const DOCUMENT_CHECK_FORM: [FieldSpec; 4] = [
    field("image", FieldKind::Image, 0, 1),
    field("back", FieldKind::Image, 0, 1),
    field("mrz_text", FieldKind::Text(MAX_MRZ_TEXT_BYTES), 0, 1),
    field("channel", FieldKind::Text(16), 0, 1),
];
const VERIFICATION_DOCUMENT_FORM: [FieldSpec; 3] = [
    field("image", FieldKind::Image, 1, 1),
    field("back", FieldKind::Image, 0, 1),
    field("mrz_text", FieldKind::Text(MAX_MRZ_TEXT_BYTES), 0, 1),
];
const VERIFICATION_SELFIE_FORM: [FieldSpec; 1] =
    [field("frames", FieldKind::Image, 1, MAX_SELFIE_FRAMES)];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let [endpoint, chunk_size, rest @ ..] = data else {
        return;
    };
    let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (boundary, body) = (&rest[..newline], &rest[newline + 1..]);
    let Ok(boundary) = std::str::from_utf8(boundary) else {
        return;
    };
    let chunks: Vec<Result<Bytes, Infallible>> = match usize::from(*chunk_size) {
        0 => vec![Ok(Bytes::copy_from_slice(body))],
        size => body
            .chunks(size)
            .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
            .collect(),
    };
    let Ok(request) = Request::builder()
        .method("POST")
        .uri("/upload")
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from_stream(futures::stream::iter(chunks)))
    else {
        return;
    };
    let endpoint = *endpoint;
    runtime().block_on(async move {
        let multipart = match Multipart::from_request(request, &()).await {
            Ok(multipart) => multipart,
            Err(rejection) => {
                assert!(rejection.status().is_client_error(), "{rejection:?}");
                return;
            }
        };
        match endpoint % 4 {
            0 => {
                match read_image_fields(multipart, ["reference", "probe"], MAX_IMAGE_BYTES).await {
                    Ok(bodies) => assert!(bodies.iter().all(|b| b.len() <= MAX_IMAGE_BYTES)),
                    Err(error) => assert_client_error(&error),
                }
            }
            1 => check_form(multipart, &DOCUMENT_CHECK_FORM).await,
            2 => check_form(multipart, &VERIFICATION_DOCUMENT_FORM).await,
            _ => check_form(multipart, &VERIFICATION_SELFIE_FORM).await,
        }
    });
});

async fn check_form(multipart: Multipart, fields: &[FieldSpec]) {
    match read_form(multipart, fields, MAX_IMAGE_BYTES).await {
        Ok(form) => check_limits(&form, fields),
        Err(error) => assert_client_error(&error),
    }
}

/// What a handler may assume of a form `read_form` accepted.
fn check_limits(form: &FormData, fields: &[FieldSpec]) {
    for spec in fields {
        let count = form.images.iter().filter(|(n, _)| *n == spec.name).count()
            + form.texts.iter().filter(|(n, _)| *n == spec.name).count();
        assert!(
            (spec.min..=spec.max).contains(&count),
            "{}: {count}",
            spec.name
        );
    }
    for (name, body) in &form.images {
        assert!(body.len() <= MAX_IMAGE_BYTES, "{name}: {}", body.len());
    }
    for (name, text) in &form.texts {
        let spec = fields
            .iter()
            .find(|spec| spec.name == *name)
            .expect("known field");
        let FieldKind::Text(limit) = spec.kind else {
            panic!("image field {name} came back as text");
        };
        assert!(text.len() <= limit, "{name}: {}", text.len());
    }
}

fn assert_client_error(error: &ApiError) {
    assert!(
        error.status().is_client_error(),
        "bad multipart input got {}: {error:?}",
        error.status()
    );
}
