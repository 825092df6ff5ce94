//! Problem details (RFC 9457) for every error the API returns.
//!
//! [`ApiError`] is the one error type handlers return. Domain errors are mapped here and nowhere
//! else: [`image_error`] and [`face_quality_error`] for biometrics, [`store_error`] for
//! persistence. [`problem_for_status`] turns errors produced by layers (timeouts, body limits,
//! unknown routes) into the same shape.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value};
use simgate_biometrics::{BiometricsError, quality::QualityReport};
use simgate_store::StoreError;

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    www_authenticate: bool,
    retry_after_secs: Option<u64>,
}

/// The body of a problem response, as documented in the OpenAPI schema.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem kind: `urn:simgate:problem:<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this request, for humans.
    pub detail: String,
}

impl ApiError {
    /// A problem with a stable `kind` slug, a fixed title and a request-specific detail.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            extensions: Map::new(),
            www_authenticate: false,
            retry_after_secs: None,
        }
    }

    /// Adds an extension member (e.g. which image field failed).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// 400 for malformed requests.
    pub fn bad_request(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, "Bad request", detail)
    }

    /// 401 with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        );
        error.www_authenticate = true;
        error
    }

    /// 403 when the key lacks the route's scope.
    pub fn missing_scope(scope: simgate_core::Scope) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Insufficient scope",
            format!("this API key lacks the '{scope}' scope"),
        )
        .with("required_scope", scope.as_str())
    }

    /// 404 for ids that do not exist for this tenant (other tenants' ids look the same).
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no such {what}"),
        )
    }

    /// 409 when another request changed the same record first; `detail` says what to retry.
    pub fn concurrent_update(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "concurrent-update",
            "Concurrent update",
            detail,
        )
    }

    /// 500 for failures the caller cannot fix; the cause is logged, not returned.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to handle the request; it has been logged",
        )
    }

    /// Adds a `Retry-After` header (whole seconds) and a `retry_after` member.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_secs = Some(seconds);
        self.with("retry_after", seconds)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert(
            "type".into(),
            format!("urn:simgate:problem:{}", self.kind).into(),
        );
        body.insert("title".into(), self.title.into());
        body.insert("status".into(), self.status.as_u16().into());
        body.insert("detail".into(), self.detail.into());
        body.extend(self.extensions);
        let mut response = (self.status, Value::Object(body).to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"simgate\""),
            );
        }
        if let Some(seconds) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Maps a biometrics failure on one named image field to a problem naming that field.
pub fn image_error(field: &'static str, error: BiometricsError) -> ApiError {
    use BiometricsError as E;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let problem = match &error {
        E::EmptyImage => ApiError::new(
            StatusCode::BAD_REQUEST,
            "empty-image",
            "Empty image",
            format!("the '{field}' image is empty"),
        ),
        E::ImageTooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "image-too-large",
            "Image too large",
            format!("the '{field}' image: {error}"),
        ),
        E::TooManyPixels { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "image-too-many-pixels",
            "Image has too many pixels",
            format!("the '{field}' image: {error}"),
        ),
        E::UnsupportedFormat => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-image-format",
            "Unsupported image format",
            format!("the '{field}' image is not JPEG, PNG or WebP"),
        ),
        E::CorruptImage(_) => ApiError::new(
            unprocessable,
            "corrupt-image",
            "Image cannot be decoded",
            format!("the '{field}' image cannot be decoded: {error}"),
        ),
        E::NoFace => ApiError::new(
            unprocessable,
            "no-face",
            "No face found",
            format!("no face was found in the '{field}' image"),
        ),
        E::MultipleFaces { count, boxes } => ApiError::new(
            unprocessable,
            "multiple-faces",
            "Several faces found",
            format!("the '{field}' image holds {count} faces; exactly one is required"),
        )
        .with("face_count", *count)
        .with("boxes", serde_json::to_value(boxes).unwrap_or_default()),
        E::InvalidRequest(_) => ApiError::new(
            unprocessable,
            "invalid-biometric-request",
            "Invalid biometric request",
            format!("the '{field}' input: {error}"),
        ),
        E::ModelLoad(_) | E::Inference(_) => return ApiError::internal(&error),
    };
    problem.with("image", field)
}

