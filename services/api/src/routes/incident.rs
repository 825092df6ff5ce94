//! Incident-response controls for the carrier's response team (scope `admin`).
//!
//! - `POST /v1/subscribers/{msisdn}/freeze` (`{"reason"}`) freezes a subscriber: no new
//!   verification and no activation token until `DELETE /v1/subscribers/{msisdn}/freeze`.
//! - `POST /v1/subscribers/{msisdn}/tokens/revoke` (`{"reason"}`) revokes every live activation
//!   token of the subscriber, each pushed as a `token.revoked` webhook.
//! - `POST /v1/subscribers/{msisdn}/reverify` (`{"reason"}`) requires a new verification: every
//!   live token is revoked and every approved, not yet activated verification of the subscriber
//!   goes to `needs_review` (reason `reverification_required`), so nothing issued or approved
//!   before the incident can activate an eSIM.
//! - `GET /v1/subscribers/{msisdn}/timeline` shows what happened to the subscriber: the freeze,
//!   verifications, activation tokens, alerts, observed events (verifications opened, codes
//!   sent, network usage) and audit entries, each list newest first.
//!
//! Every control is appended to the audit chain with the acting key's id.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use simgate_core::Scope;
use simgate_flow::VerificationStatus;
use simgate_store::incident::SubscriberFreeze;
use time::OffsetDateTime;

use crate::{
    auth::Principal,
    error::{ApiError, invalid_field, store_error},
    incident::{audit, freeze, revoke_all_tokens, subscriber_subject},
    routes::otp::parse_msisdn,
    sessions,
    state::AppState,
};

/// Why a control was applied: a reason code or a case reference, no personal data.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlRequest {
    /// 1 to 100 printable characters, e.g. `sim_swap_suspected` or a case number.
    pub reason: Option<String>,
}

/// A subscriber's freeze.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FreezeResponse {
    /// Always true.
    pub frozen: bool,
    /// False when the subscriber was already frozen (the first freeze is kept).
    pub newly_frozen: bool,
    /// Since when.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub frozen_at: OffsetDateTime,
    /// The reason given with the freeze in force.
    pub reason: String,
}

/// Tokens revoked in bulk.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkRevokeResponse {
    /// How many live tokens were revoked.
    pub revoked: usize,
    /// Their `jti`s.
    pub jtis: Vec<String>,
}

/// What an erasure deleted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErasureResponse {
    /// Live tokens revoked before their bookkeeping was deleted (their `jti`s).
    pub revoked_tokens: Vec<String>,
    /// Rows deleted per table.
    pub deleted: std::collections::BTreeMap<String, u64>,
}

/// What requiring re-verification changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReverifyResponse {
    /// Approved verifications sent to review.
    pub verifications_flagged: Vec<String>,
    /// Live tokens revoked.
    pub tokens_revoked: Vec<String>,
}

/// Requires the subscriber to pass a new verification before any activation.
#[utoipa::path(
    post, path = "/v1/subscribers/{msisdn}/reverify", tag = "incident response",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    request_body = ControlRequest,
    responses(
        (status = 200, description = "Approved sessions flagged and live tokens revoked (possibly none)", body = ReverifyResponse),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn require_reverification(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
    body: Option<Json<ControlRequest>>,
) -> Result<Json<ReverifyResponse>, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let reason = reason_of(
        body.map(|Json(b)| b).unwrap_or_default(),
        "reverification_required",
    )?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let tenant = &principal.tenant;
    let now = state.clock.now();
    let approved: Vec<String> = state
        .store
        .subscriber_verifications(tenant, subscriber.as_str(), TIMELINE_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|v| v.status == VerificationStatus::Approved.as_str())
        .map(|v| v.id)
        .collect();
    let mut flagged = Vec::new();
    for id in approved {
        let mut loaded = sessions::load_verification(&state, tenant, &id).await?;
        // Decided meanwhile (activated, expired): nothing left to hold back.
        if loaded
            .verification
            .flag_for_review(vec!["reverification_required".into()], now)
            .is_ok()
        {
            sessions::save_verification(&state, &mut loaded).await?;
            flagged.push(id);
        }
    }
    let tokens_revoked = revoke_all_tokens(&state, tenant, &subscriber, &reason).await?;
    audit(
        &state,
        tenant,
        &principal.key_id,
        "subscriber.reverification_required",
        subscriber_subject(&subscriber),
        json!({ "reason": reason, "verifications": flagged, "jtis": tokens_revoked }),
    )
    .await?;
    Ok(Json(ReverifyResponse {
        verifications_flagged: flagged,
        tokens_revoked,
    }))
}

