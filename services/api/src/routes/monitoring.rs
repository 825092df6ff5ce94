//! Real-time monitoring over HTTP.
//!
//! - `POST /v1/events` (scope `events`): a batch of usage events of active eSIMs from the
//!   network side, `[{eid, msisdn, kind, bytes?, region?, at}]`, each fed to the risk rules
//!   (data bursts, SIM-swap bursts...). Up to [`MAX_EVENTS_PER_BATCH`] per request; the whole
//!   batch is validated before any event is recorded, so a bad event names its index and
//!   nothing is half-ingested.
//! - `GET /v1/alerts` (scope `admin`): the tenant's alerts, open ones unless `?status=all`.
//! - `POST /v1/alerts/{id}/ack` (scope `admin`): acknowledges an alert (audited).

use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use simgate_core::{Msisdn, Scope};
use simgate_risk::{KeyKind, RuleAction, Severity, Signal};
use simgate_store::risk::AlertRow;
use simgate_tokens::Eid;
use time::{Duration, OffsetDateTime};

use crate::{
    auth::Principal,
    error::{ApiError, invalid_field, store_error},
    incident::audit,
    risk::{Observation, observe},
    routes::api_keys::json_rejection,
    sessions,
    state::AppState,
};

/// The most events one request may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;

/// What the network saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageKind {
    /// Data used (`bytes` required).
    DataUsage,
    /// The eSIM attached to the network.
    Attach,
    /// The number moved to another SIM.
    SimSwap,
    /// A login with the number (e.g. a bank's SMS login).
    Login,
}

impl UsageKind {
    fn signal(self) -> Signal {
        match self {
            UsageKind::DataUsage => Signal::DataUsage,
            UsageKind::Attach => Signal::Attach,
            UsageKind::SimSwap => Signal::SimSwap,
            UsageKind::Login => Signal::Login,
        }
    }
}

/// One usage event.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageEvent {
    /// The eSIM (32 digits).
    pub eid: String,
    /// The subscriber's number, E.164.
    pub msisdn: String,
    /// What happened.
    pub kind: UsageKind,
    /// Bytes used, for `data_usage`.
    pub bytes: Option<u64>,
    /// The network region (a country code such as `MU`, or the carrier's area code): feeds the
    /// unusual-region and impossible-travel rules.
    pub region: Option<String>,
    /// When it happened (RFC 3339); at most 5 minutes ahead and 24 hours behind.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// A rule an ingested event fired.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FiredRuleView {
    /// Index of the event in the batch.
    pub event: usize,
    /// The rule.
    pub rule: String,
    /// What it did.
    pub action: RuleAction,
}

/// The batch's outcome.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Events recorded.
    pub accepted: usize,
    /// Rules the batch fired.
    pub fired: Vec<FiredRuleView>,
}

/// An alert as shown to the response team.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertView {
    /// `alr_...`.
    pub id: String,
    /// The rule that fired.
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// What it did besides alerting.
    pub action: RuleAction,
    /// The signal counted.
    pub signal: Signal,
    /// What it was grouped by.
    pub key_kind: KeyKind,
    /// The subscriber whose event fired it (opaque id).
    pub subscriber_id: String,
    /// The window's total when it fired, and the threshold.
    pub total: u64,
    /// The rule's threshold.
    pub threshold: u64,
    /// When it was raised.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub raised_at: OffsetDateTime,
    /// When it was acknowledged, if it was.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acked_at: Option<OffsetDateTime>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
}

impl From<AlertRow> for AlertView {
    fn from(row: AlertRow) -> Self {
        Self {
            id: row.id,
            rule: row.rule,
            severity: row.severity,
            action: row.action,
            signal: row.signal,
            key_kind: row.key_kind,
            subscriber_id: row.subscriber_id,
            total: row.total,
            threshold: row.threshold,
            raised_at: row.raised_at,
            acked_at: row.acked_at,
            acked_by: row.acked_by,
        }
    }
}

/// The alert list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertList {
    /// Newest first.
    pub alerts: Vec<AlertView>,
}

/// `?status=open|all&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `open` (default) or `all`.
    pub status: Option<String>,
    /// At most this many (default 100); any value is clamped to 1..=1000. Documented as the
    /// whole u32 range the handler accepts (utoipa's default, int32, would exclude the upper
    /// half, which the fuzzing found answered 200).
    #[param(format = Int64, minimum = 0, maximum = 4_294_967_295_u64)]
    pub limit: Option<u32>,
}

