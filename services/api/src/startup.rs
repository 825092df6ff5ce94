//! Building and running the application.
//!
//! [`Application::build`] connects the store (migrating when configured), binds the listener and
//! starts loading the face models in the background, so `/healthz` answers at once and `/readyz`
//! turns green when the models are in. [`Application::run_until_stopped`] serves until the
//! shutdown future the caller passes in completes, then lets in-flight requests finish within
//! the configured grace period. [`build_router`] is the whole HTTP surface and its layers.
//!
//! Connections are served by hyper's HTTP/1 server directly (not `axum::serve`) so they get a
//! header-read timeout: a client that trickles its headers (slow-loris) is cut off after
//! `server.header_read_timeout_secs` instead of holding a connection forever; bodies are bounded
//! by the request timeout layer.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::{HeaderName, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use simgate_biometrics::{
    engine::{FaceEngine, OrtFaceEngine},
    pad::OrtPadEngine,
};
use simgate_core::{Clock, SystemClock};
use simgate_store::{SqlStore, Store};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceBuilder;
use tower_http::{
    LatencyUnit,
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use utoipa::OpenApi as _;
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    config::Settings,
    error::problem_for_status,
    metrics::{Metrics, track_http_metrics},
    openapi::ApiDoc,
    routes::{
        api_keys, documents, faces, health, incident, jwks, kiosk, monitoring, otp, security_check,
        tokens, verifications,
    },
    state::{AppState, FaceModels, PadSlot},
};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Database connection or migration failed.
    #[error(transparent)]
    Store(#[from] simgate_store::StoreError),
    /// The listener could not bind.
    #[error("cannot bind {address}: {source}")]
    Bind {
        /// The address tried.
        address: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Metrics registration failed.
    #[error("metrics set-up failed: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The SMS gateway or outbox worker settings do not build.
    #[error("SMS delivery set-up failed: {0}")]
    Sms(#[from] simgate_sms::SmsError),
    /// The second-factor settings do not build.
    #[error("second-factor set-up failed: {0}")]
    Otp(#[from] simgate_otp::OtpError),
}

/// Replacements for the production dependencies (tests use these; `main` passes the default).
#[derive(Default)]
pub struct Overrides {
    /// A clock other than the system clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// An already-loaded face engine instead of loading from `models`.
    pub face_engine: Option<Arc<dyn FaceEngine>>,
    /// An SMS gateway instead of the one `[sms]` configures.
    pub sms_gateway: Option<Arc<dyn simgate_otp::SmsGateway>>,
}

/// A bound, not yet serving, application.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    grace: Duration,
    header_read_timeout: Duration,
}

impl Application {
    /// Builds with production dependencies.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Overrides::default()).await
    }

    /// Builds with some dependencies replaced.
    pub async fn build_with(
        settings: Settings,
        overrides: Overrides,
    ) -> Result<Self, StartupError> {
        let store = SqlStore::connect(&simgate_store::DatabaseSettings {
            url: settings.database.url.clone(),
            max_connections: settings.database.max_connections,
            acquire_timeout: Duration::from_secs(settings.database.acquire_timeout_secs),
        })
        .await?
        .with_data_keys(
            crate::signing_keys::data_keys(&settings.encryption)
                .map_err(simgate_store::StoreError::from)?,
        );
        if settings.database.migrate_on_start {
            store.migrate().await?;
        }
        let faces = Arc::new(FaceModels::default());
        if !settings.faces.pad.is_configured() {
            // Known at once, so readiness does not wait for a loader that has nothing to load.
            faces.set_pad(PadSlot::NotConfigured);
        }
        match overrides.face_engine {
            Some(engine) => {
                faces.set(Ok(engine));
                spawn_pad_loader(&settings, Arc::clone(&faces));
            }
            None => spawn_model_loader(&settings, Arc::clone(&faces)),
        }
        let clock: Arc<dyn Clock> = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let store = Arc::new(store);
        let sms_gateway = match overrides.sms_gateway {
            Some(gateway) => gateway,
            None => settings.sms.gateway(Arc::clone(&clock))?,
        };
        let sms_worker = Arc::new(simgate_sms::OutboxWorker::new(
            Arc::clone(&store) as Arc<dyn simgate_sms::SmsOutbox>,
            sms_gateway,
            Arc::clone(&clock),
            settings.sms.worker_settings()?,
        ));
        let state = AppState {
            second_factor: Arc::new(crate::second_factor::SecondFactor::new(
                settings.otp.build()?,
                sms_worker,
            )),
            store: store as Arc<dyn Store>,
            clock,
            faces,
            metrics: Arc::new(Metrics::new()?),
            settings: Arc::new(settings.clone()),
            rate_limiter: Arc::new(crate::rate_limit::RateLimiter::new(
                settings.server.rate_limit_per_sec,
                settings.server.rate_limit_burst,
            )),
            subscriber_key: Arc::new(tokio::sync::OnceCell::new()),
            risk_key: Arc::new(tokio::sync::OnceCell::new()),
            inference_gate: Arc::new(crate::admission::InferenceGate::new(
                settings.faces.max_in_flight,
                settings.faces.max_queued,
                Duration::from_secs(settings.faces.busy_retry_after_secs),
            )),
        };
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|source| StartupError::Bind {
                address: address.clone(),
                source,
            })?;
        Ok(Self {
            router: build_router(state.clone()),
            listener,
            state,
            grace: Duration::from_secs(settings.server.shutdown_grace_secs),
            header_read_timeout: Duration::from_secs(settings.server.header_read_timeout_secs),
        })
    }

    /// The bound port (useful when configured as 0).
    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// The state handlers see (tests inspect metrics and models through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting and waits for in-flight requests,
    /// at most the grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Ok(address) = self.listener.local_addr() {
            tracing::info!(%address, "listening");
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutdown requested; finishing in-flight requests");
            let _ = stop_tx.send(true);
        });
        tokio::spawn(crate::webhooks::run_webhook_worker(
            self.state.clone(),
            stop_rx.clone(),
        ));
        let sms_worker = Arc::clone(&self.state.second_factor.sms_worker);
        let mut sms_stop = stop_rx.clone();
        tokio::spawn(async move {
            sms_worker
                .run(async move {
                    let _ = sms_stop.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let serve = serve_connections(
            self.listener,
            self.router,
            self.header_read_timeout,
            stop_rx.clone(),
        );
        let mut deadline = stop_rx;
        let grace = self.grace;
        tokio::select! {
            result = serve => {
                tracing::info!("server stopped");
                result
            }
            _ = async move {
                let _ = deadline.wait_for(|stop| *stop).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "grace period over; abandoning remaining requests");
                Ok(())
            }
        }
    }
}

/// Logs a server failure at ERROR, except a 503: that is the answer the service gives by design
/// when it sheds load (inference queue full) or its database is away, always with Retry-After,
/// and the response line and the metrics already record it. Logging each at ERROR flooded the
/// error log under overload (the soak test saw one line per shed request).
fn log_server_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass;
    if let ServerErrorsFailureClass::StatusCode(status) = class
        && status == StatusCode::SERVICE_UNAVAILABLE
    {
        return;
    }
    tracing::error!(classification = %class, latency_ms = latency.as_millis() as u64, "response failed");
}

