//! [`SqlStore`] implementation of [`IncidentStore`]: the audit chain and subscriber freezes.
//!
//! An append reads the chain head and inserts `seq + 1`; when another replica appended first,
//! the insert hits the primary key and the append retries on the new head, so the chain stays
//! dense and linear across replicas without a table lock.

use async_trait::async_trait;
use simgate_core::{
    TenantId,
    clock::{from_unix_millis, to_unix_millis},
};
use sqlx::{Row as _, any::AnyRow};
use time::OffsetDateTime;

use super::{
    SqlStore,
    risk::alert_from_row,
    sessions::{token_from_row, unique_violation},
};
use crate::{
    ActivationTokenRow, StoreError,
    incident::{
        AUDIT_GENESIS_HASH, AuditEntry, IncidentStore, NewAuditEntry, SubscriberFreeze,
        TimelineEvent, TimelineVerification, audit_entry_hash,
    },
    risk::AlertRow,
};

/// Appends that lose the race this many times in a row give up (a sign of a stuck writer).
const APPEND_RETRIES: usize = 50;

fn audit_entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: from_unix_millis(row.try_get("at")?),
        tenant: row.try_get("tenant")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        details: row.try_get("details")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

const AUDIT_COLUMNS: &str = "seq, at, tenant, actor, action, subject, details, prev_hash, hash";

