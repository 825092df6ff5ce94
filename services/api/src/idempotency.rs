//! `Idempotency-Key` for every `POST` under `/v1`: the first request with a key runs and its
//! answer is stored (sealed); a retry with the same key and the same request gets the stored
//! answer again (`Idempotent-Replayed: true`), so a client that lost a response — or a kiosk
//! whose server was killed mid-request — can retry without creating a second session or
//! issuing a second token.
//!
//! - A malformed key → 400 `invalid-idempotency-key`, after authentication (no key → 401).
//! - Same key, different request (method, path or body) → 422 `idempotency-key-reused`.
//! - Same key while the first request still runs → 409 `idempotency-in-progress`.
//! - 5xx answers are not stored: the key is released so the retry runs again.
//! - A request whose process died holds its key only until the request timeout (plus margin)
//!   has passed; then a retry takes it over.
//!
//! - Handlers that change a session (create, document, selfie, OTP verify, activation) get the
//!   key as [`HeldIdempotencyKey`] and store their answer in the same transaction as the
//!   change, so a crash or a database outage between the change and the middleware's own write
//!   cannot lose it; an answer once stored is never replaced.
//!
//! Keys are per tenant: the same key from two tenants never collides.

use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts as _, Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest as _, Sha256};
use simgate_store::IdempotencyBegin;

use crate::{
    auth::Principal,
    error::{ApiError, store_error},
    state::AppState,
};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Set on answers replayed from the store.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Longest accepted key.
const MAX_KEY_LEN: usize = 255;

/// Largest response stored for replay; larger answers are not replayable (none are today).
const MAX_STORED_RESPONSE: usize = 1024 * 1024;

/// The Idempotency-Key a running request holds, for handlers that store their answer in the same
/// transaction as their change (`POST /v1/verifications`): the middleware's own bookkeeping
/// after the handler cannot survive a crash or a database outage in between, and a retry that
/// found no answer would open a second session.
#[derive(Debug, Clone)]
pub struct HeldIdempotencyKey(pub String);

/// The middleware; a no-op for requests without the header and for non-POST methods.
pub async fn honour_idempotency_key(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || !request.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.run(request).await;
    }
    match run_idempotently(state, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run_idempotently(
    state: AppState,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let (mut parts, body) = request.into_parts();
    // Authentication first: an unauthenticated request gets the same 401 the handler's extractor
    // gives, whatever its Idempotency-Key (a 400 about the key would tell a caller without a key
    // more than 401 does, and is not what the operation documents); nothing is remembered for
    // it. The refusal is answered here, never by running the handler without the key: when the
    // key lookup failed only because the database was away (503), the handler's own lookup a
    // moment later could succeed and run the request unprotected (found by the outage test: a
    // create answered 201 outside its key, and the retry opened a second session).
    let principal = Principal::from_request_parts(&mut parts, &state)
        .await
        .map_err(IntoResponse::into_response)?;
    let key = parts
        .headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|k| {
            !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid-idempotency-key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .into_response()
        })?;
    let limit = state.settings.server.request_body_limit_bytes;
    let body = to_bytes(body, limit).await.map_err(|_| {
        crate::error::problem_for_status(StatusCode::PAYLOAD_TOO_LARGE).into_response()
    })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    let request_hash = hex::encode(hasher.finalize());

    let lock_for = time::Duration::seconds(
        i64::try_from(state.settings.server.request_timeout_secs).unwrap_or(60) * 2 + 10,
    );
    let tenant = principal.tenant.clone();
    let begin = state
        .store
        .begin_idempotent_request(&tenant, &key, &request_hash, state.clock.now(), lock_for)
        .await
        .map_err(|e| store_error(e).into_response())?;
    match begin {
        IdempotencyBegin::Started => {}
        IdempotencyBegin::Replay { status_code, body } => {
            let status = StatusCode::from_u16(status_code).unwrap_or(StatusCode::OK);
            let mut response = (status, body.to_vec()).into_response();
            let has_body = !body.is_empty();
            let headers = response.headers_mut();
            let content_type = if status.is_success() {
                "application/json"
            } else {
                crate::error::PROBLEM_JSON
            };
            // An empty answer (204) is replayed without a body type, as it was first sent.
            if has_body {
                headers.insert(
                    axum::http::header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type),
                );
            } else {
                headers.remove(axum::http::header::CONTENT_TYPE);
            }
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyBegin::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still running; retry shortly",
            )
            .into_response());
        }
        IdempotencyBegin::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used for a different request",
            )
            .into_response());
        }
    }

    parts.extensions.insert(principal);
    parts.extensions.insert(HeldIdempotencyKey(key.clone()));
    // Stored as the client sees it: a bare rejection (an extractor's plain text) becomes the
    // problem document here, not only in the outer layer, or a replay would send the plain text
    // labelled as a problem (found by the API fuzzing, api-tests/).
    let response =
        crate::error::problem_if_bare(next.run(Request::from_parts(parts, Body::from(body))).await);
    let (parts, body) = response.into_parts();
    let status = parts.status;
    let body = match to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(bytes) => bytes,
        Err(error) => {
            state
                .store
                .abandon_idempotent_request(&tenant, &key)
                .await
                .ok();
            return Err(ApiError::internal(&error).into_response());
        }
    };
    let stored = if status.is_server_error() {
        state.store.abandon_idempotent_request(&tenant, &key).await
    } else {
        state
            .store
            .complete_idempotent_request(&tenant, &key, status.as_u16(), &body)
            .await
    };
    if let Err(error) = stored {
        tracing::warn!(%error, "could not record the Idempotency-Key outcome");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}