/// Accepts connections until `stop` turns true, serving each with hyper's HTTP/1 server (keep-
/// alive and the header-read timeout), then waits for the open connections to finish
/// their current request (the caller bounds the wait by the grace period).
async fn serve_connections(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::Service as _;

    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // The guard `wait_for` returns is not Send: drop it inside the branch's future.
            () = async { let _ = stop.wait_for(|stop| *stop).await; } => break,
        };
        // Small answers go out at once rather than waiting for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let Ok(service) = make_service.call(remote).await;
        let hyper_service = hyper::service::service_fn(move |request| {
            let mut service = service.clone();
            service.call(request)
        });
        // No route upgrades the connection (no WebSocket), so plain HTTP/1 connections suffice.
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), hyper_service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Header timeouts, resets and malformed requests end up here; none is ours.
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn spawn_model_loader(settings: &Settings, faces: Arc<FaceModels>) {
    let config = settings.models.engine_config();
    let pad_settings = settings.clone();
    let pad_faces = Arc::clone(&faces);
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let loaded = OrtFaceEngine::load(&config);
        // PAD shares the ONNX Runtime environment the face engine just created.
        load_pad(&pad_settings, &pad_faces);
        match loaded {
            Ok(engine) => {
                let info = engine.model_info();
                tracing::info!(detector = %info.detector, recogniser = %info.recogniser, elapsed_ms = started.elapsed().as_millis() as u64, "face models loaded");
                faces.set(Ok(Arc::new(engine)));
            }
            Err(error) => {
                tracing::error!(%error, "face models failed to load; /readyz stays red");
                faces.set(Err(error.to_string()));
            }
        }
    });
}

/// Loads the optional PAD models in the background (the face engine is already there).
fn spawn_pad_loader(settings: &Settings, faces: Arc<FaceModels>) {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || load_pad(&settings, &faces));
}

/// Loads the PAD models named in `faces.pad.models`, recording the outcome in `faces`.
fn load_pad(settings: &Settings, faces: &FaceModels) {
    let pad = &settings.faces.pad;
    if !pad.is_configured() {
        tracing::info!("passive PAD not configured (faces.pad.models is empty)");
        return;
    }
    match OrtPadEngine::load(pad, &settings.models.ort_dylib) {
        Ok(engine) => {
            tracing::info!(models = ?pad.models, "PAD models loaded");
            faces.set_pad(PadSlot::Loaded(Arc::new(engine)));
        }
        Err(error) => {
            tracing::error!(%error, "PAD models failed to load; /readyz stays red");
            faces.set_pad(PadSlot::Failed(error.to_string()));
        }
    }
}

