//! Signed webhooks: events are queued in the store's outbox in the request that caused them and
//! delivered by a background worker with retries, so a receiver that is down loses nothing.
//!
//! Each delivery is a `POST` of a JSON event with:
//! - `Simgate-Event`: the event type (`verification.decided`, `token.revoked`);
//! - `Simgate-Delivery`: the outbox message id, the same on every retry (receivers de-duplicate);
//! - `Simgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; receivers
//!   recompute it and reject stale timestamps, which defeats replays of captured deliveries.
//!
//! Retries back off exponentially (doubling from `initial_backoff_secs`, capped, with jitter);
//! after `max_attempts` the message is marked failed. Events carry ids and outcomes, never
//! personal data.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use serde_json::json;
use sha2::Sha256;
use simgate_core::TenantId;
use simgate_flow::Verification;
use simgate_store::{NewOutboxMessage, OutboxMessage};
use time::OffsetDateTime;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::{
    config::WebhookSettings,
    error::{ApiError, store_error},
    state::AppState,
};

/// Outbox kind of webhook messages.
pub const WEBHOOK_KIND: &str = "webhook";

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "simgate-signature";

/// Computes the `Simgate-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign_webhook(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Queues `verification.decided` for a session that was just decided.
pub async fn queue_decision(state: &AppState, verification: &Verification) -> Result<(), ApiError> {
    let decision = verification.decision.as_ref();
    let event = json!({
        "type": "verification.decided",
        "verification_id": verification.id,
        "channel": verification.channel,
        "status": verification.status,
        "reasons": decision.map(|d| d.reasons.clone()).unwrap_or_default(),
        "decided_at": decision.map(|d| d.decided_at).unwrap_or(verification.updated_at)
            .format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    });
    queue_event(state, &verification.tenant, event).await
}

/// Queues `token.revoked` for a revoked activation token.
pub async fn queue_revocation(
    state: &AppState,
    tenant: &TenantId,
    jti: &str,
    verification_id: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let event = json!({
        "type": "token.revoked",
        "jti": jti,
        "verification_id": verification_id,
        "reason": reason,
    });
    queue_event(state, tenant, event).await
}

/// Queues `alert.raised` for a risk alert (no personal data: the subscriber's opaque id).
pub async fn queue_alert(
    state: &AppState,
    alert: &simgate_store::risk::AlertRow,
) -> Result<(), ApiError> {
    let event = json!({
        "type": "alert.raised",
        "alert_id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity.as_str(),
        "action": alert.action.as_str(),
        "subscriber_id": alert.subscriber_id,
        "total": alert.total,
        "threshold": alert.threshold,
    });
    queue_event(state, &alert.tenant, event).await
}

async fn queue_event(
    state: &AppState,
    tenant: &TenantId,
    mut event: serde_json::Value,
) -> Result<(), ApiError> {
    if state.settings.webhooks.url.is_empty() {
        return Ok(());
    }
    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
    let now = state.clock.now();
    if let Some(object) = event.as_object_mut() {
        object.insert("id".into(), id.clone().into());
        object.insert("tenant".into(), tenant.as_str().into());
        object.insert(
            "created_at".into(),
            now.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
                .into(),
        );
    }
    let message = NewOutboxMessage {
        id,
        kind: WEBHOOK_KIND.to_owned(),
        tenant: tenant.clone(),
        payload: Zeroizing::new(event.to_string().into_bytes()),
        deliver_after: now,
        expires_at: None,
    };
    state
        .store
        .enqueue_outbox(&message)
        .await
        .map_err(store_error)
}

/// The delay before attempt `attempts + 1`: doubling, capped, with up to 20% jitter so a
/// receiver coming back is not hit by every queued message at once.
pub fn backoff_after(settings: &WebhookSettings, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let base = settings
        .initial_backoff_secs
        .saturating_mul(1u64 << exponent)
        .min(settings.max_backoff_secs)
        .max(1);
    let jitter = rand::rng().random_range(0..=base.saturating_mul(200)); // up to 20%, in ms
    Duration::from_secs(base) + Duration::from_millis(jitter)
}

/// Delivers due webhook messages until `shutdown` turns true.
pub async fn run_webhook_worker(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let settings = state.settings.webhooks.clone();
    if settings.url.is_empty() {
        return;
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_secs.max(1)))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook worker cannot build its HTTP client");
            return;
        }
    };
    let poll = Duration::from_millis(settings.poll_interval_ms.max(10));
    while !*shutdown.borrow() {
        if let Err(error) = deliver_due(&state, &client, &settings).await {
            tracing::warn!(%error, "webhook delivery round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
}

async fn deliver_due(
    state: &AppState,
    client: &reqwest::Client,
    settings: &WebhookSettings,
) -> Result<(), simgate_store::StoreError> {
    let now = state.clock.now();
    let lease = time::Duration::seconds(i64::try_from(settings.timeout_secs).unwrap_or(10) * 3);
    let due = state
        .store
        .claim_due_outbox(WEBHOOK_KIND, now, lease, 20)
        .await?;
    for message in due {
        let outcome = deliver_one(client, settings, &message, state.clock.now()).await;
        let now = state.clock.now();
        state
            .metrics
            .webhook_deliveries_total
            .with_label_values(&[if outcome.is_ok() {
                "delivered"
            } else {
                "failed_attempt"
            }])
            .inc();
        match outcome {
            Ok(()) => state.store.mark_outbox_delivered(&message.id, now).await?,
            Err(error) if message.attempts >= settings.max_attempts => {
                tracing::warn!(id = %message.id, %error, "webhook given up");
                state
                    .store
                    .mark_outbox_failed(&message.id, &error, now)
                    .await?;
            }
            Err(error) => {
                let delay = backoff_after(settings, message.attempts);
                let next = now + time::Duration::try_from(delay).unwrap_or(time::Duration::MINUTE);
                tracing::info!(id = %message.id, %error, attempts = message.attempts, "webhook will retry");
                state
                    .store
                    .mark_outbox_retry(&message.id, next, &error, now)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn deliver_one(
    client: &reqwest::Client,
    settings: &WebhookSettings,
    message: &OutboxMessage,
    now: OffsetDateTime,
) -> Result<(), String> {
    let event_type = serde_json::from_slice::<serde_json::Value>(&message.payload)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let signature = sign_webhook(
        settings.secret.0.as_bytes(),
        now.unix_timestamp(),
        &message.payload,
    );
    let response = client
        .post(&settings.url)
        .header("content-type", "application/json")
        .header("simgate-event", event_type)
        .header("simgate-delivery", &message.id)
        .header(SIGNATURE_HEADER, signature)
        .body(message.payload.to_vec())
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("receiver answered {}", response.status()))
    }
}
