//! [`SqlStore`] implementations of [`SecondFactorStore`] and the sms crate's [`SmsOutbox`].
//!
//! Counters change inside SQL (`consecutive_failures + 1`) and markers by compare-and-set
//! (`last_totp_step < $n`, `attempts = $previous`, lease tokens), so concurrent replicas never
//! lose a failure, reuse a TOTP step, exceed an SMS code's attempts or record two outcomes for one
//! send. Secrets, numbers and message texts are sealed and bound to their row.

use async_trait::async_trait;
use simgate_core::{
    Msisdn, TenantId,
    clock::{from_unix_millis, to_unix_millis},
};
use simgate_otp::{
    GatewayReceipt, SendHistory, SmsCodeHash, SmsText, StoredSmsCode, SubscriberOtpState,
    TotpEnrolmentState,
};
use simgate_sms::{
    Claim, ClaimedSms, DeliveryState, FailureReason, LeaseToken, OutboundSms, SmsDeliveryStatus,
    SmsError, SmsMessageId, SmsOutbox,
};
use sqlx::{Row as _, any::AnyRow};
use time::{Duration, OffsetDateTime};

use super::{
    SqlStore,
    sessions::{corrupt, unique_violation},
};
use crate::{
    StoreError,
    second_factor::{SecondFactorStore, SmsCodeRow, TotpEnrolmentRow},
};

pub(super) fn totp_binding(tenant: &TenantId, subscriber_id: &str) -> String {
    format!(
        "totp_enrolments/secret_sealed/{}/{subscriber_id}",
        tenant.as_str()
    )
}