/// 422 `face_quality`: the quality gate failed on one or both images; `failures` pairs each
/// image field with its failed report, and every reason lands in the `reasons` member.
pub fn face_quality_error(failures: &[(&'static str, &QualityReport)]) -> ApiError {
    let reasons: Vec<Value> = failures
        .iter()
        .flat_map(|(field, report)| {
            report.reasons.iter().map(move |reason| {
                serde_json::json!({
                    "image": field,
                    "code": reason.code,
                    "hint": reason.hint,
                    "measured": reason.measured,
                    "threshold": reason.threshold,
                })
            })
        })
        .collect();
    let summary: Vec<String> = failures
        .iter()
        .map(|(field, report)| {
            let codes: Vec<&str> = report.reasons.iter().map(|r| r.code.as_str()).collect();
            format!("'{field}': {}", codes.join(", "))
        })
        .collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "face_quality",
        "Face quality too low",
        format!(
            "the face capture is not good enough to compare ({}); retake following the hints",
            summary.join("; ")
        ),
    )
    .with("reasons", Value::Array(reasons))
}

/// `Retry-After` seconds on a 503 while the database is unreachable.
pub const DATABASE_RETRY_AFTER_SECS: u64 = 2;

/// Maps a store failure: unavailability (the database down, restarting or dropping connections,
/// the pool timing out) is 503 with `Retry-After`, anything else 500.
pub fn store_error(error: StoreError) -> ApiError {
    if error.is_unavailable() {
        tracing::error!(error = %error, "database unavailable");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database-unavailable",
            "Database unavailable",
            "the database is not reachable; retry later",
        )
        .with_retry_after(DATABASE_RETRY_AFTER_SECS);
    }
    match error {
        StoreError::Conflict(what) => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!("a record with this {what} already exists"),
        ),
        other => ApiError::internal(&other),
    }
}

/// Maps a refused verification transition: 409, with the flow's reason code.
pub fn flow_error(error: simgate_flow::FlowError) -> ApiError {
    use simgate_flow::FlowError as E;
    let (kind, title) = match &error {
        E::IllegalTransition { .. } => ("illegal-transition", "Illegal transition"),
        E::Expired => ("verification-expired", "Verification expired"),
        E::StepNotRequired(_) => ("step-not-required", "Step not required"),
        E::StepAlreadyPassed(_) => ("step-already-passed", "Step already passed"),
        E::StepOutOfOrder { .. } => ("step-out-of-order", "Step out of order"),
        E::Unknown { .. } => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                error.to_string(),
            );
        }
        E::InvalidPolicy { .. } => return ApiError::internal(&error),
        E::ConsentRequired { missing } => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "consent-required",
                "Consent required",
                error.to_string(),
            )
            .with("field", "consent")
            .with(
                "missing_purposes",
                missing.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            );
        }
    };
    let mut problem = ApiError::new(StatusCode::CONFLICT, kind, title, error.to_string())
        .with("reason", error.reason_code());
    if let E::IllegalTransition { status, .. } = &error {
        problem = problem.with("verification_status", status.as_str());
    }
    problem
}

/// Maps a refused or failed second-factor operation; `reason` is the otp crate's reason code
/// (`wrong`, `expired`, `locked`, `replayed`, `rate_limited`, ...).
pub fn otp_error(error: simgate_otp::OtpError) -> ApiError {
    use simgate_otp::OtpError as E;
    let reason = error.reason_code();
    let problem = match &error {
        E::InvalidInput { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            error.to_string(),
        )
        .with("field", "code"),
        E::WrongCode | E::Expired | E::CodeLocked | E::Replayed => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "otp-refused",
            "Code refused",
            error.to_string(),
        ),
        E::SubscriberLocked { since } => ApiError::new(
            StatusCode::LOCKED,
            "otp-locked",
            "Second factor locked",
            "too many refused codes; an administrator must unlock, or a new verification must prove the subscriber again",
        )
        .with(
            "locked_since",
            since
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        ),
        E::RateLimited { limit, retry_after } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "otp-rate-limited",
            "Too many codes sent",
            error.to_string(),
        )
        .with("limit", limit.as_str())
        .with_retry_after(simgate_otp::retry_after_secs(*retry_after)),
        E::TotpNotActive => ApiError::new(
            StatusCode::CONFLICT,
            "totp-not-active",
            "TOTP not active",
            "the subscriber has no confirmed TOTP enrolment; enrol and confirm it first",
        ),
        E::TotpAlreadyActive => ApiError::new(
            StatusCode::CONFLICT,
            "totp-already-active",
            "TOTP already active",
            "the subscriber already has an active TOTP enrolment; an administrator must delete it first",
        ),
        E::GatewayUnavailable(_) | E::GatewayOutcomeUnknown(_) | E::GatewayRejected(_) => {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sms-unavailable",
                "SMS delivery unavailable",
                "the SMS could not be queued; retry later",
            )
        }
        E::QrCode(_) | E::Totp(_) => return ApiError::internal(&error),
    };
    problem.with("reason", reason)
}

