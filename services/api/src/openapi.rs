//! The OpenAPI 3.1 document, generated from the handler annotations and types, served at
//! `/openapi.json`, with Swagger UI (vendored, no CDN) at `/docs`.
//!
//! Each handler's annotation lists what the handler itself answers. What the layers and
//! extractors shared by many routes answer is added to every operation they guard by
//! [`LayerResponses`], from the same facts the router is built on (security, `/v1` prefix,
//! request body media type, `POST`), so that no route's annotation can forget one: the API
//! fuzzing in `api-tests/` checks every response's status against this document.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, Ref, RefOr, ResponseBuilder,
        path::{Operation, ParameterBuilder, ParameterIn},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};

use crate::routes::{
    api_keys, documents, faces, health, incident, jwks, monitoring, otp, security_check, tokens,
    verifications,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "simgate", description = "Identity-verification gate for eSIM activation."),
    paths(
        health::healthz, health::readyz, health::metrics,
        faces::compare_faces,
        documents::check_document_upload,
        api_keys::list_api_keys, api_keys::create_api_key, api_keys::revoke_api_key,
        jwks::jwks,
        verifications::create_verification, verifications::get_verification,
        verifications::submit_document, verifications::submit_selfie,
        verifications::issue_activation, security_check::security_check,
        otp::start_otp, otp::verify_otp, otp::enrol_totp, otp::confirm_totp,
        otp::delete_totp_enrolment, otp::unlock_second_factor,
        tokens::introspect_token, tokens::revoke_token, tokens::redeem_token,
        incident::freeze_subscriber, incident::unfreeze_subscriber,
        incident::revoke_subscriber_tokens, incident::subscriber_timeline,
        incident::require_reverification, incident::erase_subscriber,
        monitoring::ingest_events, monitoring::list_alerts, monitoring::ack_alert,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerKeySecurity, &LayerResponses),
    tags(
        (name = "faces", description = "Face comparison"),
        (name = "documents", description = "Stand-alone document checks (MRZ, quality, portrait)"),
        (name = "api-keys", description = "API keys of the caller's tenant"),
        (name = "verifications", description = "Verification sessions: document, selfie, second factor, activation"),
        (name = "second factor", description = "TOTP enrolment, SMS and TOTP codes for a verification, lock administration"),
        (name = "tokens", description = "Activation tokens: verification keys, introspection, revocation, redemption"),
        (name = "incident response", description = "Freezing subscribers and revoking their tokens (scope admin); every control is audited"),
        (name = "monitoring", description = "Usage events from the network (scope events) and risk alerts (scope admin)"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerKeySecurity;

impl Modify for BearerKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).description(Some(
                "API key created with `simgate api-key create`; scopes: verify, otp, tokens, admin, batch, events",
            )).build()),
        );
    }
}

/// Adds the responses of the shared layers and extractors to the operations they guard (see the
/// module comment); a status an annotation already documents keeps its route-specific text, with the
/// layer's cause appended.
struct LayerResponses;

impl Modify for LayerResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let methods = [
                (&mut item.get, false),
                (&mut item.post, true),
                (&mut item.put, false),
                (&mut item.patch, false),
                (&mut item.delete, false),
            ];
            for (operation, is_post) in methods {
                if let Some(operation) = operation.as_mut() {
                    add_layer_responses(operation, path, is_post);
                }
            }
        }
    }
}

