//! [`SqlStore`] implementations of the session, token and outbox traits.
//!
//! Every sealed column is bound to its row (table, column and key) so a sealed value copied into
//! another row does not open. Compare-and-set updates (`WHERE version = ...`, `WHERE redeemed_at
//! IS NULL`, lease checks) make concurrent replicas safe on both backends without row locks.

use async_trait::async_trait;
use simgate_core::{
    TenantId,
    clock::{from_unix_millis, to_unix_millis},
};
use sqlx::{Row as _, any::AnyRow};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use super::SqlStore;
use crate::{
    StoreError,
    records::{
        ActivationTokenRow, IdempotencyBegin, IdempotentAnswer, NewOutboxMessage, OutboxMessage,
        OutboxStatus, OutboxStore, SessionStore, TokenStore, VerificationRow,
    },
};

pub(super) fn verification_binding(id: &str) -> String {
    format!("verifications/body_sealed/{id}")
}

pub(super) fn idempotency_binding(tenant: &TenantId, key: &str) -> String {
    format!("idempotency_keys/response_sealed/{}/{key}", tenant.as_str())
}

pub(super) fn outbox_binding(id: &str) -> String {
    format!("outbox/payload_sealed/{id}")
}

pub(super) fn secret_binding(name: &str) -> String {
    format!("service_secrets/value_sealed/{name}")
}

/// A stored value that no longer parses; `what` names the table and column.
pub(super) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::CorruptRow(format!("{what}: {detail}"))
}

fn tenant_of(row: &AnyRow, table: &str) -> Result<TenantId, StoreError> {
    let tenant: String = row.try_get("tenant")?;
    TenantId::parse(&tenant).map_err(|e| corrupt(&format!("{table}.tenant"), e))
}

/// Whether an insert failed because the row already exists.
pub(super) fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl SqlStore {
    /// Inserts a session row through `executor` (the pool, or a transaction it is part of).
    async fn insert_verification_with<'c>(
        &self,
        executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
        row: &VerificationRow,
    ) -> Result<(), StoreError> {
        let sealed = self
            .data_keys
            .seal(&row.body, &verification_binding(&row.id))?;
        let result = sqlx::query(&format!(
            "INSERT INTO verifications ({VERIFICATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&row.id)
        .bind(row.tenant.as_str())
        .bind(&row.channel)
        .bind(&row.status)
        .bind(&row.subscriber_id)
        .bind(to_unix_millis(row.created_at))
        .bind(to_unix_millis(row.expires_at))
        .bind(to_unix_millis(row.updated_at))
        .bind(row.version)
        .bind(sealed)
        .execute(executor)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if unique_violation(&e) => Err(StoreError::Conflict("verification id")),
            Err(e) => Err(e.into()),
        }
    }

    /// Updates a session row through `executor` if it is still at `row.version - 1`.
    async fn update_verification_with<'c>(
        &self,
        executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
        row: &VerificationRow,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .data_keys
            .seal(&row.body, &verification_binding(&row.id))?;
        let result = sqlx::query(
            "UPDATE verifications SET status = $1, updated_at = $2, version = $3, \
             body_sealed = $4, expires_at = $5 WHERE id = $6 AND tenant = $7 AND version = $8",
        )
        .bind(&row.status)
        .bind(to_unix_millis(row.updated_at))
        .bind(row.version)
        .bind(sealed)
        .bind(to_unix_millis(row.expires_at))
        .bind(&row.id)
        .bind(row.tenant.as_str())
        .bind(row.version - 1)
        .execute(executor)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Stores `answer` on its claimed, unanswered Idempotency-Key inside `tx`; a key that was not
    /// claimed or already answered is a conflict, so the caller's transaction keeps nothing.
    async fn record_answer_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        tenant: &TenantId,
        answer: &IdempotentAnswer,
    ) -> Result<(), StoreError> {
        let sealed = self
            .data_keys
            .seal(&answer.body, &idempotency_binding(tenant, &answer.key))?;
        let recorded = sqlx::query(
            "UPDATE idempotency_keys SET status_code = $1, response_sealed = $2 \
             WHERE tenant = $3 AND idempotency_key = $4 AND status_code IS NULL",
        )
        .bind(i64::from(answer.status_code))
        .bind(sealed)
        .bind(tenant.as_str())
        .bind(&answer.key)
        .execute(&mut **tx)
        .await?;
        if recorded.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict("idempotency key"))
        }
    }

    fn verification_from_row(&self, row: &AnyRow) -> Result<VerificationRow, StoreError> {
        let id: String = row.try_get("id")?;
        let sealed: String = row.try_get("body_sealed")?;
        Ok(VerificationRow {
            body: self.data_keys.open(&sealed, &verification_binding(&id))?,
            tenant: tenant_of(row, "verifications")?,
            channel: row.try_get("channel")?,
            status: row.try_get("status")?,
            subscriber_id: row.try_get("subscriber_id")?,
            created_at: from_unix_millis(row.try_get("created_at")?),
            expires_at: from_unix_millis(row.try_get("expires_at")?),
            updated_at: from_unix_millis(row.try_get("updated_at")?),
            version: row.try_get("version")?,
            id,
        })
    }

    fn outbox_from_row(&self, row: &AnyRow) -> Result<OutboxMessage, StoreError> {
        let id: String = row.try_get("id")?;
        let sealed: String = row.try_get("payload_sealed")?;
        let status: String = row.try_get("status")?;
        let attempts: i64 = row.try_get("attempts")?;
        let delivered_at: Option<i64> = row.try_get("delivered_at")?;
        let expires_at: Option<i64> = row.try_get("expires_at")?;
        Ok(OutboxMessage {
            payload: self.data_keys.open(&sealed, &outbox_binding(&id))?,
            kind: row.try_get("kind")?,
            tenant: tenant_of(row, "outbox")?,
            status: OutboxStatus::parse(&status)
                .ok_or_else(|| corrupt("outbox.status", &status))?,
            attempts: u32::try_from(attempts).map_err(|e| corrupt("outbox.attempts", e))?,
            next_attempt_at: from_unix_millis(row.try_get("next_attempt_at")?),
            last_error: row.try_get("last_error")?,
            created_at: from_unix_millis(row.try_get("created_at")?),
            delivered_at: delivered_at.map(from_unix_millis),
            expires_at: expires_at.map(from_unix_millis),
            id,
        })
    }
}

