//! [`SqlStore`] implementation of [`RiskStore`]: window totals in SQL, alerts.

use async_trait::async_trait;
use simgate_core::{
    TenantId,
    clock::{from_unix_millis, to_unix_millis},
};
use simgate_risk::{Aggregate, KeyKind, Signal};
use sqlx::{Row as _, any::AnyRow};
use time::OffsetDateTime;

use super::{SqlStore, sessions::corrupt};
use crate::{
    StoreError,
    risk::{AlertRow, FaceTemplateRow, RiskEvent, RiskStore},
};

pub(super) fn face_template_binding(id: &str) -> String {
    format!("face_templates/template_sealed/{id}")
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn parsed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|e| corrupt(&format!("alerts.{column}"), e))
}

pub(super) fn alert_from_row(row: &AnyRow) -> Result<AlertRow, StoreError> {
    let tenant: String = row.try_get("tenant")?;
    Ok(AlertRow {
        id: row.try_get("id")?,
        tenant: TenantId::parse(&tenant).map_err(|e| corrupt("alerts.tenant", e))?,
        rule: row.try_get("rule")?,
        severity: parsed(row, "severity")?,
        action: parsed(row, "action")?,
        signal: parsed(row, "signal")?,
        key_kind: parsed(row, "key_kind")?,
        key_hash: row.try_get("key_hash")?,
        subscriber_id: row.try_get("subscriber_id")?,
        total: to_u64(row.try_get("total")?),
        threshold: to_u64(row.try_get("threshold")?),
        raised_at: from_unix_millis(row.try_get("raised_at")?),
        acked_at: row
            .try_get::<Option<i64>, _>("acked_at")?
            .map(from_unix_millis),
        acked_by: row.try_get("acked_by")?,
    })
}

#[async_trait]
impl RiskStore for SqlStore {
    async fn record_risk_event(&self, event: &RiskEvent) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (kind, hash) in &event.keys {
            sqlx::query(
                "INSERT INTO risk_events (id, tenant, signal, key_kind, key_hash, subscriber_id, \
                 amount, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(event.tenant.as_str())
            .bind(event.signal.as_str())
            .bind(kind.as_str())
            .bind(hash)
            .bind(&event.subscriber_id)
            .bind(to_i64(event.amount))
            .bind(to_unix_millis(event.at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn risk_total(
        &self,
        tenant: &TenantId,
        signal: Signal,
        key: (KeyKind, &str),
        aggregate: Aggregate,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        // CAST: PostgreSQL's SUM(bigint) is numeric, which the Any driver cannot decode.
        let total = match aggregate {
            Aggregate::Count => "COUNT(*)",
            Aggregate::DistinctSubscribers => "COUNT(DISTINCT subscriber_id)",
            Aggregate::SumAmount => "CAST(COALESCE(SUM(amount), 0) AS BIGINT)",
        };
        let value: i64 = sqlx::query_scalar(&format!(
            "SELECT {total} FROM risk_events WHERE tenant = $1 AND signal = $2 \
             AND key_kind = $3 AND key_hash = $4 AND at >= $5"
        ))
        .bind(tenant.as_str())
        .bind(signal.as_str())
        .bind(key.0.as_str())
        .bind(key.1)
        .bind(to_unix_millis(since))
        .fetch_one(&self.pool)
        .await?;
        Ok(to_u64(value))
    }

    async fn record_location(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        region: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO subscriber_locations (id, tenant, subscriber_id, region, at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(region)
        .bind(to_unix_millis(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn region_seen_between(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        region: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let seen: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscriber_locations WHERE tenant = $1 AND subscriber_id = $2 \
             AND region = $3 AND at >= $4 AND at < $5",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(region)
        .bind(to_unix_millis(from))
        .bind(to_unix_millis(to))
        .fetch_one(&self.pool)
        .await?;
        Ok(seen > 0)
    }

    async fn last_location(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        since: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
        let row = sqlx::query(
            "SELECT region, at FROM subscriber_locations WHERE tenant = $1 \
             AND subscriber_id = $2 AND at > $3 AND at <= $4 ORDER BY at DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(to_unix_millis(since))
        .bind(to_unix_millis(at))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((row.try_get("region")?, from_unix_millis(row.try_get("at")?))))
            .transpose()
    }

    async fn insert_face_template(
        &self,
        tenant: &TenantId,
        template: &FaceTemplateRow,
    ) -> Result<(), StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let bytes: Vec<u8> = template
            .template
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        let sealed = self.data_keys.seal(&bytes, &face_template_binding(&id))?;
        sqlx::query(
            "INSERT INTO face_templates (id, tenant, subscriber_id, document_hash, \
             template_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(tenant.as_str())
        .bind(&template.subscriber_id)
        .bind(&template.document_hash)
        .bind(sealed)
        .bind(to_unix_millis(template.created_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn recent_face_templates(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<FaceTemplateRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, subscriber_id, document_hash, template_sealed, created_at \
             FROM face_templates WHERE tenant = $1 AND created_at >= $2 \
             ORDER BY created_at DESC LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(to_unix_millis(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let sealed: String = row.try_get("template_sealed")?;
                let bytes = self.data_keys.open(&sealed, &face_template_binding(&id))?;
                if bytes.len() % 4 != 0 {
                    return Err(corrupt("face_templates.template_sealed", "length"));
                }
                Ok(FaceTemplateRow {
                    subscriber_id: row.try_get("subscriber_id")?,
                    document_hash: row.try_get("document_hash")?,
                    template: bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    created_at: from_unix_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    async fn open_alert_exists(
        &self,
        tenant: &TenantId,
        rule: &str,
        key_hash: &str,
    ) -> Result<bool, StoreError> {
        let found = sqlx::query(
            "SELECT id FROM alerts WHERE tenant = $1 AND rule = $2 AND key_hash = $3 \
             AND acked_at IS NULL LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(rule)
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn insert_alert(&self, alert: &AlertRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO alerts (id, tenant, rule, severity, action, signal, key_kind, key_hash, \
             subscriber_id, total, threshold, raised_at, acked_at, acked_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&alert.id)
        .bind(alert.tenant.as_str())
        .bind(&alert.rule)
        .bind(alert.severity.as_str())
        .bind(alert.action.as_str())
        .bind(alert.signal.as_str())
        .bind(alert.key_kind.as_str())
        .bind(&alert.key_hash)
        .bind(&alert.subscriber_id)
        .bind(to_i64(alert.total))
        .bind(to_i64(alert.threshold))
        .bind(to_unix_millis(alert.raised_at))
        .bind(alert.acked_at.map(to_unix_millis))
        .bind(alert.acked_by.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_alerts(
        &self,
        tenant: &TenantId,
        include_acked: bool,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError> {
        let filter = if include_acked {
            ""
        } else {
            " AND acked_at IS NULL"
        };
        let rows = sqlx::query(&format!(
            "SELECT * FROM alerts WHERE tenant = $1{filter} ORDER BY raised_at DESC, id LIMIT $2"
        ))
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert_from_row).collect()
    }

    async fn find_alert(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<AlertRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM alerts WHERE tenant = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(alert_from_row).transpose()
    }

    async fn ack_alert(
        &self,
        tenant: &TenantId,
        id: &str,
        by: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE alerts SET acked_at = $1, acked_by = $2 \
             WHERE tenant = $3 AND id = $4 AND acked_at IS NULL",
        )
        .bind(to_unix_millis(at))
        .bind(by)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