/// A verification in a timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineVerificationView {
    /// Its id.
    pub id: String,
    /// Its channel.
    pub channel: String,
    /// Its status.
    pub status: String,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// An activation token in a timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineTokenView {
    /// Its `jti`.
    pub jti: String,
    /// The verification behind it.
    pub verification_id: String,
    /// Issue time.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: OffsetDateTime,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
    /// Why it was revoked, if it was.
    pub revoked_reason: Option<String>,
    /// Whether the provisioning side redeemed it.
    pub redeemed: bool,
}

/// An observed event in a timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineEventView {
    /// `verification_opened`, `otp_send`, `data_usage`, `sim_swap`...
    pub signal: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// Bytes for data usage; 1 otherwise.
    pub amount: u64,
}

/// An audit entry in a timeline.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineAuditView {
    /// Position in the audit chain.
    pub seq: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Particulars (JSON text).
    pub details: String,
}

/// What happened to one subscriber.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimelineResponse {
    /// The subscriber's opaque id (as in tokens and alerts).
    pub subscriber_id: String,
    /// The freeze in force, if any.
    pub freeze: Option<FreezeResponse>,
    /// Verifications, newest first.
    pub verifications: Vec<TimelineVerificationView>,
    /// Activation tokens, newest first.
    pub tokens: Vec<TimelineTokenView>,
    /// Alerts, newest first.
    pub alerts: Vec<crate::routes::monitoring::AlertView>,
    /// Observed events, newest first.
    pub events: Vec<TimelineEventView>,
    /// Audit entries about the subscriber, newest first.
    pub audit: Vec<TimelineAuditView>,
}

/// How many entries of each kind a timeline shows.
const TIMELINE_LIMIT: u32 = 200;

/// Shows what happened to a subscriber.
#[utoipa::path(
    get, path = "/v1/subscribers/{msisdn}/timeline", tag = "incident response",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    responses(
        (status = 200, description = "The timeline (each list newest first, at most 200 entries)", body = TimelineResponse),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn subscriber_timeline(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
) -> Result<Json<TimelineResponse>, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let (tenant, id) = (&principal.tenant, subscriber.as_str());
    let store = &state.store;
    let freeze = store
        .subscriber_freeze(tenant, id)
        .await
        .map_err(store_error)?
        .map(|freeze| FreezeResponse {
            frozen: true,
            newly_frozen: false,
            frozen_at: freeze.frozen_at,
            reason: freeze.reason,
        });
    let verifications = store
        .subscriber_verifications(tenant, id, TIMELINE_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|v| TimelineVerificationView {
            id: v.id,
            channel: v.channel,
            status: v.status,
            created_at: v.created_at,
        })
        .collect();
    let tokens = store
        .subscriber_tokens(tenant, id, TIMELINE_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|t| TimelineTokenView {
            jti: t.jti,
            verification_id: t.verification_id,
            issued_at: t.issued_at,
            expires_at: t.expires_at,
            revoked_reason: t.revoked_reason,
            redeemed: t.redeemed_at.is_some(),
        })
        .collect();
    let alerts = store
        .subscriber_alerts(tenant, id, TIMELINE_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(Into::into)
        .collect();
    let events = store
        .subscriber_events(tenant, id, TIMELINE_LIMIT)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|e| TimelineEventView {
            signal: e.signal,
            at: e.at,
            amount: e.amount,
        })
        .collect();
    let audit = store
        .audit_entries_for_subject(tenant, &subscriber_subject(&subscriber), TIMELINE_LIMIT)
        .await
        .map_err(store_error)?;
    Ok(Json(TimelineResponse {
        subscriber_id: id.to_owned(),
        freeze,
        verifications,
        tokens,
        alerts,
        events,
        audit: audit
            .into_iter()
            .map(|e| TimelineAuditView {
                seq: e.seq,
                at: e.at,
                actor: e.actor,
                action: e.action,
                details: e.details,
            })
            .collect(),
    }))
}

fn reason_of(request: ControlRequest, default: &str) -> Result<String, ApiError> {
    let reason = request.reason.unwrap_or_else(|| default.to_owned());
    if reason.is_empty() || reason.len() > 100 || reason.chars().any(char::is_control) {
        return Err(invalid_field(
            "reason",
            "must be 1 to 100 printable characters",
        ));
    }
    Ok(reason)
}

