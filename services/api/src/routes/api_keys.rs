//! `/v1/api-keys`: a tenant administrator (scope `admin`) lists, creates and revokes the tenant's
//! own keys. Keys of other tenants are invisible: listing filters by tenant and revoking a foreign
//! id answers 404 exactly as an unknown id does.

use axum::{
    Json,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use simgate_core::{Scope, ScopeSet, TenantId, api_key::generate_api_key};
use simgate_store::{ApiKeyRecord, NewApiKey};
use time::OffsetDateTime;

use crate::{
    auth::Principal,
    error::{ApiError, store_error},
    state::AppState,
};

/// A key as listed (never the secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    /// Key id.
    pub id: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Name given at creation.
    pub name: String,
    /// First characters of the secret.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Revocation time, if revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<ApiKeyRecord> for ApiKeyView {
    fn from(r: ApiKeyRecord) -> Self {
        Self {
            id: r.id,
            tenant: r.tenant,
            name: r.name,
            prefix: r.display_prefix,
            scopes: r.scopes,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// The tenant's keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    /// Keys, oldest first, revoked ones included.
    pub api_keys: Vec<ApiKeyView>,
}

/// Request to create a key in the caller's tenant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// Human name, 1–100 characters (e.g. "kiosk port-louis 3").
    pub name: String,
    /// Scopes to grant.
    pub scopes: ScopeSet,
}

/// A created key: the secret appears here once and never again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    /// The stored key.
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The bearer secret. Store it now; only its hash is kept.
    pub secret: String,
}

/// Checks a key name from a client or the CLI.
pub fn validate_key_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("name must be 1 to 100 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters".into());
    }
    Ok(name.to_owned())
}

/// Lists the caller's tenant's keys.
#[utoipa::path(
    get, path = "/v1/api-keys", tag = "api-keys",
    responses(
        (status = 200, body = ApiKeyList),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<ApiKeyList>, ApiError> {
    principal.require(Scope::Admin)?;
    let keys = state
        .store
        .list_api_keys(Some(&principal.tenant))
        .await
        .map_err(store_error)?;
    Ok(Json(ApiKeyList {
        api_keys: keys.into_iter().map(ApiKeyView::from).collect(),
    }))
}

/// Creates a key in the caller's tenant.
#[utoipa::path(
    post, path = "/v1/api-keys", tag = "api-keys",
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<CreateApiKeyRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    principal.require(Scope::Admin)?;
    let Json(request) = body.map_err(json_rejection)?;
    let name = validate_key_name(&request.name).map_err(|reason| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            reason,
        )
        .with("field", "name")
    })?;
    let generated = generate_api_key();
    let record = ApiKeyRecord {
        id: generated.id,
        tenant: principal.tenant.clone(),
        name,
        display_prefix: generated.display_prefix,
        scopes: request.scopes,
        created_at: state.clock.now(),
        revoked_at: None,
    };
    state
        .store
        .insert_api_key(&NewApiKey {
            record: record.clone(),
            key_hash: generated.hash,
        })
        .await
        .map_err(store_error)?;
    crate::incident::audit(
        &state,
        &principal.tenant,
        &principal.key_id,
        "api_key.created",
        format!("api_key:{}", record.id),
        serde_json::json!({ "scopes": record.scopes.to_list() }),
    )
    .await?;
    tracing::info!(tenant = %principal.tenant, by = %principal.key_id, key_id = %record.id, "api key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            key: record.into(),
            secret: generated.secret,
        }),
    ))
}

/// Revokes one of the caller's tenant's keys.
#[utoipa::path(
    delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active key with this id in the caller's tenant", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::Admin)?;
    let revoked = state
        .store
        .revoke_api_key(Some(&principal.tenant), &id, state.clock.now())
        .await
        .map_err(store_error)?;
    if !revoked {
        return Err(ApiError::not_found("active API key"));
    }
    crate::incident::audit(
        &state,
        &principal.tenant,
        &principal.key_id,
        "api_key.revoked",
        format!("api_key:{id}"),
        serde_json::json!({}),
    )
    .await?;
    tracing::info!(tenant = %principal.tenant, by = %principal.key_id, key_id = %id, "api key revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Maps axum's JSON rejection (syntax, schema, content type) to a problem.
pub fn json_rejection(rejection: JsonRejection) -> ApiError {
    ApiError::new(
        rejection.status(),
        "invalid-json",
        "Invalid JSON body",
        rejection.body_text(),
    )
}
