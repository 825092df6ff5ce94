//! Incident response records: the hash-chained audit log and subscriber freezes.
//!
//! The audit chain: entry `n` stores `hash_n = SHA-256(fields_n, hash_{n-1})` with the genesis
//! hash [`AUDIT_GENESIS_HASH`] before entry 1. [`AuditChainVerifier`] walks the entries in order
//! and reports the first one whose hash does not match its fields, whose `prev_hash` does not
//! match its predecessor, or whose `seq` skips (a deleted entry). Removing entries from the end
//! of the log leaves a valid shorter chain; operators detect that by keeping the head hash
//! that `simgate audit verify` prints (or shipping it elsewhere) and comparing later runs.
//!
//! Layout: rows and the chain arithmetic first, then the [`IncidentStore`] trait that
//! [`crate::SqlStore`] implements, then [`verify_audit_log`], which pages through a store.

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use simgate_core::TenantId;
use time::OffsetDateTime;

use crate::StoreError;

/// The `prev_hash` of the first entry.
pub const AUDIT_GENESIS_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// An audit entry to append: who did what to which subject, with non-personal details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Tenant the action belongs to.
    pub tenant: TenantId,
    /// Who acted: an API key id, `system`, or a rule name.
    pub actor: String,
    /// What happened, dotted: `subscriber.frozen`, `token.revoked`.
    pub action: String,
    /// What it happened to: `subscriber:<id>`, `token:<jti>`, `verification:<id>`.
    pub subject: String,
    /// A JSON object with the particulars (reasons, counts), never personal data.
    pub details: String,
}

/// An appended audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain, from 1 without gaps.
    pub seq: i64,
    /// When it was appended.
    pub at: OffsetDateTime,
    /// Tenant (stored as text so a corrupted row is still reported, not refused).
    pub tenant: String,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// What it happened to.
    pub subject: String,
    /// JSON particulars.
    pub details: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry's fields and `prev_hash` should have.
    pub fn expected_hash(&self) -> String {
        audit_entry_hash(
            self.seq,
            simgate_core::clock::to_unix_millis(self.at),
            [
                &self.tenant,
                &self.actor,
                &self.action,
                &self.subject,
                &self.details,
                &self.prev_hash,
            ],
        )
    }
}

/// SHA-256 (hex) over `seq`, `at` and the text fields, each length-prefixed so that no two
/// different entries hash the same bytes.
pub fn audit_entry_hash(seq: i64, at_millis: i64, fields: [&str; 6]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"simgate-audit-v1");
    hasher.update(seq.to_be_bytes());
    hasher.update(at_millis.to_be_bytes());
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditChainBreak {
    /// The entry's fields do not produce its stored hash: it was edited.
    #[error("entry {seq}: its hash does not match its contents (edited)")]
    HashMismatch {
        /// The entry.
        seq: i64,
    },
    /// The entry does not point at its predecessor's hash: the predecessor was replaced.
    #[error("entry {seq}: prev_hash does not match entry {previous}'s hash")]
    BrokenLink {
        /// The entry.
        seq: i64,
        /// Its predecessor.
        previous: i64,
    },
    /// Entries are missing before this one (deleted).
    #[error("entry {found} follows entry {previous}: entries in between are missing")]
    Gap {
        /// The last good entry.
        previous: i64,
        /// The next entry found.
        found: i64,
    },
}

/// Checks entries one by one, in `seq` order.
#[derive(Debug, Clone)]
pub struct AuditChainVerifier {
    previous_seq: i64,
    previous_hash: String,
    checked: u64,
}

