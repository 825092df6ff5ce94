//! HTTP handlers, one module per resource. Each handler authenticates with
//! [`Principal`](crate::auth::Principal), checks its scope, parses input into domain types and maps
//! domain errors through [`crate::error`].

pub mod api_keys;
pub mod documents;
pub mod faces;
pub mod health;
pub mod incident;
pub mod jwks;
pub mod kiosk;
pub mod monitoring;
pub mod multipart;
pub mod otp;
pub mod security_check;
pub mod tokens;
pub mod verifications;
