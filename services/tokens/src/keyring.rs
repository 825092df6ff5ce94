//! The issuer's key ring: one current signing key plus previous keys kept verifiable for a while.
//!
//! Rotation never invalidates tokens already in flight: [`KeyRing::rotate`] makes the new key
//! current and keeps the old one verifiable (and in the JWKS) until `now + overlap`, which should
//! be at least the longest token lifetime plus the verifiers' JWKS cache time. After that the key
//! is retired: it leaves the JWKS and tokens naming it fail with [`TokenError::RetiredKey`], even
//! before [`KeyRing::retire_expired`] drops its private material.

use std::collections::BTreeSet;
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::TokenError;
use crate::jwks::{Jwk, JwkSet, VerificationKey, VerificationKeySource};
use crate::keys::{KeyId, SigningKey};

/// A key that signed tokens before the last rotation and verifies them until `retire_at`.
#[derive(Debug, Clone)]
pub struct PreviousKey {
    /// The key itself.
    pub key: SigningKey,
    /// From this instant on the key no longer verifies anything.
    pub retire_at: OffsetDateTime,
}

/// The current signing key, the previous keys still verifying, and the ids of retired keys.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: SigningKey,
    previous: Vec<PreviousKey>,
    // Only ids are kept, so a late token gets "retired" rather than "unknown" in audit logs.
    retired: BTreeSet<KeyId>,
}

impl KeyRing {
    /// A ring with a single, current key.
    pub fn new(current: SigningKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
            retired: BTreeSet::new(),
        }
    }

    /// Rebuilds a ring from storage; refuses duplicate key ids.
    pub fn restore(current: SigningKey, previous: Vec<PreviousKey>) -> Result<Self, TokenError> {
        let mut ring = Self::new(current);
        for entry in previous {
            if ring.contains(entry.key.kid()) {
                return Err(TokenError::DuplicateKey(entry.key.kid().clone()));
            }
            ring.previous.push(entry);
        }
        Ok(ring)
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Keys from earlier rotations that have not been dropped by [`Self::retire_expired`].
    pub fn previous(&self) -> &[PreviousKey] {
        &self.previous
    }

    /// Makes `new_key` current; the old current key verifies until `now + overlap`.
    pub fn rotate(
        &mut self,
        new_key: SigningKey,
        now: OffsetDateTime,
        overlap: Duration,
    ) -> Result<(), TokenError> {
        if self.contains(new_key.kid()) || self.retired.contains(new_key.kid()) {
            return Err(TokenError::DuplicateKey(new_key.kid().clone()));
        }
        let retire_at = add_duration(now, overlap, "rotation overlap")?;
        let old = std::mem::replace(&mut self.current, new_key);
        self.previous.push(PreviousKey {
            key: old,
            retire_at,
        });
        Ok(())
    }

    /// Drops previous keys whose `retire_at` has come and returns their ids.
    pub fn retire_expired(&mut self, now: OffsetDateTime) -> Vec<KeyId> {
        let (expired, kept): (Vec<_>, Vec<_>) = self
            .previous
            .drain(..)
            .partition(|entry| entry.retire_at <= now);
        self.previous = kept;
        let ids: Vec<KeyId> = expired
            .into_iter()
            .map(|entry| entry.key.kid().clone())
            .collect();
        self.retired.extend(ids.iter().cloned());
        ids
    }

    /// The public keys that verify at `now`: the current key first, then unretired previous keys.
    pub fn jwks(&self, now: OffsetDateTime) -> JwkSet {
        let live_previous = self
            .previous
            .iter()
            .filter(|entry| entry.retire_at > now)
            .map(|entry| &entry.key);
        let keys = std::iter::once(&self.current)
            .chain(live_previous)
            .map(|key| Jwk::from_public_key(key.kid().clone(), key.public_key()))
            .collect();
        JwkSet { keys }
    }

    fn contains(&self, kid: &KeyId) -> bool {
        self.current.kid() == kid || self.previous.iter().any(|entry| entry.key.kid() == kid)
    }
}

impl VerificationKeySource for KeyRing {
    fn verification_key(
        &self,
        kid: &KeyId,
        now: OffsetDateTime,
    ) -> Result<VerificationKey, TokenError> {
        let key = if self.current.kid() == kid {
            &self.current
        } else if let Some(entry) = self.previous.iter().find(|entry| entry.key.kid() == kid) {
            if entry.retire_at <= now {
                return Err(TokenError::RetiredKey(kid.clone()));
            }
            &entry.key
        } else if self.retired.contains(kid) {
            return Err(TokenError::RetiredKey(kid.clone()));
        } else {
            return Err(TokenError::UnknownKey(kid.to_string()));
        };
        Ok(VerificationKey {
            kid: key.kid().clone(),
            public: key.public_key().clone(),
        })
    }
}

pub(crate) fn add_duration(
    at: OffsetDateTime,
    duration: Duration,
    what: &'static str,
) -> Result<OffsetDateTime, TokenError> {
    time::Duration::try_from(duration)
        .ok()
        .and_then(|duration| at.checked_add(duration))
        .ok_or_else(|| TokenError::invalid(what, "is too large"))
}
