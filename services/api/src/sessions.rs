//! Loading and saving verification sessions, and the service secrets they depend on.
//!
//! The flow crate's [`Verification`] is stored as a sealed JSON body with a version counter;
//! [`save_verification`] is a compare-and-set on that counter, so two replicas (or two racing
//! requests) cannot both apply a step to one session: the loser gets a 409 and may retry.
//! Every save that changes the status to a decision also queues the decision webhook.

use rand::RngCore as _;
use simgate_core::{Msisdn, TenantId};
use simgate_flow::{Verification, VerificationStatus};
use simgate_store::VerificationRow;
use simgate_tokens::{SubscriberId, SubscriberKey, derive_subscriber_id};
use zeroize::Zeroizing;

use crate::{
    error::{ApiError, store_error},
    state::AppState,
    webhooks,
};

/// A loaded session and the version it was loaded at.
pub struct LoadedVerification {
    /// The aggregate.
    pub verification: Verification,
    /// Its stored version, for the compare-and-set on save.
    pub version: i64,
    /// Its status when loaded, to notice decisions on save.
    pub loaded_status: VerificationStatus,
}

/// The subscriber-id key: generated once per deployment and shared by every replica.
pub async fn subscriber_key(state: &AppState) -> Result<SubscriberKey, ApiError> {
    let bytes = state
        .subscriber_key
        .get_or_try_init(|| async {
            let mut candidate = Zeroizing::new(vec![0u8; 32]);
            rand::rng().fill_bytes(&mut candidate);
            state
                .store
                .get_or_create_secret("subscriber_key", &candidate, state.clock.now())
                .await
                .map_err(store_error)
        })
        .await?;
    SubscriberKey::from_bytes(bytes).map_err(|e| ApiError::internal(&e))
}

/// The opaque subscriber id of `msisdn`.
pub async fn subscriber_id(state: &AppState, msisdn: &Msisdn) -> Result<SubscriberId, ApiError> {
    Ok(derive_subscriber_id(&subscriber_key(state).await?, msisdn))
}

/// Stores a newly opened session.
pub async fn insert_verification(
    state: &AppState,
    verification: &Verification,
    subscriber: &SubscriberId,
) -> Result<(), ApiError> {
    let row = VerificationRow {
        id: verification.id.clone(),
        tenant: verification.tenant.clone(),
        channel: verification.channel.as_str().to_owned(),
        status: verification.status.as_str().to_owned(),
        subscriber_id: subscriber.as_str().to_owned(),
        created_at: verification.created_at,
        expires_at: verification.expires_at,
        updated_at: verification.updated_at,
        version: 1,
        body: Zeroizing::new(serde_json::to_vec(verification).map_err(|e| ApiError::internal(&e))?),
    };
    state
        .store
        .insert_verification(&row)
        .await
        .map_err(store_error)
}

/// Loads the tenant's session `id`, moving it to `expired` (and saving that) when its lifetime
/// ran out, so every caller sees the same status.
pub async fn load_verification(
    state: &AppState,
    tenant: &TenantId,
    id: &str,
) -> Result<LoadedVerification, ApiError> {
    // Ids are ours (`ver_` + hex); anything else cannot exist and need not reach the database.
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::not_found("verification"));
    }
    let row = state
        .store
        .find_verification(tenant, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found("verification"))?;
    let verification: Verification = serde_json::from_slice(&row.body).map_err(|e| {
        ApiError::internal(&format!("stored verification {id} does not parse: {e}"))
    })?;
    let mut loaded = LoadedVerification {
        loaded_status: verification.status,
        verification,
        version: row.version,
    };
    if loaded.verification.expire_if_due(state.clock.now()) {
        save_verification(state, &mut loaded).await?;
    }
    Ok(loaded)
}

/// Saves a changed session if nobody changed it since it was loaded (409 otherwise), and queues
/// the decision webhook when this save decided it.
pub async fn save_verification(
    state: &AppState,
    loaded: &mut LoadedVerification,
) -> Result<(), ApiError> {
    let verification = &loaded.verification;
    let row = VerificationRow {
        id: verification.id.clone(),
        tenant: verification.tenant.clone(),
        channel: verification.channel.as_str().to_owned(),
        status: verification.status.as_str().to_owned(),
        subscriber_id: String::new(),
        created_at: verification.created_at,
        expires_at: verification.expires_at,
        updated_at: verification.updated_at,
        version: loaded.version + 1,
        body: Zeroizing::new(serde_json::to_vec(verification).map_err(|e| ApiError::internal(&e))?),
    };
    let saved = state
        .store
        .update_verification(&row)
        .await
        .map_err(store_error)?;
    if !saved {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "concurrent-update",
            "Concurrent update",
            "the verification changed while this request ran; reload it and retry",
        ));
    }
    loaded.version += 1;
    let decided = loaded.loaded_status != verification.status
        && matches!(
            verification.status,
            VerificationStatus::Approved
                | VerificationStatus::Rejected
                | VerificationStatus::NeedsReview
                | VerificationStatus::Expired
        );
    loaded.loaded_status = verification.status;
    if decided {
        webhooks::queue_decision(state, verification).await?;
    }
    Ok(())
}
