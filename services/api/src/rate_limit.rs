//! Request rate limiting per caller, before authentication touches the database.
//!
//! A token bucket per caller: the caller is the SHA-256 of the presented bearer key when there is
//! one, else the client IP. Buckets live in this replica's memory, so with N replicas a caller
//! gets up to N times the configured rate; the limit protects each process (and the database
//! behind it) from floods, while per-subscriber limits that must hold across replicas (OTP sends,
//! code attempts) live in the store. Over the limit: 429 problem+json with `Retry-After`.
//!
//! A caller could dodge its key's bucket by presenting a new made-up key with every request (each
//! costing a database lookup before its 401). So keys that fail to authenticate are also charged
//! to their client address, in a bucket of the same rate: once an address has spent it, requests
//! from it carrying a key not seen authenticating recently get 429 before any lookup. Keys that
//! authenticated recently pass, so a working kiosk behind the same NAT or ingress as the attacker
//! keeps working; a new key from that address waits until the refusals stop.

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
    /// Hashes of keys that authenticated recently (bounded; cleared when full).
    authenticated: Mutex<std::collections::HashSet<String>>,
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
            authenticated: Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Whether `caller`'s bucket is empty now, and if so how long until a token is back
    /// (nothing is taken).
    fn exhausted(&self, caller: &str, now: Instant) -> Option<Duration> {
        if self.rate_per_sec <= 0.0 {
            return None;
        }
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.get(caller)?;
        let tokens = (bucket.tokens
            + now.duration_since(bucket.updated).as_secs_f64() * self.rate_per_sec)
            .min(self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.rate_per_sec))
    }

    /// Remembers that the `Authorization` value with this hash ([`presented_key_hash`])
    /// authenticated; called by the authentication itself, never from a response status (an
    /// unknown route answers 404 to any key).
    pub fn note_authenticated(&self, key_hash: &str) {
        let mut known = self
            .authenticated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.len() >= MAX_TRACKED_CALLERS && !known.contains(key_hash) {
            known.clear();
        }
        known.insert(key_hash.to_owned());
    }

    /// Forgets a key that was refused (revoked since it last authenticated).
    fn forget_authenticated(&self, key_hash: &str) {
        self.authenticated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key_hash);
    }

    fn recently_authenticated(&self, key_hash: &str) -> bool {
        self.authenticated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(key_hash)
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
    let limiter = &state.rate_limiter;
    let now = Instant::now();
    let key_hash = presented_key_hash(&request);
    let refused_keys = format!("refused-keys:{}", peer_identity(&request));
    if let Some(key_hash) = &key_hash
        && !limiter.recently_authenticated(key_hash)
        && let Some(wait) = limiter.exhausted(&refused_keys, now)
    {
        return too_many_requests(wait);
    }
    let caller = key_hash.as_ref().map_or_else(
        || format!("ip:{}", peer_identity(&request)),
        |hash| format!("key:{hash}"),
    );
    if let Err(wait) = limiter.try_acquire(&caller, now) {
        return too_many_requests(wait);
    }
    let response = next.run(request).await;
    if let Some(key_hash) = &key_hash
        && response.status() == StatusCode::UNAUTHORIZED
    {
        limiter.forget_authenticated(key_hash);
        // Spent whether or not a token is left: the next refused key from here finds the
        // bucket as this one left it.
        let _ = limiter.try_acquire(&refused_keys, now);
    }
    response
}

/// 429 `rate-limited` with `Retry-After` in whole seconds (at least 1).
fn too_many_requests(wait: Duration) -> Response {
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

/// The hash of the presented `Authorization` value, if any (never the key itself).
fn presented_key_hash(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(authorization_hash)
}

/// The identity the limiter gives an `Authorization` header value.
pub fn authorization_hash(value: &str) -> String {
    hash_api_key(value.trim())
}

/// The TCP peer's address.
fn peer_identity(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string())
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

    #[test]
    fn an_emptied_bucket_reports_its_wait_without_taking_a_token() {
        let limiter = RateLimiter::new(2.0, 2);
        let start = Instant::now();
        assert_eq!(
            limiter.exhausted("a", start),
            None,
            "an unseen caller is not limited"
        );
        limiter.try_acquire("a", start).unwrap();
        assert_eq!(limiter.exhausted("a", start), None);
        limiter.try_acquire("a", start).unwrap();
        let wait = limiter.exhausted("a", start).unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert_eq!(
            limiter.exhausted("a", start + Duration::from_millis(500)),
            None
        );
    }

    #[test]
    fn a_refused_key_forgets_that_it_once_authenticated() {
        let limiter = RateLimiter::new(2.0, 2);
        assert!(!limiter.recently_authenticated("h"));
        limiter.note_authenticated("h");
        assert!(limiter.recently_authenticated("h"));
        limiter.forget_authenticated("h");
        assert!(
            !limiter.recently_authenticated("h"),
            "a revoked key loses its pass"
        );
    }
}
