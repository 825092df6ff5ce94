//! The simgate HTTP API: the only crate that knows HTTP.
//!
//! - [`config`]: typed settings (file, env, `*_FILE` secrets).
//! - [`startup`]: building the app (store, models, listener) and running it with graceful shutdown.
//! - [`routes`]: handlers, one module per resource.
//! - [`admission`]: the bounded inference queue (503 + `Retry-After` when full).
//! - [`auth`]: API-key bearer authentication and scopes; [`rate_limit`]: per-caller token buckets;
//!   [`linger`]: refused uploads are drained, so clients read the refusal, not a reset.
//! - [`signing_keys`]: activation-token signing-key rotation and loading (JWKS, CLI).
//! - [`sessions`]: loading and saving verification sessions; [`idempotency`]: `Idempotency-Key`
//!   on every POST; [`webhooks`]: signed callbacks delivered from the outbox.
//! - [`risk`]: the risk engine (events, rule windows, alerts, actions); [`retention`]: how long
//!   records are kept and the cutoffs of `simgate purge`.
//! - [`incident`]: audit-chain entries for security-relevant actions and the frozen-subscriber
//!   check.
//! - [`second_factor`]: OTP settings, the SMS-code key and the SMS delivery worker.
//! - [`error`]: problem+json (RFC 9457) for every error path; the only place domain errors meet
//!   status codes.
//! - [`metrics`], [`telemetry`], [`openapi`]: Prometheus, logs, the OpenAPI document.

pub mod admission;
pub mod auth;
pub mod config;
pub mod error;
pub mod idempotency;
pub mod incident;
pub mod linger;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod retention;
pub mod risk;
pub mod routes;
pub mod second_factor;
pub mod sessions;
pub mod signing_keys;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod webhooks;

pub use config::Settings;
pub use startup::{Application, Overrides, StartupError};
