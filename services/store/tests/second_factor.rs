//! Second-factor persistence against SQLite and PostgreSQL with the same bodies: TOTP
//! enrolments, the lock counter and replay marker under concurrency, SMS-code attempts by
//! compare-and-set, send history windows, and the SMS outbox driven by the real delivery worker.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use std::sync::Arc;

use simgate_core::{ManualClock, Msisdn, TenantId};
use simgate_otp::gateway::testing::RecordingSmsGateway;
use simgate_otp::{OtpError, SmsCodeHash, StoredSmsCode, TotpEnrolmentState};
use simgate_sms::testing::sms_text;
use simgate_sms::{
    DeliveryState, OutboundSms, OutboxWorker, RetryPolicy, SmsMessageId, SmsOutbox as _,
    WorkerSettings,
};
use simgate_store::{SecondFactorStore as _, SmsCodeRow, both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn code_row(hash_of: &str, message_id: &str) -> SmsCodeRow {
    SmsCodeRow {
        code: StoredSmsCode {
            code_hash: SmsCodeHash::parse(&hex_hash(hash_of)).unwrap(),
            issued_at: NOW,
            expires_at: NOW + Duration::minutes(5),
            attempts: 0,
            max_attempts: 5,
            consumed_at: None,
        },
        message_id: message_id.to_owned(),
    }
}

/// A well-formed (64 hex digit) stand-in for an HMAC, distinct per input.
fn hex_hash(seed: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(seed.as_bytes()))
}