pub(super) fn sms_binding(column: &str, id: &str) -> String {
    format!("sms_outbox/{column}/{id}")
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn millis_opt(value: Option<i64>) -> Option<OffsetDateTime> {
    value.map(from_unix_millis)
}

/// The outbox errors are the sms crate's; a database failure is an outage of the outbox.
fn outbox_error(error: impl std::fmt::Display) -> SmsError {
    SmsError::Outbox(error.to_string())
}

impl SqlStore {
    /// Inserts the subscriber's state row if missing, so the updates below always find one.
    async fn ensure_otp_state_row(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO otp_subscriber_state (tenant, subscriber_id, consecutive_failures) \
             VALUES ($1, $2, 0) ON CONFLICT (tenant, subscriber_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn sms_code_from_row(row: &AnyRow) -> Result<SmsCodeRow, StoreError> {
        let hash: String = row.try_get("code_hash")?;
        Ok(SmsCodeRow {
            code: StoredSmsCode {
                code_hash: SmsCodeHash::parse(&hash)
                    .map_err(|e| corrupt("sms_codes.code_hash", e))?,
                issued_at: from_unix_millis(row.try_get("issued_at")?),
                expires_at: from_unix_millis(row.try_get("expires_at")?),
                attempts: count(row.try_get("attempts")?),
                max_attempts: count(row.try_get("max_attempts")?),
                consumed_at: millis_opt(row.try_get("consumed_at")?),
            },
            message_id: row.try_get("message_id")?,
        })
    }

    fn sms_status_from_row(row: &AnyRow) -> Result<SmsDeliveryStatus, StoreError> {
        let id: String = row.try_get("id")?;
        let state: String = row.try_get("state")?;
        let failure: Option<String> = row.try_get("failure")?;
        Ok(SmsDeliveryStatus {
            id: SmsMessageId::parse(&id).map_err(|e| corrupt("sms_outbox.id", e))?,
            state: DeliveryState::parse(&state).map_err(|e| corrupt("sms_outbox.state", e))?,
            attempts: count(row.try_get("attempts")?),
            created_at: from_unix_millis(row.try_get("created_at")?),
            updated_at: from_unix_millis(row.try_get("updated_at")?),
            next_attempt_at: millis_opt(row.try_get("next_attempt_at")?),
            delivered_at: millis_opt(row.try_get("delivered_at")?),
            failure: failure
                .as_deref()
                .map(FailureReason::parse)
                .transpose()
                .map_err(|e| corrupt("sms_outbox.failure", e))?,
            last_error: row.try_get("last_error")?,
            gateway: row.try_get("gateway")?,
            gateway_message_id: row.try_get("gateway_message_id")?,
        })
    }

    /// Applies an outcome update only under the claim's lease.
    async fn update_claimed_sms<'q>(
        &self,
        claim: &Claim,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<(), SmsError> {
        let done = query.execute(&self.pool).await.map_err(outbox_error)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(SmsError::LeaseLost(claim.id.to_string()))
        }
    }
}

#[async_trait]
impl SecondFactorStore for SqlStore {
    async fn put_pending_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        secret: &[u8],
        enrolled_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .data_keys
            .seal(secret, &totp_binding(tenant, subscriber_id))?;
        let done = sqlx::query(
            "INSERT INTO totp_enrolments (tenant, subscriber_id, secret_sealed, state, enrolled_at) \
             VALUES ($1, $2, $3, 'pending', $4) \
             ON CONFLICT (tenant, subscriber_id) DO UPDATE SET \
               secret_sealed = excluded.secret_sealed, state = 'pending', \
               enrolled_at = excluded.enrolled_at, activated_at = NULL \
             WHERE totp_enrolments.state = 'pending'",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(sealed)
        .bind(to_unix_millis(enrolled_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn find_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<Option<TotpEnrolmentRow>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT secret_sealed, state, enrolled_at, activated_at FROM totp_enrolments \
             WHERE tenant = $1 AND subscriber_id = $2",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let sealed: String = row.try_get("secret_sealed")?;
        let state: String = row.try_get("state")?;
        Ok(Some(TotpEnrolmentRow {
            secret: self
                .data_keys
                .open(&sealed, &totp_binding(tenant, subscriber_id))?,
            state: TotpEnrolmentState::parse(&state)
                .map_err(|e| corrupt("totp_enrolments.state", e))?,
            enrolled_at: from_unix_millis(row.try_get("enrolled_at")?),
            activated_at: millis_opt(row.try_get("activated_at")?),
        }))
    }

    async fn activate_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        enrolled_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE totp_enrolments SET state = 'active', activated_at = $1 \
             WHERE tenant = $2 AND subscriber_id = $3 AND state = 'pending' AND enrolled_at = $4",
        )
        .bind(to_unix_millis(now))
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .bind(to_unix_millis(enrolled_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_totp_enrolment(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM totp_enrolments WHERE tenant = $1 AND subscriber_id = $2")
                .bind(tenant.as_str())
                .bind(subscriber_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn otp_state(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<SubscriberOtpState, StoreError> {
        let row = sqlx::query(
            "SELECT consecutive_failures, locked_at, last_totp_step FROM otp_subscriber_state \
             WHERE tenant = $1 AND subscriber_id = $2",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(SubscriberOtpState::default());
        };
        let last_step: Option<i64> = row.try_get("last_totp_step")?;
        Ok(SubscriberOtpState {
            consecutive_failures: count(row.try_get("consecutive_failures")?),
            locked_at: millis_opt(row.try_get("locked_at")?),
            last_totp_step: last_step
                .map(u64::try_from)
                .transpose()
                .map_err(|e| corrupt("otp_subscriber_state.last_totp_step", e))?,
        })
    }

    async fn record_otp_failure(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        max_consecutive_failures: u32,
        now: OffsetDateTime,
    ) -> Result<SubscriberOtpState, StoreError> {
        self.ensure_otp_state_row(tenant, subscriber_id).await?;
        // One statement, so two replicas counting at once both count.
        sqlx::query(
            "UPDATE otp_subscriber_state SET \
               consecutive_failures = consecutive_failures + 1, \
               locked_at = CASE WHEN locked_at IS NULL AND consecutive_failures + 1 >= $1 \
                                THEN $2 ELSE locked_at END \
             WHERE tenant = $3 AND subscriber_id = $4",
        )
        .bind(i64::from(max_consecutive_failures))
        .bind(to_unix_millis(now))
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .execute(&self.pool)
        .await?;
        self.otp_state(tenant, subscriber_id).await
    }

    async fn record_otp_success(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE otp_subscriber_state SET consecutive_failures = 0 \
             WHERE tenant = $1 AND subscriber_id = $2",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn advance_totp_step(
        &self,
        tenant: &TenantId,
        subscriber_id: &str,
        step: u64,
    ) -> Result<bool, StoreError> {
        let step = i64::try_from(step).map_err(|e| corrupt("TOTP step", e))?;
        self.ensure_otp_state_row(tenant, subscriber_id).await?;
        let done = sqlx::query(
            "UPDATE otp_subscriber_state SET last_totp_step = $1 \
             WHERE tenant = $2 AND subscriber_id = $3 \
               AND (last_totp_step IS NULL OR last_totp_step < $1)",
        )
        .bind(step)
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unlock_otp(&self, tenant: &TenantId, subscriber_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE otp_subscriber_state SET consecutive_failures = 0, locked_at = NULL \
             WHERE tenant = $1 AND subscriber_id = $2",
        )
        .bind(tenant.as_str())
        .bind(subscriber_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn put_sms_code(
        &self,
        tenant: &TenantId,
        verification_id: &str,
        row: &SmsCodeRow,
    ) -> Result<(), StoreError> {
        let code = &row.code;
        sqlx::query(
            "INSERT INTO sms_codes (verification_id, tenant, code_hash, message_id, issued_at, \
               expires_at, attempts, max_attempts, consumed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (verification_id) DO UPDATE SET code_hash = excluded.code_hash, \
               message_id = excluded.message_id, issued_at = excluded.issued_at, \
               expires_at = excluded.expires_at, attempts = excluded.attempts, \
               max_attempts = excluded.max_attempts, consumed_at = excluded.consumed_at \
             WHERE sms_codes.tenant = excluded.tenant",
        )
        .bind(verification_id)
        .bind(tenant.as_str())
        .bind(code.code_hash.as_str())
        .bind(&row.message_id)
        .bind(to_unix_millis(code.issued_at))
        .bind(to_unix_millis(code.expires_at))
        .bind(i64::from(code.attempts))
        .bind(i64::from(code.max_attempts))
        .bind(code.consumed_at.map(to_unix_millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_sms_code(
        &self,
        tenant: &TenantId,
        verification_id: &str,
    ) -> Result<Option<SmsCodeRow>, StoreError> {
        sqlx::query(
            "SELECT code_hash, message_id, issued_at, expires_at, attempts, max_attempts, \
               consumed_at FROM sms_codes WHERE tenant = $1 AND verification_id = $2",
        )
        .bind(tenant.as_str())
        .bind(verification_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(Self::sms_code_from_row)
        .transpose()
    }

    async fn update_sms_code_attempt(
        &self,
        tenant: &TenantId,
        verification_id: &str,
        previous_attempts: u32,
        updated: &StoredSmsCode,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sms_codes SET attempts = $1, consumed_at = $2 \
             WHERE tenant = $3 AND verification_id = $4 AND attempts = $5 \
               AND code_hash = $6 AND consumed_at IS NULL",
        )
        .bind(i64::from(updated.attempts))
        .bind(updated.consumed_at.map(to_unix_millis))
        .bind(tenant.as_str())
        .bind(verification_id)
        .bind(i64::from(previous_attempts))
        .bind(updated.code_hash.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_sms_send(
        &self,
        subscriber_id: &str,
        client_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sms_sends (id, subscriber_id, client_id, sent_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(uuid::Uuid::new_v4().simple().to_string())
        .bind(subscriber_id)
        .bind(client_id)
        .bind(to_unix_millis(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sms_send_history(
        &self,
        subscriber_id: &str,
        client_id: &str,
        since: OffsetDateTime,
    ) -> Result<SendHistory, StoreError> {
        let since = to_unix_millis(since);
        let times = |rows: Vec<AnyRow>| -> Result<Vec<OffsetDateTime>, StoreError> {
            rows.iter()
                .map(|row| Ok(from_unix_millis(row.try_get("sent_at")?)))
                .collect()
        };
        let msisdn_sends =
            sqlx::query("SELECT sent_at FROM sms_sends WHERE subscriber_id = $1 AND sent_at > $2")
                .bind(subscriber_id)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        let client_sends =
            sqlx::query("SELECT sent_at FROM sms_sends WHERE client_id = $1 AND sent_at > $2")
                .bind(client_id)
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        Ok(SendHistory {
            msisdn_sends: times(msisdn_sends)?,
            client_sends: times(client_sends)?,
        })
    }
}

#[async_trait]
impl SmsOutbox for SqlStore {
    async fn enqueue(&self, message: OutboundSms) -> Result<(), SmsError> {
        let id = message.id.as_str();
        let msisdn = self
            .data_keys
            .seal(
                message.msisdn.as_e164().as_bytes(),
                &sms_binding("msisdn_sealed", id),
            )
            .map_err(outbox_error)?;
        let text = self
            .data_keys
            .seal(
                message.text.as_str().as_bytes(),
                &sms_binding("text_sealed", id),
            )
            .map_err(outbox_error)?;
        let created = to_unix_millis(message.created_at);
        let inserted = sqlx::query(
            "INSERT INTO sms_outbox (id, msisdn_sealed, text_sealed, state, attempts, created_at, \
               updated_at, expires_at, next_attempt_at) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $4, $5, $4)",
        )
        .bind(id)
        .bind(msisdn)
        .bind(text)
        .bind(created)
        .bind(to_unix_millis(message.expires_at))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if unique_violation(&e) => Err(SmsError::DuplicateMessage(id.to_owned())),
            Err(e) => Err(outbox_error(e)),
        }
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedSms>, SmsError> {
        let now_ms = to_unix_millis(now);
        let candidates = sqlx::query(
            "SELECT id, state FROM sms_outbox WHERE text_sealed IS NOT NULL AND ( \
               (state IN ('queued', 'retrying') AND next_attempt_at <= $1) \
               OR (state = 'sending' AND lease_until <= $1)) \
             ORDER BY COALESCE(next_attempt_at, lease_until), id LIMIT $2",
        )
        .bind(now_ms)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(outbox_error)?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let id: String = candidate.try_get("id").map_err(outbox_error)?;
            let token = LeaseToken::generate();
            // Compare-and-set on the same condition, so two workers never hold one message.
            let row = sqlx::query(
                "UPDATE sms_outbox SET \
                   previous_state = state, state = 'sending', lease_token = $1, lease_until = $2, \
                   attempts = attempts + 1, next_attempt_at = NULL, updated_at = $3 \
                 WHERE id = $4 AND text_sealed IS NOT NULL AND ( \
                   (state IN ('queued', 'retrying') AND next_attempt_at <= $3) \
                   OR (state = 'sending' AND lease_until <= $3)) \
                 RETURNING msisdn_sealed, text_sealed, expires_at, attempts, previous_state",
            )
            .bind(token.as_str())
            .bind(to_unix_millis(now + lease))
            .bind(now_ms)
            .bind(&id)
            .fetch_optional(&self.pool)
            .await
            .map_err(outbox_error)?;
            let Some(row) = row else { continue };
            let msisdn_sealed: String = row.try_get("msisdn_sealed").map_err(outbox_error)?;
            let text_sealed: String = row.try_get("text_sealed").map_err(outbox_error)?;
            let previous: String = row.try_get("previous_state").map_err(outbox_error)?;
            let msisdn = self
                .data_keys
                .open(&msisdn_sealed, &sms_binding("msisdn_sealed", &id))
                .map_err(outbox_error)?;
            let text = self
                .data_keys
                .open(&text_sealed, &sms_binding("text_sealed", &id))
                .map_err(outbox_error)?;
            let msisdn = std::str::from_utf8(&msisdn)
                .map_err(outbox_error)
                .and_then(|m| Msisdn::parse(m).map_err(outbox_error))?;
            let text = String::from_utf8(text.to_vec()).map_err(outbox_error)?;
            claimed.push(ClaimedSms {
                claim: Claim {
                    id: SmsMessageId::parse(&id).map_err(outbox_error)?,
                    lease: token,
                },
                msisdn,
                text: SmsText::from_stored(text),
                expires_at: from_unix_millis(row.try_get("expires_at").map_err(outbox_error)?),
                attempt: count(row.try_get("attempts").map_err(outbox_error)?),
                previous_attempt_unfinished: previous == "sending",
            });
        }
        Ok(claimed)
    }

    async fn mark_delivered(
        &self,
        claim: &Claim,
        receipt: &GatewayReceipt,
        at: OffsetDateTime,
    ) -> Result<(), SmsError> {
        let query = sqlx::query(
            "UPDATE sms_outbox SET state = 'delivered', msisdn_sealed = NULL, text_sealed = NULL, \
               lease_token = NULL, lease_until = NULL, delivered_at = $1, updated_at = $1, \
               gateway = $2, gateway_message_id = $3 \
             WHERE id = $4 AND state = 'sending' AND lease_token = $5",
        )
        .bind(to_unix_millis(at))
        .bind(receipt.gateway.clone())
        .bind(receipt.message_id.clone())
        .bind(claim.id.as_str())
        .bind(claim.lease.as_str());
        self.update_claimed_sms(claim, query).await
    }

    async fn mark_retrying(
        &self,
        claim: &Claim,
        next_attempt_at: OffsetDateTime,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<(), SmsError> {
        let query = sqlx::query(
            "UPDATE sms_outbox SET state = 'retrying', lease_token = NULL, lease_until = NULL, \
               next_attempt_at = $1, last_error = $2, updated_at = $3 \
             WHERE id = $4 AND state = 'sending' AND lease_token = $5",
        )
        .bind(to_unix_millis(next_attempt_at))
        .bind(error.to_owned())
        .bind(to_unix_millis(at))
        .bind(claim.id.as_str())
        .bind(claim.lease.as_str());
        self.update_claimed_sms(claim, query).await
    }

    async fn mark_failed(
        &self,
        claim: &Claim,
        reason: FailureReason,
        error: &str,
        at: OffsetDateTime,
    ) -> Result<(), SmsError> {
        let query = sqlx::query(
            "UPDATE sms_outbox SET state = 'failed', msisdn_sealed = NULL, text_sealed = NULL, \
               lease_token = NULL, lease_until = NULL, failure = $1, last_error = $2, \
               updated_at = $3 \
             WHERE id = $4 AND state = 'sending' AND lease_token = $5",
        )
        .bind(reason.as_str())
        .bind(error.to_owned())
        .bind(to_unix_millis(at))
        .bind(claim.id.as_str())
        .bind(claim.lease.as_str());
        self.update_claimed_sms(claim, query).await
    }

    async fn status(&self, id: &SmsMessageId) -> Result<Option<SmsDeliveryStatus>, SmsError> {
        let row = sqlx::query(
            "SELECT id, state, attempts, created_at, updated_at, next_attempt_at, delivered_at, \
               failure, last_error, gateway, gateway_message_id FROM sms_outbox WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(outbox_error)?;
        row.as_ref()
            .map(Self::sms_status_from_row)
            .transpose()
            .map_err(outbox_error)
    }
}