fn add_layer_responses(operation: &mut Operation, path: &str, is_post: bool) {
    let v1 = path.starts_with("/v1/");
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let body_types: Vec<String> = operation
        .request_body
        .as_ref()
        .map(|body| body.content.keys().cloned().collect())
        .unwrap_or_default();
    let json_body = body_types.iter().any(|t| t == "application/json");
    let multipart_body = body_types.iter().any(|t| t == "multipart/form-data");
    // A status the annotation already documents keeps its text, with the layer's cause added.
    let mut add =
        |status: &str, description: &str| match operation.responses.responses.get_mut(status) {
            Some(RefOr::T(response)) => {
                if response.description.is_empty() {
                    description.clone_into(&mut response.description);
                } else if !response.description.contains(description) {
                    response.description = format!("{}; or: {description}", response.description);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                operation
                    .responses
                    .responses
                    .insert(status.to_owned(), problem_response(description));
            }
        };
    if secured {
        // crate::auth::Principal, before any handler code runs.
        add(
            "401",
            "No API key, a malformed `Authorization` header, or an unknown or revoked key (`WWW-Authenticate: Bearer`)",
        );
        add("403", "The API key lacks the scope this operation needs");
    }
    if path.contains("{msisdn}") {
        // Every subscriber route parses its path segment first (simgate_core::Msisdn).
        add(
            "422",
            "The `msisdn` path segment is not an E.164 number (`invalid-field`)",
        );
    }
    if v1 {
        // crate::rate_limit, a route layer of every /v1 route.
        add(
            "429",
            "Over the caller's request rate (`rate-limited`, with `Retry-After`)",
        );
    }
    if !body_types.is_empty() {
        // DefaultBodyLimit (server.request_body_limit_bytes), and the handlers' own limits.
        add(
            "413",
            "The request body is larger than the configured limit",
        );
    }
    if json_body {
        // axum's Json extractor: syntax error 400, wrong or missing content type 415,
        // well-formed JSON of the wrong shape 422 (routes::api_keys::json_rejection).
        add("400", "The body is not valid JSON (`invalid-json`)");
        add(
            "415",
            "The body is not sent as `Content-Type: application/json`",
        );
        add(
            "422",
            "The JSON does not match the request schema (`invalid-json`), or a field does not validate (`invalid-field`)",
        );
    }
    if multipart_body {
        // axum's Multipart extractor and routes::multipart::read_image_fields.
        add(
            "400",
            "Not a multipart/form-data body, a malformed one, or missing, repeated or unknown fields",
        );
        add("415", "An image that is not JPEG, PNG or WebP");
    }
    if v1 && is_post {
        // crate::idempotency, a route layer of every /v1 route (POST only).
        add(
            "400",
            "A malformed `Idempotency-Key` (`invalid-idempotency-key`)",
        );
        add(
            "409",
            "A request with the same `Idempotency-Key` is still running (`idempotency-in-progress`)",
        );
        add(
            "422",
            "The `Idempotency-Key` was used for a different request (`idempotency-key-reused`)",
        );
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        if !parameters
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case("idempotency-key"))
        {
            parameters.push(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .description(Some(
                        "Makes a retry safe: the first answer to this key (1 to 255 visible ASCII characters) is stored and replayed, with `Idempotent-Replayed: true`, for a retry of the same request",
                    ))
                    .schema(Some(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::Type::String)
                            .min_length(Some(1))
                            .max_length(Some(255))
                            .pattern(Some("^[!-~]+$")),
                    ))
                    .build(),
            );
        }
    }
}

/// A response whose body is a [`crate::error::Problem`].
fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                crate::error::PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statuses the shared layers answer are documented wherever those layers run, and every
    /// documented /v1 error is a problem document (what schemathesis holds the server to).
    #[test]
    fn every_operation_documents_the_responses_of_its_layers() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                let has = |status: &str| responses.contains_key(status);
                let secured = operation["security"]
                    .as_array()
                    .is_some_and(|s| !s.is_empty());
                let v1 = path.starts_with("/v1/");
                let mut expected = Vec::new();
                if secured {
                    expected.extend(["401", "403"]);
                }
                if v1 {
                    expected.push("429");
                }
                if operation.get("requestBody").is_some() {
                    expected.push("413");
                }
                if v1 && method == "post" {
                    expected.extend(["400", "409", "422"]);
                    let parameters = operation["parameters"].as_array().unwrap();
                    assert!(
                        parameters
                            .iter()
                            .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                        "{method} {path} does not document Idempotency-Key"
                    );
                }
                for status in expected {
                    assert!(has(status), "{method} {path} does not document {status}");
                }
                if v1 {
                    for (status, response) in responses {
                        if status.starts_with('4') || status.starts_with('5') {
                            assert!(
                                response["content"]
                                    .get(crate::error::PROBLEM_JSON)
                                    .is_some(),
                                "{method} {path} {status} is not a problem document"
                            );
                        }
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 30, "only {checked} operations");
    }
}