/// Ingests a batch of usage events.
#[utoipa::path(
    post, path = "/v1/events", tag = "monitoring",
    request_body = Vec<UsageEvent>,
    responses(
        (status = 200, description = "Recorded; `fired` lists the rules the batch fired", body = IngestResponse),
        (status = 403, description = "Key lacks the events scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "An event does not validate (`field` names it: `events[3].eid`)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["events"]))
)]
pub async fn ingest_events(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<Vec<UsageEvent>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    principal.require(Scope::Events)?;
    let Json(events) = body.map_err(json_rejection)?;
    if events.len() > MAX_EVENTS_PER_BATCH {
        return Err(invalid_field(
            "events",
            format!("at most {MAX_EVENTS_PER_BATCH} events per request"),
        ));
    }
    let now = state.clock.now();
    let mut parsed = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        // The problem's `field` names the event too: `events[3].eid`.
        let bad = |name: &'static str, reason: &dyn std::fmt::Display| {
            invalid_field(name, reason).with("field", format!("events[{index}].{name}"))
        };
        let eid = Eid::parse(&event.eid).map_err(|e| bad("eid", &e))?;
        let msisdn = Msisdn::parse(&event.msisdn).map_err(|e| bad("msisdn", &e))?;
        if event.at > now + Duration::minutes(5) || event.at < now - Duration::hours(24) {
            return Err(bad(
                "at",
                &"must be within the last 24 hours (and at most 5 minutes ahead)",
            ));
        }
        let amount = match (event.kind, event.bytes) {
            (UsageKind::DataUsage, Some(bytes)) => bytes,
            (UsageKind::DataUsage, None) => {
                return Err(bad("bytes", &"required for data_usage"));
            }
            _ => 1,
        };
        if let Some(region) = &event.region
            && (region.is_empty() || region.len() > 64 || region.chars().any(char::is_control))
        {
            return Err(bad("region", &"must be 1 to 64 printable characters"));
        }
        parsed.push((event, eid, msisdn, amount));
    }
    let mut fired = Vec::new();
    for (index, (event, eid, msisdn, amount)) in parsed.into_iter().enumerate() {
        let subscriber = sessions::subscriber_id(&state, &msisdn).await?;
        let rules = observe(
            &state,
            &principal.tenant,
            Observation {
                signal: event.kind.signal(),
                subscriber: &subscriber,
                keys: vec![
                    (KeyKind::Msisdn, msisdn.as_e164().to_owned()),
                    (KeyKind::Eid, eid.as_str().to_owned()),
                ],
                amount,
                at: Some(event.at),
            },
        )
        .await?;
        let mut rules = rules;
        if let Some(region) = &event.region {
            rules.extend(
                crate::risk::observe_sighting(
                    &state,
                    &principal.tenant,
                    crate::risk::Sighting {
                        subscriber: &subscriber,
                        msisdn: msisdn.as_e164(),
                        region,
                        at: event.at,
                        data_bytes: (event.kind == UsageKind::DataUsage).then_some(amount),
                    },
                )
                .await?,
            );
        }
        fired.extend(rules.into_iter().map(|rule| FiredRuleView {
            event: index,
            rule: rule.rule,
            action: rule.action,
        }));
    }
    Ok(Json(IngestResponse {
        accepted: events.len(),
        fired,
    }))
}

/// Lists the tenant's alerts.
#[utoipa::path(
    get, path = "/v1/alerts", tag = "monitoring",
    params(AlertQuery),
    responses(
        (status = 200, description = "Alerts, newest first", body = AlertList),
        (status = 400, description = "A query parameter that does not parse (`limit` not a number) or is unknown", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`status` is neither `open` nor `all`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<AlertQuery>,
) -> Result<Json<AlertList>, ApiError> {
    principal.require(Scope::Admin)?;
    let include_acked = match query.status.as_deref() {
        None | Some("open") => false,
        Some("all") => true,
        Some(_) => return Err(invalid_field("status", "must be open or all")),
    };
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let alerts = state
        .store
        .list_alerts(&principal.tenant, include_acked, limit)
        .await
        .map_err(store_error)?;
    Ok(Json(AlertList {
        alerts: alerts.into_iter().map(AlertView::from).collect(),
    }))
}

/// Acknowledges an alert.
#[utoipa::path(
    post, path = "/v1/alerts/{id}/ack", tag = "monitoring",
    params(("id" = String, Path, description = "Alert id")),
    responses(
        (status = 200, description = "Acknowledged", body = AlertView),
        (status = 403, description = "Key lacks the admin scope", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open alert for this tenant", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn ack_alert(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    principal.require(Scope::Admin)?;
    let now = state.clock.now();
    let tenant = &principal.tenant;
    if !state
        .store
        .ack_alert(tenant, &id, &principal.key_id, now)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::not_found("open alert"));
    }
    audit(
        &state,
        tenant,
        &principal.key_id,
        "alert.acknowledged",
        format!("alert:{id}"),
        json!({}),
    )
    .await?;
    let alert = state
        .store
        .find_alert(tenant, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    Ok(Json(alert.into()))
}
