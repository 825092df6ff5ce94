//! Risk monitoring records: the events risk rules total over sliding windows, and alerts.
//!
//! Windows are computed in SQL over `risk_events`, so two API replicas on one PostgreSQL see the
//! same totals and enforce one shared limit. Keys arrive already hashed by the caller.

use async_trait::async_trait;
use simgate_core::TenantId;
use simgate_risk::{Aggregate, KeyKind, RuleAction, Severity, Signal};
use time::OffsetDateTime;

use crate::StoreError;

/// One observed event, grouped by each of `keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskEvent {
    /// Tenant it belongs to.
    pub tenant: TenantId,
    /// What happened.
    pub signal: Signal,
    /// The keyed hashes it is grouped by, one per kind.
    pub keys: Vec<(KeyKind, String)>,
    /// The subscriber concerned (opaque id).
    pub subscriber_id: String,
    /// Bytes for data usage; 1 otherwise.
    pub amount: u64,
    /// When it happened.
    pub at: OffsetDateTime,
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// `alr_` + 32 hex digits.
    pub id: String,
    /// Tenant it belongs to.
    pub tenant: TenantId,
    /// The rule that fired.
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// What the rule did besides alerting.
    pub action: RuleAction,
    /// The signal counted.
    pub signal: Signal,
    /// The key kind grouped by.
    pub key_kind: KeyKind,
    /// The key (keyed hash).
    pub key_hash: String,
    /// The subscriber whose event fired it.
    pub subscriber_id: String,
    /// The window's total when it fired.
    pub total: u64,
    /// The rule's threshold.
    pub threshold: u64,
    /// When it was raised.
    pub raised_at: OffsetDateTime,
    /// When a person acknowledged it.
    pub acked_at: Option<OffsetDateTime>,
    /// Who acknowledged it (API key id).
    pub acked_by: Option<String>,
}

/// A stored document-portrait template.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceTemplateRow {
    /// The subscriber of the verification it came from.
    pub subscriber_id: String,
    /// The keyed hash of the document it was printed on (issuer and number).
    pub document_hash: String,
    /// The face embedding (L2-normalised).
    pub template: Vec<f32>,
    /// When it was stored.
    pub created_at: OffsetDateTime,
}

/// The risk-monitoring persistence operations.
#[async_trait]
pub trait RiskStore: Send + Sync {
    /// Records an event under each of its keys.
    async fn record_risk_event(&self, event: &RiskEvent) -> Result<(), StoreError>;
    /// The total of `signal` for one key since `since` (inclusive).
    async fn risk_total(
        &self,
        tenant: &TenantId,
        signal: Signal,
        key: (KeyKind, &str),
        aggregate: Aggregate,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError>;
    /// Whether an unacknowledged alert of `rule` for this key exists (no duplicate alerts).
    async fn open_alert_exists(
        &self,
        tenant: &TenantId,
        rule: &str,
        key_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Records that the subscriber was seen in `region` at `at`.
    async fn record_location(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        region: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Whether the subscriber was seen in `region` at a time in `[from, to)`.
    async fn region_seen_between(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        region: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// The subscriber's latest sighting at or before `at` and after `since`: (region, when).
    async fn last_location(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        since: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError>;
    /// Stores a document-portrait template (sealed at rest).
    async fn insert_face_template(
        &self,
        tenant: &TenantId,
        template: &FaceTemplateRow,
    ) -> Result<(), StoreError>;
    /// The tenant's templates stored since `since`, newest first, at most `limit`.
    async fn recent_face_templates(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<FaceTemplateRow>, StoreError>;
    /// Stores a raised alert.
    async fn insert_alert(&self, alert: &AlertRow) -> Result<(), StoreError>;
    /// The tenant's alerts, newest first; only open ones unless `include_acked`.
    async fn list_alerts(
        &self,
        tenant: &TenantId,
        include_acked: bool,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError>;
    /// One of the tenant's alerts by id.
    async fn find_alert(&self, tenant: &TenantId, id: &str)
    -> Result<Option<AlertRow>, StoreError>;
    /// Acknowledges an open alert; false when there is no such open alert for the tenant.
    async fn ack_alert(
        &self,
        tenant: &TenantId,
        id: &str,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