/// The whole HTTP surface with its layers.
pub fn build_router(state: AppState) -> Router {
    let server = &state.settings.server;
    let body_limit = server.request_body_limit_bytes;
    let timeout = Duration::from_secs(server.request_timeout_secs);
    let request_id = HeaderName::from_static("x-request-id");

    let v1 = Router::new()
        .route("/v1/faces/compare", post(faces::compare_faces))
        .route(
            "/v1/documents/check",
            post(documents::check_document_upload),
        )
        .route(
            "/v1/api-keys",
            get(api_keys::list_api_keys).post(api_keys::create_api_key),
        )
        .route("/v1/api-keys/{id}", delete(api_keys::revoke_api_key))
        .route(
            "/v1/verifications",
            post(verifications::create_verification),
        )
        .route(
            "/v1/verifications/{id}",
            get(verifications::get_verification),
        )
        .route(
            "/v1/verifications/{id}/document",
            post(verifications::submit_document),
        )
        .route(
            "/v1/verifications/{id}/security-check",
            get(security_check::security_check),
        )
        .route(
            "/v1/verifications/{id}/selfie",
            post(verifications::submit_selfie),
        )
        .route(
            "/v1/verifications/{id}/activation",
            post(verifications::issue_activation),
        )
        .route("/v1/verifications/{id}/otp", post(otp::start_otp))
        .route("/v1/verifications/{id}/otp/verify", post(otp::verify_otp))
        .route(
            "/v1/subscribers/{msisdn}/totp",
            post(otp::enrol_totp).delete(otp::delete_totp_enrolment),
        )
        .route(
            "/v1/subscribers/{msisdn}/totp/confirm",
            post(otp::confirm_totp),
        )
        .route(
            "/v1/subscribers/{msisdn}/otp/unlock",
            post(otp::unlock_second_factor),
        )
        .route(
            "/v1/subscribers/{msisdn}",
            axum::routing::delete(incident::erase_subscriber),
        )
        .route(
            "/v1/subscribers/{msisdn}/freeze",
            post(incident::freeze_subscriber).delete(incident::unfreeze_subscriber),
        )
        .route(
            "/v1/subscribers/{msisdn}/tokens/revoke",
            post(incident::revoke_subscriber_tokens),
        )
        .route(
            "/v1/subscribers/{msisdn}/timeline",
            get(incident::subscriber_timeline),
        )
        .route(
            "/v1/subscribers/{msisdn}/reverify",
            post(incident::require_reverification),
        )
        .route("/v1/events", post(monitoring::ingest_events))
        .route("/v1/alerts", get(monitoring::list_alerts))
        .route("/v1/alerts/{id}/ack", post(monitoring::ack_alert))
        .route("/v1/tokens/introspect", post(tokens::introspect_token))
        .route("/v1/tokens/revoke", post(tokens::revoke_token))
        .route("/v1/tokens/redeem", post(tokens::redeem_token))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::honour_idempotency_key,
        ))
        // Only the API is rate limited: probes and metrics scrapes must answer under any load.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::rate_limit::limit_request_rate,
        ));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/.well-known/jwks.json", get(jwks::jwks))
        // Static files only (the page calls /v1 with its own key), so outside the v1 layers.
        .route("/kiosk", get(kiosk::kiosk_page))
        .route("/kiosk/assets/{file}", get(kiosk::kiosk_asset))
        .merge(v1)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(|| async { problem_for_status(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async {
            problem_for_status(StatusCode::METHOD_NOT_ALLOWED)
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            track_http_metrics,
        ))
        .layer(
            ServiceBuilder::new()
                // Outermost, so a body refused by any inner layer or handler is drained too.
                .layer(middleware::from_fn(crate::linger::linger_on_unread_body))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_request_span)
                        .on_response(
                            DefaultOnResponse::new()
                                .level(tracing::Level::INFO)
                                .latency_unit(LatencyUnit::Millis),
                        )
                        .on_failure(log_server_failure),
                )
                .layer(CatchPanicLayer::custom(|_| {
                    problem_for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                }))
                .layer(middleware::from_fn(bare_errors_as_problems))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    timeout,
                ))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

/// The request span: method, route template (never the raw path or query, which may carry
/// identifiers) and request id.
fn make_request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |path| path.as_str());
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// Gives error responses produced by layers (timeout, body limit) the problem+json shape.
async fn bare_errors_as_problems(request: Request, next: Next) -> Response {
    crate::error::problem_if_bare(next.run(request).await)
}
