//! Liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`).

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    error::ApiError,
    state::{AppState, ModelStatus, PadStatus},
};

/// Liveness answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves HTTP.
    pub status: &'static str,
}

/// Readiness answer: overall status and each dependency's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// The database check: `ok` or the reason it failed.
    pub database: String,
    /// The face models: `ok`, `loading` or the reason loading failed.
    pub models: String,
    /// Face detector in use, once loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    /// Face recogniser in use, once loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recogniser: Option<String>,
    /// Passive PAD: `not_configured`, `loading`, `ok` or the reason loading failed. A
    /// configured PAD that is not loaded keeps the service not ready.
    pub pad: String,
    /// PAD models in use, once loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pad_models: Option<Vec<String>>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The process can serve verifications: database reachable, models (and PAD, if configured)
/// loaded.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness))
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(error)) => format!("unreachable: {error}"),
        Err(_) => "unreachable: no answer within 2 s".to_owned(),
    };
    let (models, info) = match state.faces.status() {
        ModelStatus::Ready => (
            "ok".to_owned(),
            state.faces.engine().map(|engine| engine.model_info()),
        ),
        ModelStatus::Loading => ("loading".to_owned(), None),
        ModelStatus::Failed(reason) => (format!("failed: {reason}"), None),
    };
    let (pad, pad_models) = match state.faces.pad_status() {
        PadStatus::NotConfigured => ("not_configured".to_owned(), None),
        PadStatus::Loading => ("loading".to_owned(), None),
        PadStatus::Ready(ids) => ("ok".to_owned(), Some(ids)),
        PadStatus::Failed(reason) => (format!("failed: {reason}"), None),
    };
    let ready =
        database == "ok" && models == "ok" && matches!(pad.as_str(), "ok" | "not_configured");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database,
        models,
        detector: info.as_ref().map(|i| i.detector.clone()),
        recogniser: info.map(|i| i.recogniser),
        pad,
        pad_models,
    };
    (status, Json(body))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(error) => ApiError::internal(&error).into_response(),
    }
}
