//! Bearer API-key authentication.
//!
//! [`Principal`] is an extractor: it reads `Authorization: Bearer <key>`, hashes the key and looks
//! the hash up in the store. Handlers then call [`Principal::require`] with the one scope their
//! route needs, or, on verification-session routes, [`Principal::session_access`]: a `kiosk` key
//! (the credential a browser or app holds) runs only the sessions it opened. The principal's
//! tenant scopes every store query, so a key never reaches another tenant's rows.

use axum::{extract::FromRequestParts, http::request::Parts};
use simgate_core::{Scope, ScopeSet, TenantId, api_key::hash_api_key};

use crate::{
    error::{ApiError, store_error},
    state::AppState,
};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Id of the key used.
    pub key_id: String,
    /// The tenant the key belongs to.
    pub tenant: TenantId,
    /// What the key may do.
    pub scopes: ScopeSet,
}

/// Which verification sessions a key may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAccess {
    /// Every session of the tenant (scope `verify`).
    Tenant,
    /// Only the sessions this key opened (scope `kiosk` without `verify`).
    OpenedBy(String),
}

impl SessionAccess {
    /// Whether a session opened by `opener` (a key id; none for sessions stored before keys were
    /// recorded) is within reach.
    pub fn reaches(&self, opener: Option<&str>) -> bool {
        match self {
            SessionAccess::Tenant => true,
            SessionAccess::OpenedBy(key_id) => opener == Some(key_id.as_str()),
        }
    }
}

impl Principal {
    /// The verification sessions the key may run: all of the tenant's with `verify`, its own
    /// with `kiosk`; 403 naming `verify` otherwise.
    pub fn session_access(&self) -> Result<SessionAccess, ApiError> {
        if self.scopes.contains(Scope::Verify) {
            Ok(SessionAccess::Tenant)
        } else if self.scopes.contains(Scope::Kiosk) {
            Ok(SessionAccess::OpenedBy(self.key_id.clone()))
        } else {
            Err(ApiError::missing_scope(Scope::Verify))
        }
    }

    /// Fails with 403 unless the key holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }
}

/// Upper bound on a presented key's length; anything longer is not one of ours.
const MAX_PRESENTED_KEY_LEN: usize = 256;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Set by a middleware that already authenticated this request (Idempotency-Key).
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("send an API key as 'Authorization: Bearer <key>'")
            })?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("the Authorization header is not valid text"))?;
        let (scheme, key) = value.split_once(' ').ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be 'Bearer <key>'")
        })?;
        let key = key.trim();
        if !scheme.eq_ignore_ascii_case("bearer")
            || key.is_empty()
            || key.len() > MAX_PRESENTED_KEY_LEN
        {
            return Err(ApiError::unauthorized(
                "the Authorization header must be 'Bearer <key>'",
            ));
        }
        let record = state
            .store
            .find_active_api_key(&hash_api_key(key))
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::unauthorized("the API key is unknown or revoked"))?;
        // Known good from now on, so the limit on refused keys never holds this one back.
        state
            .rate_limiter
            .note_authenticated(&crate::rate_limit::authorization_hash(value));
        Ok(Principal {
            key_id: record.id,
            tenant: record.tenant,
            scopes: record.scopes,
        })
    }
}