/// Maps an SMS outbox failure: the outbox is the store, so this is an outage (503).
pub fn sms_error(error: simgate_sms::SmsError) -> ApiError {
    tracing::error!(%error, "SMS outbox unavailable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "sms-unavailable",
        "SMS delivery unavailable",
        "the SMS could not be queued; retry later",
    )
    .with("reason", error.reason_code())
}

/// 422 for a JSON or form field that does not validate.
pub fn invalid_field(field: &'static str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
        "Invalid field",
        format!("{field}: {detail}"),
    )
    .with("field", field)
}

/// A problem body for an error status produced outside a handler (layers, fallbacks).
pub fn problem_for_status(status: StatusCode) -> ApiError {
    let (kind, title, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "Not found", "no route matches this path"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this path does not accept this method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body-too-large",
            "Request body too large",
            "the request body exceeds the configured limit",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request-timeout",
            "Request timeout",
            "the request took longer than the configured timeout",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported-media-type",
            "Unsupported media type",
            "the request's content type is not accepted here",
        ),
        StatusCode::BAD_REQUEST => ("bad-request", "Bad request", "the request is malformed"),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "unprocessable",
            "Unprocessable request",
            "the request is well-formed but cannot be processed",
        ),
        s if s.is_server_error() => (
            "internal",
            "Internal error",
            "the server failed to handle the request",
        ),
        _ => ("http-error", "HTTP error", "the request failed"),
    };
    ApiError::new(status, kind, title, detail)
}

/// Turns an error response without a body, or with a plain-text one (what layers and axum's
/// extractor rejections answer), into a problem document with the same status, keeping its
/// `Allow`, `Retry-After` and `WWW-Authenticate` headers; any other response is returned as it
/// is (handlers' JSON: problems, `/readyz`).
pub fn problem_if_bare(response: Response) -> Response {
    let status = response.status();
    // Layers answer with no body or plain text; handlers' JSON (problems, /readyz) stays as it is.
    let is_bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|ct| ct.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_bare {
        return response;
    }
    let mut problem = problem_for_status(status).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            problem.headers_mut().insert(name, value.clone());
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn problems_are_typed_json_with_extensions() {
        let response = image_error(
            "probe",
            BiometricsError::MultipleFaces {
                count: 2,
                boxes: Vec::new(),
            },
        )
        .into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "urn:simgate:problem:multiple-faces");
        assert_eq!(json["status"], 422);
        assert_eq!(json["image"], "probe");
        assert_eq!(json["face_count"], 2);
        assert!(json["detail"].as_str().unwrap().contains("'probe'"));
    }

    /// Regression: a PostgreSQL outage surfaces as query errors (a dropped connection, the pool
    /// timing out, the server shutting down), not only as `Connect`; those answered 500.
    #[test]
    fn a_database_outage_is_503_with_retry_after_and_other_failures_stay_500() {
        let unavailable = [
            StoreError::Connect(sqlx::Error::PoolTimedOut),
            StoreError::Query(sqlx::Error::PoolTimedOut),
            StoreError::Query(sqlx::Error::PoolClosed),
            StoreError::Query(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ))),
        ];
        for error in unavailable {
            let what = error.to_string();
            let response = store_error(error).into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
            assert_eq!(
                response.headers()[header::RETRY_AFTER],
                DATABASE_RETRY_AFTER_SECS.to_string(),
                "{what}"
            );
        }
        for error in [
            StoreError::Query(sqlx::Error::RowNotFound),
            StoreError::CorruptRow("x".into()),
        ] {
            let response = store_error(error).into_response();
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(!response.headers().contains_key(header::RETRY_AFTER));
        }
    }

    #[test]
    fn unauthorized_carries_a_bearer_challenge() {
        let response = ApiError::unauthorized("missing key").into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"simgate\""
        );
    }
}