impl SqlStore {
    /// Rows of `sql`, whose parameters are the tenant ($1), the subscriber id ($2) and a limit ($3).
    async fn subscriber_rows(
        &self,
        sql: &str,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<AnyRow>, StoreError> {
        Ok(sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(subscriber_id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn append_audit(
        &self,
        entry: &NewAuditEntry,
        at: OffsetDateTime,
    ) -> Result<AuditEntry, StoreError> {
        let at_millis = to_unix_millis(at);
        for _ in 0..APPEND_RETRIES {
            let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
            let (previous_seq, prev_hash) = match head {
                Some(row) => (row.try_get::<i64, _>("seq")?, row.try_get("hash")?),
                None => (0, AUDIT_GENESIS_HASH.to_owned()),
            };
            let stored = AuditEntry {
                seq: previous_seq + 1,
                at: from_unix_millis(at_millis),
                tenant: entry.tenant.as_str().to_owned(),
                actor: entry.actor.clone(),
                action: entry.action.clone(),
                subject: entry.subject.clone(),
                details: entry.details.clone(),
                prev_hash,
                hash: String::new(),
            };
            let hash = audit_entry_hash(
                stored.seq,
                at_millis,
                [
                    &stored.tenant,
                    &stored.actor,
                    &stored.action,
                    &stored.subject,
                    &stored.details,
                    &stored.prev_hash,
                ],
            );
            let inserted = sqlx::query(
                "INSERT INTO audit_log (seq, at, tenant, actor, action, subject, details, \
                 prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(stored.seq)
            .bind(at_millis)
            .bind(&stored.tenant)
            .bind(&stored.actor)
            .bind(&stored.action)
            .bind(&stored.subject)
            .bind(&stored.details)
            .bind(&stored.prev_hash)
            .bind(&hash)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(AuditEntry { hash, ..stored }),
                // Another replica took this seq: chain onto its entry instead.
                Err(error) if unique_violation(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Conflict(
            "the audit log head kept moving; append abandoned",
        ))
    }

    async fn audit_entries_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_entry_from_row).collect()
    }

    async fn audit_entries_for_subject(
        &self,
        tenant: &TenantId,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE tenant = $1 AND subject = $2 \
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(subject)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_entry_from_row).collect()
    }

    async fn freeze_subscriber(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        freeze: &SubscriberFreeze,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO subscriber_freezes (tenant, subscriber_id, frozen_at, reason, actor) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, subscriber_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(to_unix_millis(freeze.frozen_at))
        .bind(&freeze.reason)
        .bind(&freeze.actor)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unfreeze_subscriber(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM subscriber_freezes WHERE tenant = $1 AND subscriber_id = $2")
                .bind(tenant.as_str())
                .bind(subscriber_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn subscriber_freeze(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<Option<SubscriberFreeze>, StoreError> {
        let row = sqlx::query(
            "SELECT frozen_at, reason, actor FROM subscriber_freezes \
             WHERE tenant = $1 AND subscriber_id = $2",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(SubscriberFreeze {
                frozen_at: from_unix_millis(row.try_get("frozen_at")?),
                reason: row.try_get("reason")?,
                actor: row.try_get("actor")?,
            })
        })
        .transpose()
    }

    async fn erase_subscriber(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<std::collections::BTreeMap<&'static str, u64>, StoreError> {
        // Child rows first (SMS codes hang off the sessions), all in one transaction.
        let statements: [(&'static str, &str); 8] = [
            (
                "sms_codes",
                "DELETE FROM sms_codes WHERE tenant = $1 AND verification_id IN \
                 (SELECT id FROM verifications WHERE tenant = $1 AND subscriber_id = $2)",
            ),
            (
                "verifications",
                "DELETE FROM verifications WHERE tenant = $1 AND subscriber_id = $2",
            ),
            (
                "activation_tokens",
                "DELETE FROM activation_tokens WHERE tenant = $1 AND subscriber_id = $2",
            ),
            (
                "face_templates",
                "DELETE FROM face_templates WHERE tenant = $1 AND subscriber_id = $2",
            ),
            (
                "subscriber_locations",
                "DELETE FROM subscriber_locations WHERE tenant = $1 AND subscriber_id = $2",
            ),
            (
                "risk_events",
                "DELETE FROM risk_events WHERE tenant = $1 AND subscriber_id = $2",
            ),
            (
                "totp_enrolments",
                "DELETE FROM totp_enrolments WHERE tenant = $1 AND subscriber_id = $2",
            ),
            (
                "otp_subscriber_state",
                "DELETE FROM otp_subscriber_state WHERE tenant = $1 AND subscriber_id = $2",
            ),
        ];
        let mut tx = self.pool.begin().await?;
        let mut counts = std::collections::BTreeMap::new();
        for (table, statement) in statements {
            let result = sqlx::query(statement)
                .bind(tenant.as_str())
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
            counts.insert(table, result.rows_affected());
        }
        // Send history has no tenant column (the per-number send limit protects the handset
        // from every tenant's sends together); each send names the API key that asked for it,
        // so a tenant erases only its own sends. Deleting every tenant's, as this once did, let
        // one carrier reset another's send limit for the number and learn from the count that
        // the number had been sent codes elsewhere (found by the cross-tenant route test).
        let sends = sqlx::query(
            "DELETE FROM sms_sends WHERE subscriber_id = $1 \
             AND client_id IN (SELECT id FROM api_keys WHERE tenant = $2)",
        )
        .bind(subscriber_id)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
        counts.insert("sms_sends", sends.rows_affected());
        tx.commit().await?;
        Ok(counts)
    }

    async fn subscriber_verifications(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<TimelineVerification>, StoreError> {
        let rows = self
            .subscriber_rows(
                "SELECT id, channel, status, created_at, updated_at FROM verifications \
             WHERE tenant = $1 AND subscriber_id = $2 ORDER BY created_at DESC, id LIMIT $3",
                tenant,
                subscriber_id,
                limit,
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TimelineVerification {
                    id: row.try_get("id")?,
                    channel: row.try_get("channel")?,
                    status: row.try_get("status")?,
                    created_at: from_unix_millis(row.try_get("created_at")?),
                    updated_at: from_unix_millis(row.try_get("updated_at")?),
                })
            })
            .collect()
    }

    async fn subscriber_tokens(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<ActivationTokenRow>, StoreError> {
        let rows = self
            .subscriber_rows(
                "SELECT * FROM activation_tokens WHERE tenant = $1 AND subscriber_id = $2 \
             ORDER BY issued_at DESC, jti LIMIT $3",
                tenant,
                subscriber_id,
                limit,
            )
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn subscriber_events(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        // One event is stored once per key it is grouped by: list it once.
        let rows = self
            .subscriber_rows(
            "SELECT signal, at, amount FROM risk_events WHERE tenant = $1 AND subscriber_id = $2 \
             GROUP BY signal, at, amount ORDER BY at DESC LIMIT $3",
                tenant,
                subscriber_id,
                limit,
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TimelineEvent {
                    signal: row.try_get("signal")?,
                    at: from_unix_millis(row.try_get("at")?),
                    amount: u64::try_from(row.try_get::<i64, _>("amount")?).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn subscriber_alerts(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let rows = self
            .subscriber_rows(
                "SELECT * FROM alerts WHERE tenant = $1 AND subscriber_id = $2 \
             ORDER BY raised_at DESC, id LIMIT $3",
                tenant,
                subscriber_id,
                limit,
            )
            .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn revoke_subscriber_tokens(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let now = to_unix_millis(now);
        let live = sqlx::query(
            "SELECT jti, verification_id FROM activation_tokens \
             WHERE tenant = $1 AND subscriber_id = $2 AND revoked_at IS NULL AND expires_at > $3 \
             ORDER BY issued_at",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut revoked = Vec::with_capacity(live.len());
        for row in live {
            let jti: String = row.try_get("jti")?;
            // Each token by compare-and-set, so a concurrent revocation is not reported twice.
            let done = sqlx::query(
                "UPDATE activation_tokens SET revoked_at = $1, revoked_reason = $2 \
                 WHERE jti = $3 AND tenant = $4 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(reason)
            .bind(&jti)
            .bind(tenant.as_str())
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                revoked.push((jti, row.try_get("verification_id")?));
            }
        }
        Ok(revoked)
    }
}
