//! `GET /.well-known/jwks.json`: the public keys the provisioning side uses to verify activation
//! tokens: the current key and every previous key still inside its rotation overlap.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};

use crate::{
    error::{ApiError, store_error},
    signing_keys::{SigningKeyError, load_key_ring},
    state::AppState,
};

/// Verifiers may cache this long; they should refetch on an unknown `kid`.
const JWKS_MAX_AGE_SECS: u32 = 60;

/// The JSON Web Key Set of activation-token signing keys.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "JWK Set (RFC 7517): {\"keys\":[{kty,crv,x,y?,kid,alg,use}]}", content_type = "application/jwk-set+json", body = Object))
)]
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let ring = load_key_ring(state.store.as_ref(), now)
        .await
        .map_err(|error| match error {
            SigningKeyError::Store(error) => store_error(error),
            SigningKeyError::Key(error) => ApiError::internal(&error),
        })?;
    let body = match ring {
        Some(ring) => ring
            .jwks(now)
            .to_json()
            .map_err(|e| ApiError::internal(&e))?,
        None => r#"{"keys":[]}"#.to_owned(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/jwk-set+json".to_owned()),
            (
                header::CACHE_CONTROL,
                format!("public, max-age={JWKS_MAX_AGE_SECS}"),
            ),
        ],
        body,
    )
        .into_response())
}
