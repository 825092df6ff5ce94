//! The OpenAPI 3.1 document, generated from the handler annotations and types, served at
//! `/openapi.json`, with Swagger UI (vendored, no CDN) at `/docs`.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
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
    modifiers(&BearerKeySecurity),
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
