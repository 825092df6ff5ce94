//! Incident-response glue shared by the handlers: appending security-relevant actions to the
//! hash-chained audit log, and refusing frozen subscribers.
//!
//! Audit entries name subscribers by their keyed-hash id (`subscriber:<id>`), never by MSISDN,
//! so the log can be kept and shipped without personal data.

use axum::http::StatusCode;
use simgate_core::TenantId;
use simgate_store::incident::NewAuditEntry;
use simgate_tokens::SubscriberId;

use crate::{
    error::{ApiError, store_error},
    state::AppState,
};

/// The audit subject for a subscriber.
pub fn subscriber_subject(subscriber: &SubscriberId) -> String {
    format!("subscriber:{}", subscriber.as_str())
}

/// Appends `action` by `actor` on `subject` to the audit chain.
pub async fn audit(
    state: &AppState,
    tenant: &TenantId,
    actor: &str,
    action: &str,
    subject: String,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = NewAuditEntry {
        tenant: tenant.clone(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject,
        details: details.to_string(),
    };
    state
        .store
        .append_audit(&entry, state.clock.now())
        .await
        .map_err(store_error)?;
    Ok(())
}

/// 403 `subscriber-frozen` when the subscriber is frozen: no new verification, no token.
pub async fn ensure_not_frozen(
    state: &AppState,
    tenant: &TenantId,
    subscriber: &SubscriberId,
) -> Result<(), ApiError> {
    let freeze = state
        .store
        .subscriber_freeze(tenant, subscriber.as_str())
        .await
        .map_err(store_error)?;
    match freeze {
        None => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "subscriber-frozen",
            "Subscriber frozen",
            "this subscriber is frozen by the carrier's incident response; no verification or \
             activation until it is lifted",
        )),
    }
}
