//! Incident-response glue shared by the handlers and the risk engine: appending
//! security-relevant actions to the hash-chained audit log, freezing subscribers, revoking all
//! their tokens, and refusing frozen subscribers.
//!
//! Audit entries name subscribers by their keyed-hash id (`subscriber:<id>`), never by MSISDN,
//! so the log can be kept and shipped without personal data.

use axum::http::StatusCode;
use simgate_core::TenantId;
use simgate_store::incident::{NewAuditEntry, SubscriberFreeze};
use simgate_tokens::SubscriberId;

use crate::{
    error::{ApiError, store_error},
    state::AppState,
    webhooks,
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

/// Freezes the subscriber as `actor` and audits it; false when a freeze was already in force
/// (the first one is kept, and not audited again).
pub async fn freeze(
    state: &AppState,
    tenant: &TenantId,
    subscriber: &SubscriberId,
    actor: &str,
    reason: &str,
) -> Result<bool, ApiError> {
    let freeze = SubscriberFreeze {
        frozen_at: state.clock.now(),
        reason: reason.to_owned(),
        actor: actor.to_owned(),
    };
    let newly_frozen = state
        .store
        .freeze_subscriber(tenant, subscriber.as_str(), &freeze)
        .await
        .map_err(store_error)?;
    if newly_frozen {
        audit(
            state,
            tenant,
            actor,
            "subscriber.frozen",
            subscriber_subject(subscriber),
            serde_json::json!({ "reason": reason }),
        )
        .await?;
        tracing::warn!(tenant = %tenant, actor, "subscriber frozen");
    }
    Ok(newly_frozen)
}

/// Revokes every live token of the subscriber, queues a `token.revoked` webhook for each and
/// returns their `jti`s (callers audit the control that asked for it).
pub async fn revoke_all_tokens(
    state: &AppState,
    tenant: &TenantId,
    subscriber: &SubscriberId,
    reason: &str,
) -> Result<Vec<String>, ApiError> {
    let revoked = state
        .store
        .revoke_subscriber_tokens(tenant, subscriber.as_str(), state.clock.now(), reason)
        .await
        .map_err(store_error)?;
    for (jti, verification_id) in &revoked {
        webhooks::queue_revocation(state, tenant, jti, verification_id, reason).await?;
    }
    Ok(revoked.into_iter().map(|(jti, _)| jti).collect())
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