pub(super) fn token_from_row(row: &AnyRow) -> Result<ActivationTokenRow, StoreError> {
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let redeemed_at: Option<i64> = row.try_get("redeemed_at")?;
    Ok(ActivationTokenRow {
        jti: row.try_get("jti")?,
        tenant: tenant_of(row, "activation_tokens")?,
        verification_id: row.try_get("verification_id")?,
        subscriber_id: row.try_get("subscriber_id")?,
        kid: row.try_get("kid")?,
        issued_at: from_unix_millis(row.try_get("issued_at")?),
        expires_at: from_unix_millis(row.try_get("expires_at")?),
        revoked_at: revoked_at.map(from_unix_millis),
        revoked_reason: row.try_get("revoked_reason")?,
        redeemed_at: redeemed_at.map(from_unix_millis),
    })
}

const VERIFICATION_COLUMNS: &str = "id, tenant, channel, status, subscriber_id, created_at, \
     expires_at, updated_at, version, body_sealed";

const OUTBOX_COLUMNS: &str = "id, kind, tenant, payload_sealed, status, attempts, \
     next_attempt_at, last_error, created_at, delivered_at, expires_at";

const TOKEN_COLUMNS: &str = "jti, tenant, verification_id, subscriber_id, kid, issued_at, \
     expires_at, revoked_at, revoked_reason, redeemed_at";

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_verification(&self, row: &VerificationRow) -> Result<(), StoreError> {
        self.insert_verification_with(&self.pool, row).await
    }

    async fn insert_verification_answering(
        &self,
        row: &VerificationRow,
        answer: &IdempotentAnswer,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        self.insert_verification_with(&mut *tx, row).await?;
        self.record_answer_in(&mut tx, &row.tenant, answer).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_verification(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<VerificationRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = $1 AND tenant = $2"
        ))
        .bind(id)
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| self.verification_from_row(row))
            .transpose()
    }

    async fn verifications_created_between(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
        until: OffsetDateTime,
        after: Option<(OffsetDateTime, String)>,
        limit: u32,
    ) -> Result<Vec<VerificationRow>, StoreError> {
        // Keyset paging: (created_at, id) > the last row seen, written portably (no row values).
        let (after_created, after_id) = after.map_or((i64::MIN, String::new()), |(at, id)| {
            (to_unix_millis(at), id)
        });
        let rows = sqlx::query(&format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE tenant = $1 \
             AND created_at >= $2 AND created_at < $3 \
             AND (created_at > $4 OR (created_at = $4 AND id > $5)) \
             ORDER BY created_at, id LIMIT $6"
        ))
        .bind(tenant.as_str())
        .bind(to_unix_millis(since))
        .bind(to_unix_millis(until))
        .bind(after_created)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| self.verification_from_row(row))
            .collect()
    }

    async fn update_verification(&self, row: &VerificationRow) -> Result<bool, StoreError> {
        self.update_verification_with(&self.pool, row).await
    }

    async fn update_verification_answering(
        &self,
        row: &VerificationRow,
        answer: &IdempotentAnswer,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !self.update_verification_with(&mut *tx, row).await? {
            return Ok(false);
        }
        self.record_answer_in(&mut tx, &row.tenant, answer).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn begin_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
        lock_for: Duration,
    ) -> Result<IdempotencyBegin, StoreError> {
        let locked_until = to_unix_millis(now + lock_for);
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (tenant, idempotency_key, request_hash, locked_until, \
             status_code, response_sealed, created_at) VALUES ($1, $2, $3, $4, NULL, NULL, $5)",
        )
        .bind(tenant.as_str())
        .bind(key)
        .bind(request_hash)
        .bind(locked_until)
        .bind(to_unix_millis(now))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => return Ok(IdempotencyBegin::Started),
            Err(e) if unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(row) = sqlx::query(
            "SELECT request_hash, locked_until, status_code, response_sealed FROM idempotency_keys \
             WHERE tenant = $1 AND idempotency_key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        else {
            // Abandoned between our insert and select: the caller may simply retry.
            return Ok(IdempotencyBegin::InProgress);
        };
        let stored_hash: String = row.try_get("request_hash")?;
        if stored_hash != request_hash {
            return Ok(IdempotencyBegin::Mismatch);
        }
        let status_code: Option<i64> = row.try_get("status_code")?;
        if let Some(status_code) = status_code {
            let sealed: String = row.try_get("response_sealed")?;
            return Ok(IdempotencyBegin::Replay {
                status_code: u16::try_from(status_code)
                    .map_err(|e| corrupt("idempotency_keys.status_code", e))?,
                body: self
                    .data_keys
                    .open(&sealed, &idempotency_binding(tenant, key))?,
            });
        }
        let previous_lock: i64 = row.try_get("locked_until")?;
        if previous_lock > to_unix_millis(now) {
            return Ok(IdempotencyBegin::InProgress);
        }
        // The process that held the key died before answering: take it over, unless another
        // retry got there first.
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET locked_until = $1 WHERE tenant = $2 \
             AND idempotency_key = $3 AND locked_until = $4 AND status_code IS NULL",
        )
        .bind(locked_until)
        .bind(tenant.as_str())
        .bind(key)
        .bind(previous_lock)
        .execute(&self.pool)
        .await?;
        Ok(if taken.rows_affected() == 1 {
            IdempotencyBegin::Started
        } else {
            IdempotencyBegin::InProgress
        })
    }

    async fn complete_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &str,
        status_code: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let sealed = self
            .data_keys
            .seal(body, &idempotency_binding(tenant, key))?;
        // An answer once recorded is kept: a handler that stored its answer with its change
        // (`*_answering`) already did, and what the client received is that.
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = $1, response_sealed = $2 \
             WHERE tenant = $3 AND idempotency_key = $4 AND status_code IS NULL",
        )
        .bind(i64::from(status_code))
        .bind(sealed)
        .bind(tenant.as_str())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn abandon_idempotent_request(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant = $1 AND idempotency_key = $2 \
             AND status_code IS NULL",
        )
        .bind(tenant.as_str())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn insert_activation_token(&self, row: &ActivationTokenRow) -> Result<(), StoreError> {
        let result = sqlx::query(&format!(
            "INSERT INTO activation_tokens ({TOKEN_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&row.jti)
        .bind(row.tenant.as_str())
        .bind(&row.verification_id)
        .bind(&row.subscriber_id)
        .bind(&row.kid)
        .bind(to_unix_millis(row.issued_at))
        .bind(to_unix_millis(row.expires_at))
        .bind(row.revoked_at.map(to_unix_millis))
        .bind(row.revoked_reason.as_deref())
        .bind(row.redeemed_at.map(to_unix_millis))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if unique_violation(&e) => Err(StoreError::Conflict("token id")),
            Err(e) => Err(e.into()),
        }
    }

    async fn find_activation_token(
        &self,
        jti: &str,
    ) -> Result<Option<ActivationTokenRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM activation_tokens WHERE jti = $1"
        ))
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn revoke_activation_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE activation_tokens SET revoked_at = $1, revoked_reason = $2 \
             WHERE jti = $3 AND tenant = $4 AND revoked_at IS NULL",
        )
        .bind(to_unix_millis(now))
        .bind(reason)
        .bind(jti)
        .bind(tenant.as_str())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn redeem_activation_token(
        &self,
        tenant: &TenantId,
        jti: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE activation_tokens SET redeemed_at = $1 WHERE jti = $2 AND tenant = $3 \
             AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(to_unix_millis(now))
        .bind(jti)
        .bind(tenant.as_str())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn get_or_create_secret(
        &self,
        name: &str,
        candidate: &[u8],
        now: OffsetDateTime,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let binding = secret_binding(name);
        let sealed = self.data_keys.seal(candidate, &binding)?;
        let inserted = sqlx::query(
            "INSERT INTO service_secrets (name, value_sealed, created_at) VALUES ($1, $2, $3)",
        )
        .bind(name)
        .bind(sealed)
        .bind(to_unix_millis(now))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let stored: String =
            sqlx::query("SELECT value_sealed FROM service_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?
                .try_get("value_sealed")?;
        Ok(self.data_keys.open(&stored, &binding)?)
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_outbox(&self, message: &NewOutboxMessage) -> Result<(), StoreError> {
        let sealed = self
            .data_keys
            .seal(&message.payload, &outbox_binding(&message.id))?;
        let created = to_unix_millis(message.deliver_after);
        let result = sqlx::query(
            "INSERT INTO outbox (id, kind, tenant, payload_sealed, status, attempts, \
             next_attempt_at, lease_until, last_error, created_at, updated_at, delivered_at, \
             expires_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, NULL, NULL, $5, $5, NULL, $6)",
        )
        .bind(&message.id)
        .bind(&message.kind)
        .bind(message.tenant.as_str())
        .bind(sealed)
        .bind(created)
        .bind(message.expires_at.map(to_unix_millis))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if unique_violation(&e) => Err(StoreError::Conflict("outbox message id")),
            Err(e) => Err(e.into()),
        }
    }

    async fn claim_due_outbox(
        &self,
        kind: &str,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let now_ms = to_unix_millis(now);
        let candidates = sqlx::query(
            "SELECT id FROM outbox WHERE kind = $1 AND ( \
               (status IN ('queued', 'retrying') AND next_attempt_at <= $2) \
               OR (status = 'sending' AND lease_until <= $2)) \
             ORDER BY next_attempt_at, id LIMIT $3",
        )
        .bind(kind)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let id: String = candidate.try_get("id")?;
            // Claim by compare-and-set so two workers never hold the same message.
            let taken = sqlx::query(
                "UPDATE outbox SET status = 'sending', lease_until = $1, attempts = attempts + 1, \
                 updated_at = $2 WHERE id = $3 AND ( \
                   (status IN ('queued', 'retrying') AND next_attempt_at <= $2) \
                   OR (status = 'sending' AND lease_until <= $2))",
            )
            .bind(to_unix_millis(now + lease))
            .bind(now_ms)
            .bind(&id)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1
                && let Some(message) = self.find_outbox(&id).await?
            {
                claimed.push(message);
            }
        }
        Ok(claimed)
    }

    async fn mark_outbox_delivered(&self, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'delivered', delivered_at = $1, updated_at = $1, \
             lease_until = NULL, last_error = NULL WHERE id = $2",
        )
        .bind(to_unix_millis(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_outbox_retry(
        &self,
        id: &str,
        next_attempt_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'retrying', next_attempt_at = $1, last_error = $2, \
             lease_until = NULL, updated_at = $3 WHERE id = $4 AND status = 'sending'",
        )
        .bind(to_unix_millis(next_attempt_at))
        .bind(error)
        .bind(to_unix_millis(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_outbox_failed(
        &self,
        id: &str,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = 'failed', last_error = $1, lease_until = NULL, \
             updated_at = $2 WHERE id = $3 AND status <> 'delivered'",
        )
        .bind(error)
        .bind(to_unix_millis(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_outbox(&self, id: &str) -> Result<Option<OutboxMessage>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| self.outbox_from_row(row))
            .transpose()
    }
}
