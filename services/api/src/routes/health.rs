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
    state::{AppState, ModelStatus},
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
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The process can serve verifications: database reachable and models loaded.
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
    let ready = database == "ok" && models == "ok";
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