impl Default for AuditChainVerifier {
    fn default() -> Self {
        Self {
            previous_seq: 0,
            previous_hash: AUDIT_GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

impl AuditChainVerifier {
    /// Checks the next entry against its predecessor.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), AuditChainBreak> {
        if entry.seq != self.previous_seq + 1 {
            return Err(AuditChainBreak::Gap {
                previous: self.previous_seq,
                found: entry.seq,
            });
        }
        if entry.expected_hash() != entry.hash {
            return Err(AuditChainBreak::HashMismatch { seq: entry.seq });
        }
        if entry.prev_hash != self.previous_hash {
            return Err(AuditChainBreak::BrokenLink {
                seq: entry.seq,
                previous: self.previous_seq,
            });
        }
        self.previous_seq = entry.seq;
        self.previous_hash.clone_from(&entry.hash);
        self.checked += 1;
        Ok(())
    }

    /// Entries checked so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last entry checked (the genesis hash before any).
    pub fn head_hash(&self) -> &str {
        &self.previous_hash
    }
}

/// A subscriber's freeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberFreeze {
    /// Since when.
    pub frozen_at: OffsetDateTime,
    /// Why (a reason code or an operator's note, no personal data).
    pub reason: String,
    /// Who froze the subscriber.
    pub actor: String,
}

/// A verification as listed in a subscriber's timeline (the plain columns, nothing unsealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineVerification {
    /// Its id.
    pub id: String,
    /// `kiosk`, `mobile` or `batch`.
    pub channel: String,
    /// Its status when listed.
    pub status: String,
    /// When it was opened.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A risk event as listed in a subscriber's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    /// The signal's wire name.
    pub signal: String,
    /// When it happened.
    pub at: OffsetDateTime,
    /// Bytes for data usage; 1 otherwise.
    pub amount: u64,
}

/// The incident-response records.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Appends an entry at the head of the chain and returns it as stored.
    async fn append_audit(
        &self,
        entry: &NewAuditEntry,
        at: OffsetDateTime,
    ) -> Result<AuditEntry, StoreError>;
    /// Up to `limit` entries with `seq > after`, in order (all tenants: the chain is global).
    async fn audit_entries_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// The tenant's entries about `subject`, newest first, at most `limit`.
    async fn audit_entries_for_subject(
        &self,
        tenant: &TenantId,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Freezes a subscriber; false when already frozen (the first freeze is kept).
    async fn freeze_subscriber(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        freeze: &SubscriberFreeze,
    ) -> Result<bool, StoreError>;
    /// Lifts a freeze; false when the subscriber was not frozen.
    async fn unfreeze_subscriber(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<bool, StoreError>;
    /// The subscriber's freeze, if frozen.
    async fn subscriber_freeze(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<Option<SubscriberFreeze>, StoreError>;
    /// Erases what the service holds about one subscriber (right to erasure): verification
    /// sessions and their SMS codes, token bookkeeping, face templates, sightings, risk events,
    /// TOTP enrolment and second-factor state, SMS send history. Kept: the audit log (a gap would
    /// break the chain), alerts (fraud evidence, holding only the opaque subscriber id) and a
    /// freeze (erasing it would lift the victim's protection). Returns rows deleted per table.
    async fn erase_subscriber(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<std::collections::BTreeMap<&'static str, u64>, StoreError>;
    /// The subscriber's verifications, newest first, at most `limit`.
    async fn subscriber_verifications(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<TimelineVerification>, StoreError>;
    /// The subscriber's activation tokens, newest first, at most `limit`.
    async fn subscriber_tokens(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<crate::ActivationTokenRow>, StoreError>;
    /// The subscriber's risk events (verifications opened, codes sent, network events...),
    /// newest first, at most `limit`.
    async fn subscriber_events(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<TimelineEvent>, StoreError>;
    /// Alerts raised on the subscriber's events, newest first, at most `limit`.
    async fn subscriber_alerts(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<crate::risk::AlertRow>, StoreError>;
    /// Revokes every unrevoked, unexpired token of the subscriber; returns their `jti`s and
    /// verification ids.
    async fn revoke_subscriber_tokens(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

/// The outcome of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChainReport {
    /// Entries checked and found sound.
    pub checked: u64,
    /// The head hash (to keep and compare with a later run), or where the chain breaks.
    pub head_hash: String,
    /// The first break, if any.
    pub broken: Option<AuditChainBreak>,
}

/// Walks the store's audit log in pages and reports the first break.
pub async fn verify_audit_log(store: &dyn IncidentStore) -> Result<AuditChainReport, StoreError> {
    const PAGE: u32 = 1000;
    let mut verifier = AuditChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries_after(after, PAGE).await?;
        for entry in &page {
            if let Err(broken) = verifier.check(entry) {
                return Ok(AuditChainReport {
                    checked: verifier.checked(),
                    head_hash: verifier.head_hash().to_owned(),
                    broken: Some(broken),
                });
            }
            after = entry.seq;
        }
        if page.len() < PAGE as usize {
            return Ok(AuditChainReport {
                checked: verifier.checked(),
                head_hash: verifier.head_hash().to_owned(),
                broken: None,
            });
        }
    }
}