/// Freezes a subscriber.
#[utoipa::path(
    post, path = "/v1/subscribers/{msisdn}/freeze", tag = "incident response",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    request_body = ControlRequest,
    responses(
        (status = 200, description = "Frozen", body = FreezeResponse),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn freeze_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
    body: Option<Json<ControlRequest>>,
) -> Result<Json<FreezeResponse>, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let reason = reason_of(
        body.map(|Json(b)| b).unwrap_or_default(),
        "frozen_by_operator",
    )?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let tenant = &principal.tenant;
    let newly_frozen = freeze(&state, tenant, &subscriber, &principal.key_id, &reason).await?;
    let in_force = state
        .store
        .subscriber_freeze(tenant, subscriber.as_str())
        .await
        .map_err(store_error)?
        // Lifted again at once by another request: answer with the freeze this one applied.
        .unwrap_or_else(|| SubscriberFreeze {
            frozen_at: state.clock.now(),
            reason,
            actor: principal.key_id.clone(),
        });
    Ok(Json(FreezeResponse {
        frozen: true,
        newly_frozen,
        frozen_at: in_force.frozen_at,
        reason: in_force.reason,
    }))
}

/// Lifts a subscriber's freeze.
#[utoipa::path(
    delete, path = "/v1/subscribers/{msisdn}/freeze", tag = "incident response",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    responses(
        (status = 204, description = "Unfrozen"),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The subscriber is not frozen", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn unfreeze_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let tenant = &principal.tenant;
    if !state
        .store
        .unfreeze_subscriber(tenant, subscriber.as_str())
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::not_found("freeze"));
    }
    audit(
        &state,
        tenant,
        &principal.key_id,
        "subscriber.unfrozen",
        subscriber_subject(&subscriber),
        json!({}),
    )
    .await?;
    tracing::warn!(tenant = %tenant, key_id = %principal.key_id, "subscriber unfrozen");
    Ok(StatusCode::NO_CONTENT)
}

/// Erases what simgate holds about a subscriber (right to erasure): verification sessions, SMS
/// codes and send history, token bookkeeping (live tokens are revoked first, with their
/// webhooks), face templates, sightings, risk events, TOTP enrolment and second-factor state.
/// Alerts, a freeze and the audit log stay (fraud evidence and protection, holding only the
/// opaque subscriber id); the erasure itself is audited.
#[utoipa::path(
    delete, path = "/v1/subscribers/{msisdn}", tag = "incident response",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    responses(
        (status = 200, description = "Erased (counts may be zero)", body = ErasureResponse),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn erase_subscriber(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
) -> Result<Json<ErasureResponse>, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let tenant = &principal.tenant;
    // Revoked first, so a token copied before the erasure cannot be redeemed after it.
    let revoked_tokens =
        revoke_all_tokens(&state, tenant, &subscriber, "subscriber_erased").await?;
    let deleted: std::collections::BTreeMap<String, u64> = state
        .store
        .erase_subscriber(tenant, subscriber.as_str())
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|(table, rows)| (table.to_owned(), rows))
        .collect();
    audit(
        &state,
        tenant,
        &principal.key_id,
        "subscriber.erased",
        subscriber_subject(&subscriber),
        json!({ "deleted": deleted, "revoked_tokens": revoked_tokens.len() }),
    )
    .await?;
    tracing::warn!(tenant = %tenant, key_id = %principal.key_id, "subscriber erased");
    Ok(Json(ErasureResponse {
        revoked_tokens,
        deleted,
    }))
}

/// Revokes every live activation token of a subscriber.
#[utoipa::path(
    post, path = "/v1/subscribers/{msisdn}/tokens/revoke", tag = "incident response",
    params(("msisdn" = String, Path, description = "The subscriber's number, E.164 (`+` may be percent-encoded)")),
    request_body = ControlRequest,
    responses(
        (status = 200, description = "Live tokens revoked (possibly none)", body = BulkRevokeResponse),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn revoke_subscriber_tokens(
    State(state): State<AppState>,
    principal: Principal,
    Path(msisdn): Path<String>,
    body: Option<Json<ControlRequest>>,
) -> Result<Json<BulkRevokeResponse>, ApiError> {
    principal.require(Scope::Admin)?;
    let msisdn = parse_msisdn(&msisdn)?;
    let reason = reason_of(
        body.map(|Json(b)| b).unwrap_or_default(),
        "revoked_by_operator",
    )?;
    let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
    let tenant = &principal.tenant;
    let jtis = revoke_all_tokens(&state, tenant, &subscriber, &reason).await?;
    audit(
        &state,
        tenant,
        &principal.key_id,
        "subscriber.tokens_revoked",
        subscriber_subject(&subscriber),
        json!({ "reason": reason, "jtis": jtis }),
    )
    .await?;
    Ok(Json(BulkRevokeResponse {
        revoked: jtis.len(),
        jtis,
    }))
}
