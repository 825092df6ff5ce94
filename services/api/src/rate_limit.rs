//! Request rate limiting per caller, before authentication touches the database.
//!
//! A token bucket per caller: the caller is the SHA-256 of the presented bearer key when there is
//! one, else the client IP. Buckets live in this replica's memory, so with N replicas a caller
//! gets up to N times the configured rate; the limit protects each process (and the database
//! behind it) from floods, while per-subscriber limits that must hold across replicas (OTP sends,
//! code attempts) live in the store. Over the limit: 429 problem+json with `Retry-After`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use simgate_core::api_key::hash_api_key;

use crate::{error::ApiError, state::AppState};

/// Buckets kept at most; beyond this, full (idle) buckets are dropped first.
const MAX_TRACKED_CALLERS: usize = 100_000;

/// Token buckets keyed by caller.
#[derive(Debug)]
pub struct RateLimiter {
    rate_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `rate_per_sec` sustained with bursts of `burst`; a rate of 0 disables limiting.
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        Self {
            rate_per_sec,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `caller`; on refusal, how long until one is available.
    pub fn try_acquire(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        if self.rate_per_sec <= 0.0 {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_TRACKED_CALLERS && !buckets.contains_key(caller) {
            let (rate, burst) = (self.rate_per_sec, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(caller.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.rate_per_sec;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.rate_per_sec,
            ))
        }
    }
}

/// Middleware: refuses callers over their rate with 429 and `Retry-After` (whole seconds, >= 1).
pub async fn limit_request_rate(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let caller = caller_identity(&request);
    match state.rate_limiter.try_acquire(&caller, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let retry_after = u64::try_from(wait.as_millis().div_ceil(1000))
                .unwrap_or(u64::MAX)
                .max(1);
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("request rate exceeded; retry after {retry_after} s"),
            )
            .with("retry_after", retry_after)
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// The key hash for authenticated calls (never the key itself), else the peer address.
fn caller_identity(request: &Request) -> String {
    if let Some(value) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return format!("key:{}", hash_api_key(value.trim()));
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(
            || "ip:unknown".to_owned(),
            |info| format!("ip:{}", info.0.ip()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_the_configured_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.try_acquire("a", start).is_ok());
        }
        let wait = limiter.try_acquire("a", start).unwrap_err();
        assert!(
            (wait.as_secs_f64() - 0.5).abs() < 1e-6,
            "one token every 0.5 s: {wait:?}"
        );
        assert!(
            limiter.try_acquire("b", start).is_ok(),
            "callers are independent"
        );
        assert!(
            limiter
                .try_acquire("a", start + Duration::from_millis(500))
                .is_ok()
        );
        assert!(
            limiter
                .try_acquire("a", start + Duration::from_millis(500))
                .is_err()
        );
        assert!(
            limiter
                .try_acquire("a", start + Duration::from_secs(60))
                .is_ok(),
            "refill caps at the burst"
        );
    }

    #[test]
    fn a_zero_rate_disables_limiting() {
        let limiter = RateLimiter::new(0.0, 1);
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(limiter.try_acquire("a", now).is_ok());
        }
    }
}
