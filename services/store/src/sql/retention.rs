//! [`SqlStore`] implementation of the retention purge ([`crate::retention`]).

use simgate_core::clock::to_unix_millis;
use time::OffsetDateTime;

use super::SqlStore;
use crate::{
    StoreError,
    retention::{PurgeCounts, PurgeCutoffs},
};

impl SqlStore {
    /// Deletes every record older than its cutoff; returns the rows deleted per table.
    pub async fn purge_expired(&self, cutoffs: &PurgeCutoffs) -> Result<PurgeCounts, StoreError> {
        let statements: [(&'static str, &str, OffsetDateTime); 11] = [
            (
                "verifications",
                "DELETE FROM verifications WHERE updated_at < $1",
                cutoffs.verifications,
            ),
            (
                "idempotency_keys",
                "DELETE FROM idempotency_keys WHERE created_at < $1",
                cutoffs.idempotency_keys,
            ),
            (
                "activation_tokens",
                "DELETE FROM activation_tokens WHERE expires_at < $1",
                cutoffs.activation_tokens,
            ),
            (
                "sms_codes",
                "DELETE FROM sms_codes WHERE expires_at < $1",
                cutoffs.otp,
            ),
            (
                "sms_sends",
                "DELETE FROM sms_sends WHERE sent_at < $1",
                cutoffs.otp,
            ),
            (
                "outbox",
                "DELETE FROM outbox WHERE updated_at < $1",
                cutoffs.messages,
            ),
            (
                "sms_outbox",
                "DELETE FROM sms_outbox WHERE updated_at < $1",
                cutoffs.messages,
            ),
            (
                "risk_events",
                "DELETE FROM risk_events WHERE at < $1",
                cutoffs.risk_events,
            ),
            (
                "subscriber_locations",
                "DELETE FROM subscriber_locations WHERE at < $1",
                cutoffs.subscriber_locations,
            ),
            (
                "face_templates",
                "DELETE FROM face_templates WHERE created_at < $1",
                cutoffs.face_templates,
            ),
            (
                "alerts",
                "DELETE FROM alerts WHERE acked_at IS NOT NULL AND acked_at < $1",
                cutoffs.acknowledged_alerts,
            ),
        ];
        let mut counts = PurgeCounts::new();
        for (table, statement, cutoff) in statements {
            let result = sqlx::query(statement)
                .bind(to_unix_millis(cutoff))
                .execute(&self.pool)
                .await?;
            counts.insert(table, result.rows_affected());
        }
        Ok(counts)
    }
}
