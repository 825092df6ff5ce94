//! Activation-token lifecycle for the provisioning side: introspection (RFC 7662 shape),
//! revocation and single-use redemption.
//!
//! A token is active when its signature verifies against a published key, its times and
//! audience hold, it was issued to the caller's tenant, and it is neither revoked nor redeemed.
//! Introspection answers `{"active": false}` for every inactive case without saying which, as
//! RFC 7662 asks; redemption says why, because the provisioning side must log it.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use simgate_core::Scope;
use simgate_store::ActivationTokenRow;
use simgate_tokens::{ActivationClaims, Audience, Issuer, TokenError, verify_activation_token};

use crate::{
    auth::Principal,
    error::{ApiError, invalid_field, store_error},
    routes::api_keys::json_rejection,
    signing_keys::load_key_ring,
    state::AppState,
    webhooks,
};

/// A token to introspect or redeem.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The compact JWS.
    pub token: String,
}

/// RFC 7662 introspection response: `active`, and the claims when active.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntrospectionResponse {
    /// Whether the token may be used now.
    pub active: bool,
    /// `esim-activation+jwt` when active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The verified claims when active.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub claims: Option<ActivationClaims>,
}

/// Revoke by `jti` or by the token itself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// The token's id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The token (its `jti` is read after the signature verifies).
    #[serde(default)]
    pub token: Option<String>,
    /// Why, for the audit trail and the webhook (default `revoked_by_client`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The result of a revocation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RevokeResponse {
    /// True when this call revoked a live token; false when it was unknown or already revoked.
    pub revoked: bool,
}

/// The result of a redemption.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedeemResponse {
    /// Always true (failures are problems).
    pub redeemed: bool,
    /// The token's claims, for the provisioning side to bind the profile download.
    #[schema(value_type = Object)]
    pub claims: ActivationClaims,
}

/// Verifies the signature, times, issuer and audience of a token.
async fn verify(
    state: &AppState,
    token: &str,
) -> Result<Result<ActivationClaims, TokenError>, ApiError> {
    let now = state.clock.now();
    let Some(ring) = load_key_ring(state.store.as_ref(), now)
        .await
        .map_err(|e| ApiError::internal(&e))?
    else {
        return Ok(Err(TokenError::UnknownKey("no signing key exists".into())));
    };
    let settings = &state.settings.tokens;
    let issuer = Issuer::parse(&settings.issuer).map_err(|e| ApiError::internal(&e))?;
    let audience = Audience::parse(&settings.audience).map_err(|e| ApiError::internal(&e))?;
    Ok(verify_activation_token(
        token, &ring, &issuer, &audience, now,
    ))
}

/// The token's bookkeeping row when it belongs to the caller's tenant.
async fn own_row(
    state: &AppState,
    principal: &Principal,
    jti: &str,
) -> Result<Option<ActivationTokenRow>, ApiError> {
    Ok(state
        .store
        .find_activation_token(jti)
        .await
        .map_err(store_error)?
        .filter(|row| row.tenant == principal.tenant))
}