both_backends! {
    async fn totp_enrolment_is_pending_until_activated_and_sealed_at_rest(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t = tenant("carrier-a");
        assert!(store.find_totp_enrolment(&t, "sub_1").await.unwrap().is_none());
        assert!(store.put_pending_totp_enrolment(&t, "sub_1", &[1; 20], NOW).await.unwrap());
        // A pending enrolment may be replaced (the subscriber scanned nothing yet).
        let later = NOW + Duration::minutes(1);
        assert!(store.put_pending_totp_enrolment(&t, "sub_1", &[2; 20], later).await.unwrap());
        let found = store.find_totp_enrolment(&t, "sub_1").await.unwrap().unwrap();
        assert_eq!((found.state, &found.secret[..]), (TotpEnrolmentState::Pending, &[2u8; 20][..]));
        // Activation names the enrolment it confirmed: the replaced one cannot be activated.
        assert!(!store.activate_totp_enrolment(&t, "sub_1", NOW, later).await.unwrap());
        assert!(store.activate_totp_enrolment(&t, "sub_1", later, later).await.unwrap());
        assert!(!store.activate_totp_enrolment(&t, "sub_1", later, later).await.unwrap());
        // An active enrolment is never silently replaced.
        assert!(!store.put_pending_totp_enrolment(&t, "sub_1", &[3; 20], later).await.unwrap());
        let active = store.find_totp_enrolment(&t, "sub_1").await.unwrap().unwrap();
        assert_eq!((active.state, &active.secret[..]), (TotpEnrolmentState::Active, &[2u8; 20][..]));
        // Other tenants see nothing.
        assert!(store.find_totp_enrolment(&tenant("carrier-b"), "sub_1").await.unwrap().is_none());

        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let sealed: String = sqlx::query_scalar("SELECT secret_sealed FROM totp_enrolments")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(sealed.starts_with("v1."), "{sealed}");

        assert!(store.delete_totp_enrolment(&t, "sub_1").await.unwrap());
        assert!(!store.delete_totp_enrolment(&t, "sub_1").await.unwrap());
    }

    async fn concurrent_failures_are_all_counted_and_lock_at_the_limit(db: TestDatabase) {
        let store = Arc::new(db.migrated_store().await);
        let t = tenant("carrier-a");
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let store = Arc::clone(&store);
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                store.record_otp_failure(&t, "sub_1", 10, NOW).await.unwrap()
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let state = store.otp_state(&t, "sub_1").await.unwrap();
        assert_eq!(state.consecutive_failures, 12, "no failure lost to a race");
        assert_eq!(state.locked_at, Some(NOW));
        assert!(matches!(state.ensure_unlocked(), Err(OtpError::SubscriberLocked { .. })));
        // Another tenant's subscriber with the same id is untouched.
        assert!(!store.otp_state(&tenant("carrier-b"), "sub_1").await.unwrap().is_locked());

        store.unlock_otp(&t, "sub_1").await.unwrap();
        let unlocked = store.otp_state(&t, "sub_1").await.unwrap();
        assert_eq!((unlocked.consecutive_failures, unlocked.locked_at), (0, None));
        store.record_otp_failure(&t, "sub_1", 10, NOW).await.unwrap();
        store.record_otp_success(&t, "sub_1").await.unwrap();
        assert_eq!(store.otp_state(&t, "sub_1").await.unwrap().consecutive_failures, 0);
    }

    async fn a_totp_step_is_consumed_once_even_by_racing_requests(db: TestDatabase) {
        let store = Arc::new(db.migrated_store().await);
        let t = tenant("carrier-a");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = Arc::clone(&store);
            let t = t.clone();
            tasks.push(tokio::spawn(async move {
                store.advance_totp_step(&t, "sub_1", 59_000_000).await.unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1);
        assert!(!store.advance_totp_step(&t, "sub_1", 58_999_999).await.unwrap(), "older step");
        assert!(store.advance_totp_step(&t, "sub_1", 59_000_001).await.unwrap());
        assert_eq!(store.otp_state(&t, "sub_1").await.unwrap().last_totp_step, Some(59_000_001));
    }

    async fn sms_code_attempts_are_compare_and_set_and_a_resend_replaces_the_code(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t = tenant("carrier-a");
        let first = code_row("first", "sms_1");
        store.put_sms_code(&t, "ver_1", &first).await.unwrap();
        assert_eq!(store.find_sms_code(&t, "ver_1").await.unwrap().unwrap(), first);
        assert!(store.find_sms_code(&tenant("carrier-b"), "ver_1").await.unwrap().is_none());

        let mut counted = first.code.clone();
        counted.attempts = 1;
        assert!(store.update_sms_code_attempt(&t, "ver_1", 0, &counted).await.unwrap());
        // A second request that also read attempts = 0 loses.
        assert!(!store.update_sms_code_attempt(&t, "ver_1", 0, &counted).await.unwrap());

        let second = code_row("second", "sms_2");
        store.put_sms_code(&t, "ver_1", &second).await.unwrap();
        assert_eq!(store.find_sms_code(&t, "ver_1").await.unwrap().unwrap(), second);
        // An update computed against the replaced code does not touch the new one.
        let mut stale = first.code.clone();
        stale.attempts = 2;
        assert!(!store.update_sms_code_attempt(&t, "ver_1", 1, &stale).await.unwrap());
        let mut consumed = second.code.clone();
        consumed.attempts = 1;
        consumed.consumed_at = Some(NOW);
        assert!(store.update_sms_code_attempt(&t, "ver_1", 0, &consumed).await.unwrap());
        assert_eq!(store.find_sms_code(&t, "ver_1").await.unwrap().unwrap().code.consumed_at, Some(NOW));
    }

    async fn send_history_counts_per_number_and_per_client_inside_the_window(db: TestDatabase) {
        let store = db.migrated_store().await;
        store.record_sms_send("sub_1", "key_a", NOW - Duration::minutes(90)).await.unwrap();
        store.record_sms_send("sub_1", "key_a", NOW - Duration::minutes(30)).await.unwrap();
        store.record_sms_send("sub_1", "key_b", NOW - Duration::minutes(10)).await.unwrap();
        store.record_sms_send("sub_2", "key_a", NOW - Duration::minutes(5)).await.unwrap();
        let history = store.sms_send_history("sub_1", "key_a", NOW - Duration::hours(1)).await.unwrap();
        let mut msisdn = history.msisdn_sends.clone();
        msisdn.sort();
        assert_eq!(msisdn, vec![NOW - Duration::minutes(30), NOW - Duration::minutes(10)]);
        let mut client = history.client_sends.clone();
        client.sort();
        assert_eq!(client, vec![NOW - Duration::minutes(30), NOW - Duration::minutes(5)]);
    }

    async fn sms_outbox_leases_erase_texts_and_report_unfinished_attempts(db: TestDatabase) {
        let store = db.migrated_store().await;
        let clock = ManualClock::new(NOW);
        let (text, code) = sms_text("{code} is your {carrier} code");
        let msisdn = Msisdn::parse("+33612345678").unwrap();
        let message = OutboundSms::new(msisdn.clone(), text, NOW + Duration::minutes(5), &clock);
        let id = message.id.clone();
        store.enqueue(message.clone()).await.unwrap();
        assert!(store.enqueue(message).await.is_err(), "an id is queued once");

        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let sealed: String = sqlx::query_scalar("SELECT text_sealed FROM sms_outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(!sealed.contains(&code) && !sealed.contains("33612345678"));

        let claimed = store.claim_due(NOW, Duration::seconds(60), 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].msisdn, msisdn);
        assert!(claimed[0].text.as_str().contains(&code));
        assert!(!claimed[0].previous_attempt_unfinished);
        assert!(store.claim_due(NOW, Duration::seconds(60), 10).await.unwrap().is_empty(), "leased");

        // The worker died: after the lease the message is due again, flagged as unfinished, and
        // the dead worker's late outcome is refused.
        let later = NOW + Duration::seconds(61);
        let reclaimed = store.claim_due(later, Duration::seconds(60), 10).await.unwrap();
        assert_eq!(reclaimed.len(), 1);
        assert!(reclaimed[0].previous_attempt_unfinished);
        assert_eq!(reclaimed[0].attempt, 2);
        let receipt = simgate_otp::GatewayReceipt { gateway: "test".into(), message_id: Some("gw-1".into()) };
        assert!(store.mark_delivered(&claimed[0].claim, &receipt, later).await.is_err());
        store.mark_delivered(&reclaimed[0].claim, &receipt, later).await.unwrap();

        let status = store.status(&id).await.unwrap().unwrap();
        assert_eq!(status.state, DeliveryState::Delivered);
        assert_eq!(status.attempts, 2);
        assert_eq!(status.gateway_message_id.as_deref(), Some("gw-1"));
        let (text_left, number_left): (Option<String>, Option<String>) = (
            sqlx::query_scalar("SELECT text_sealed FROM sms_outbox").fetch_one(&pool).await.unwrap(),
            sqlx::query_scalar("SELECT msisdn_sealed FROM sms_outbox").fetch_one(&pool).await.unwrap(),
        );
        assert_eq!((text_left, number_left), (None, None), "final messages keep no code or number");
        assert!(store.status(&SmsMessageId::generate()).await.unwrap().is_none());
    }

    async fn the_delivery_worker_survives_a_gateway_outage_and_sends_once(db: TestDatabase) {
        let store = Arc::new(db.migrated_store().await);
        let clock = Arc::new(ManualClock::new(NOW));
        let gateway = Arc::new(RecordingSmsGateway::new());
        let settings = WorkerSettings::new(
            Duration::seconds(60),
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(20),
            RetryPolicy::new(Duration::seconds(2), Duration::seconds(60), 0.0).unwrap(),
            None,
            Duration::seconds(30),
        )
        .unwrap();
        let worker = OutboxWorker::new(store.clone(), gateway.clone(), clock.clone(), settings);
        let (text, code) = sms_text("{code} is your {carrier} code");
        let message = OutboundSms::new(
            Msisdn::parse("+33612345678").unwrap(),
            text,
            NOW + Duration::minutes(5),
            clock.as_ref(),
        );
        let id = message.id.clone();
        store.enqueue(message).await.unwrap();

        gateway.fail_with(Some(OtpError::GatewayUnavailable("connection refused".into())));
        worker.deliver_due().await.unwrap();
        let status = store.status(&id).await.unwrap().unwrap();
        assert_eq!(status.state, DeliveryState::Retrying);
        assert_eq!(status.last_error.as_deref().map(|e| e.contains("connection refused")), Some(true));
        // Not due yet: nothing is attempted before the backoff passes.
        assert_eq!(worker.deliver_due().await.unwrap().claimed(), 0);

        gateway.fail_with(None);
        clock.advance(Duration::seconds(3));
        worker.deliver_due().await.unwrap();
        clock.advance(Duration::seconds(120));
        worker.deliver_due().await.unwrap();
        let sent = gateway.sent();
        assert_eq!(sent.len(), 1, "delivered exactly once");
        assert!(sent[0].text.as_str().contains(&code));
        assert_eq!(store.status(&id).await.unwrap().unwrap().state, DeliveryState::Delivered);
    }
}
