//! Prometheus instruments, one registry per application (no process-global state, so tests can
//! run several servers in one process), and the middleware that counts every request.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::state::AppState;

/// Every instrument the service exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route template and status.
    pub http_requests_total: IntCounterVec,
    /// Request latency by method and route template.
    pub http_request_duration_seconds: HistogramVec,
    /// Face comparisons by outcome (`match`, `no_match`, or an error kind).
    pub face_compare_total: IntCounterVec,
    /// Inference calls currently running (an HPA custom metric).
    pub inference_in_flight: IntGauge,
    /// Compares admitted but waiting for an inference slot.
    pub inference_queued: IntGauge,
    /// Time spent in detection + embedding for one compare.
    pub inference_duration_seconds: Histogram,
    /// Verification decisions by channel and status.
    pub verification_decisions_total: IntCounterVec,
    /// Webhook delivery attempts by outcome.
    pub webhook_deliveries_total: IntCounterVec,
    /// SMS code send requests by outcome (`queued`, `rate_limited`).
    pub otp_sends: IntCounterVec,
    /// Second-factor code checks by outcome (`accepted`, `wrong`, `expired`, `replayed`, ...).
    pub otp_verifications: IntCounterVec,
    /// Risk alerts raised by rule and severity.
    pub risk_alerts: IntCounterVec,
}

impl Metrics {
    /// Creates and registers every instrument.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("simgate".into()), None)?;
        let http_requests_total = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            &["method", "route"],
        )?;
        let face_compare_total = IntCounterVec::new(
            Opts::new("face_compare_total", "Face comparisons by outcome"),
            &["outcome"],
        )?;
        let inference_in_flight =
            IntGauge::new("inference_in_flight", "Face inference calls running now")?;
        let inference_queued = IntGauge::new(
            "inference_queued",
            "Face compares waiting for an inference slot",
        )?;
        let inference_duration_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "inference_duration_seconds",
                "Detection and embedding time for one compare",
            )
            .buckets(vec![0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2]),
        )?;
        let verification_decisions_total = IntCounterVec::new(
            Opts::new(
                "verification_decisions_total",
                "Verification decisions by channel and status",
            ),
            &["channel", "status"],
        )?;
        let webhook_deliveries_total = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome",
            ),
            &["outcome"],
        )?;
        let otp_sends = IntCounterVec::new(
            Opts::new("otp_sms_sends_total", "SMS code send requests by outcome"),
            &["outcome"],
        )?;
        let otp_verifications = IntCounterVec::new(
            Opts::new(
                "otp_verifications_total",
                "Second-factor code checks by outcome",
            ),
            &["outcome"],
        )?;
        let risk_alerts = IntCounterVec::new(
            Opts::new(
                "risk_alerts_total",
                "Risk alerts raised by rule and severity",
            ),
            &["rule", "severity"],
        )?;
        registry.register(Box::new(risk_alerts.clone()))?;
        registry.register(Box::new(otp_sends.clone()))?;
        registry.register(Box::new(otp_verifications.clone()))?;
        registry.register(Box::new(verification_decisions_total.clone()))?;
        registry.register(Box::new(webhook_deliveries_total.clone()))?;
        registry.register(Box::new(http_requests_total.clone()))?;
        registry.register(Box::new(http_request_duration_seconds.clone()))?;
        registry.register(Box::new(face_compare_total.clone()))?;
        registry.register(Box::new(inference_in_flight.clone()))?;
        registry.register(Box::new(inference_queued.clone()))?;
        registry.register(Box::new(inference_duration_seconds.clone()))?;
        Ok(Self {
            registry,
            http_requests_total,
            http_request_duration_seconds,
            face_compare_total,
            inference_in_flight,
            inference_queued,
            inference_duration_seconds,
            verification_decisions_total,
            webhook_deliveries_total,
            otp_sends,
            otp_verifications,
            risk_alerts,
        })
    }

    /// The Prometheus text exposition of every instrument.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Middleware counting requests by route template (never the raw path: ids would explode cardinality).
pub async fn track_http_metrics(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    metrics
        .http_request_duration_seconds
        .with_label_values(&[&method, &route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http_requests_total
        .with_label_values(&[method.as_str(), route.as_str(), response.status().as_str()])
        .inc();
    response
}