/// Introspects an activation token (RFC 7662 response shape).
#[utoipa::path(
    post, path = "/v1/tokens/introspect", tag = "tokens",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Whether the token is active, with its claims when it is", body = IntrospectionResponse),
        (status = 401, description = "No or unknown API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks the tokens scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tokens"]))
)]
pub async fn introspect_token(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<IntrospectionResponse>, ApiError> {
    principal.require(Scope::Tokens)?;
    let Json(request) = body.map_err(json_rejection)?;
    let inactive = IntrospectionResponse {
        active: false,
        token_type: None,
        claims: None,
    };
    let Ok(claims) = verify(&state, &request.token).await? else {
        return Ok(Json(inactive));
    };
    let live = own_row(&state, &principal, claims.jti.as_str())
        .await?
        .is_some_and(|row| row.revoked_at.is_none() && row.redeemed_at.is_none());
    if !live {
        return Ok(Json(inactive));
    }
    Ok(Json(IntrospectionResponse {
        active: true,
        token_type: Some("esim-activation+jwt".into()),
        claims: Some(claims),
    }))
}

/// Revokes an activation token.
#[utoipa::path(
    post, path = "/v1/tokens/revoke", tag = "tokens",
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "Revocation processed", body = RevokeResponse),
        (status = 401, description = "No or unknown API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks the tokens scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither jti nor token given", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tokens"]))
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<RevokeRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<RevokeResponse>, ApiError> {
    principal.require(Scope::Tokens)?;
    let Json(request) = body.map_err(json_rejection)?;
    let reason = request.reason.as_deref().unwrap_or("revoked_by_client");
    if reason.is_empty() || reason.len() > 100 || reason.chars().any(char::is_control) {
        return Err(invalid_field(
            "reason",
            "must be 1 to 100 printable characters",
        ));
    }
    let jti = match (&request.jti, &request.token) {
        (Some(jti), None) => jti.clone(),
        (None, Some(token)) => match verify(&state, token).await? {
            Ok(claims) => claims.jti.as_str().to_owned(),
            // An expired or otherwise dead token needs no revocation.
            Err(_) => return Ok(Json(RevokeResponse { revoked: false })),
        },
        _ => return Err(invalid_field("jti", "give exactly one of jti or token")),
    };
    if jti.len() > 64 {
        return Ok(Json(RevokeResponse { revoked: false }));
    }
    let now = state.clock.now();
    let revoked = state
        .store
        .revoke_activation_token(&principal.tenant, &jti, now, reason)
        .await
        .map_err(store_error)?;
    if revoked {
        let verification_id = own_row(&state, &principal, &jti)
            .await?
            .map(|row| row.verification_id)
            .unwrap_or_default();
        webhooks::queue_revocation(&state, &principal.tenant, &jti, &verification_id, reason)
            .await?;
        crate::incident::audit(
            &state,
            &principal.tenant,
            &principal.key_id,
            "token.revoked",
            format!("token:{jti}"),
            serde_json::json!({ "reason": reason, "verification_id": verification_id }),
        )
        .await?;
        tracing::info!(tenant = %principal.tenant, jti = %jti, reason, "activation token revoked");
    }
    Ok(Json(RevokeResponse { revoked }))
}

/// Redeems an activation token: succeeds once, for the provisioning side's profile release.
#[utoipa::path(
    post, path = "/v1/tokens/redeem", tag = "tokens",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Redeemed; the profile may be released", body = RedeemResponse),
        (status = 401, description = "No or unknown API key", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks the tokens scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Token inactive: `reason` is invalid, revoked, already_redeemed or unknown", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["tokens"]))
)]
pub async fn redeem_token(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<TokenRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<RedeemResponse>, ApiError> {
    principal.require(Scope::Tokens)?;
    let Json(request) = body.map_err(json_rejection)?;
    let inactive = |reason: &str, detail: String| {
        ApiError::new(
            StatusCode::CONFLICT,
            "token-inactive",
            "Token inactive",
            detail,
        )
        .with("reason", reason)
    };
    let claims = match verify(&state, &request.token).await? {
        Ok(claims) => claims,
        Err(error) => {
            return Err(inactive(
                error.reason_code(),
                format!("the token does not verify: {error}"),
            ));
        }
    };
    let jti = claims.jti.as_str().to_owned();
    let now = state.clock.now();
    if state
        .store
        .redeem_activation_token(&principal.tenant, &jti, now)
        .await
        .map_err(store_error)?
    {
        tracing::info!(tenant = %principal.tenant, jti = %jti, "activation token redeemed");
        return Ok(Json(RedeemResponse {
            redeemed: true,
            claims,
        }));
    }
    let (reason, detail) = match own_row(&state, &principal, &jti).await? {
        None => ("unknown", "this token was not issued to this tenant"),
        Some(row) if row.revoked_at.is_some() => ("revoked", "the token was revoked"),
        Some(row) if row.redeemed_at.is_some() => {
            ("already_redeemed", "the token was already redeemed")
        }
        Some(_) => ("expired", "the token expired"),
    };
    Err(inactive(reason, detail.to_owned()))
}
