//! Activation-token signing keys: rotation and loading, bridging the sealed rows of the store
//! and the tokens crate's key ring. Used by the JWKS route and by `simgate signing-key`.
//!
//! The store holds every unretired key; the newest is current. A rotation inserts a new key and
//! gives every older key a retirement time `overlap` ahead, in one transaction, so replicas that
//! reload see either the old ring or the new one, never a ring without a current key.

use std::time::Duration;

use simgate_store::{Store, StoreError, StoredSigningKey, encryption::DataKeys};
use simgate_tokens::{KeyRing, PreviousKey, SigningAlgorithm, SigningKey, TokenError};
use time::OffsetDateTime;

use crate::config::EncryptionSettings;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    /// The store failed (including opening a sealed key).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key does not parse, or a new one could not be made.
    #[error("signing key: {0}")]
    Key(#[from] TokenError),
}

/// Builds the data keys from configuration.
pub fn data_keys(
    settings: &EncryptionSettings,
) -> Result<DataKeys, simgate_store::encryption::EncryptionError> {
    if settings.keys.0.trim().is_empty() {
        return Ok(DataKeys::none());
    }
    let current = Some(settings.current_key.as_str()).filter(|c| !c.is_empty());
    DataKeys::parse(&settings.keys.0, current)
}

/// Creates a new signing key, makes it current, and schedules the others' retirement.
pub async fn rotate_signing_key(
    store: &dyn Store,
    algorithm: SigningAlgorithm,
    overlap: Duration,
    now: OffsetDateTime,
) -> Result<SigningKey, SigningKeyError> {
    let key = SigningKey::generate(algorithm, now)?;
    let stored = StoredSigningKey {
        kid: key.kid().as_str().to_owned(),
        algorithm: algorithm.as_str().to_owned(),
        private_key_pkcs8: key.to_pkcs8_der(),
        created_at: now,
        retire_at: None,
    };
    store.rotate_signing_key(&stored, now + overlap).await?;
    Ok(key)
}

/// The key ring as stored at `now`, or `None` before the first rotation.
pub async fn load_key_ring(
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<Option<KeyRing>, SigningKeyError> {
    let mut stored = store.active_signing_keys(now).await?.into_iter();
    let Some(current) = stored.next() else {
        return Ok(None);
    };
    let current = SigningKey::from_pkcs8_der(&current.private_key_pkcs8, current.created_at)?;
    let previous = stored
        .map(|row| {
            let key = SigningKey::from_pkcs8_der(&row.private_key_pkcs8, row.created_at)?;
            // Only two rotations racing on PostgreSQL can leave an older key unscheduled; it stays
            // valid until the next rotation schedules it, as the store's rows say.
            let retire_at = row.retire_at.unwrap_or(now + time::Duration::days(365));
            Ok(PreviousKey { key, retire_at })
        })
        .collect::<Result<Vec<_>, SigningKeyError>>()?;
    Ok(Some(KeyRing::restore(current, previous)?))
}
