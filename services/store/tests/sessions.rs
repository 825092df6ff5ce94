//! Verification rows, Idempotency-Key records, activation-token bookkeeping, generated secrets
//! and the delivery outbox, against SQLite and PostgreSQL with the same bodies.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use simgate_core::TenantId;
use simgate_store::{
    ActivationTokenRow, IdempotencyBegin, IdempotentAnswer, NewOutboxMessage, OutboxStatus,
    OutboxStore as _, SessionStore as _, StoreError, TokenStore as _, VerificationRow,
    both_backends,
};
use time::{Duration, OffsetDateTime, macros::datetime};
use zeroize::Zeroizing;

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn verification(id: &str) -> VerificationRow {
    VerificationRow {
        id: id.to_owned(),
        tenant: tenant("carrier-a"),
        channel: "kiosk".into(),
        status: "in_progress".into(),
        subscriber_id: "sub_1".into(),
        created_at: NOW,
        expires_at: NOW + Duration::minutes(30),
        updated_at: NOW,
        version: 1,
        body: Zeroizing::new(br#"{"msisdn":"+23057001234"}"#.to_vec()),
    }
}

fn token(jti: &str) -> ActivationTokenRow {
    ActivationTokenRow {
        jti: jti.to_owned(),
        tenant: tenant("carrier-a"),
        verification_id: "ver_1".into(),
        subscriber_id: "sub_1".into(),
        kid: "kid-1".into(),
        issued_at: NOW,
        expires_at: NOW + Duration::minutes(10),
        revoked_at: None,
        revoked_reason: None,
        redeemed_at: None,
    }
}

fn message(id: &str) -> NewOutboxMessage {
    NewOutboxMessage {
        id: id.to_owned(),
        kind: "webhook".into(),
        tenant: tenant("carrier-a"),
        payload: Zeroizing::new(b"{\"event\":\"decision\"}".to_vec()),
        deliver_after: NOW,
        expires_at: None,
    }
}

both_backends! {
    async fn verifications_page_by_creation_time_within_a_range(db: TestDatabase) {
        let store = db.migrated_store().await;
        // Five sessions, two created in the same millisecond (the id breaks the tie), one before
        // the range, one of another tenant.
        let rows = [
            ("ver_a", 0, "carrier-a"),
            ("ver_b", 10, "carrier-a"),
            ("ver_c", 10, "carrier-a"),
            ("ver_d", 20, "carrier-a"),
            ("ver_early", -60, "carrier-a"),
            ("ver_other", 5, "carrier-b"),
        ];
        for (id, minutes, owner) in rows {
            let mut row = verification(id);
            row.tenant = tenant(owner);
            row.created_at = NOW + Duration::minutes(minutes);
            store.insert_verification(&row).await.unwrap();
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .verifications_created_between(&tenant("carrier-a"), NOW, NOW + Duration::hours(1), after.clone(), 2)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.created_at, last.id.clone()));
            seen.extend(page.iter().map(|row| row.id.clone()));
        }
        assert_eq!(seen, ["ver_a", "ver_b", "ver_c", "ver_d"]);
        let until_ten = store
            .verifications_created_between(&tenant("carrier-a"), NOW, NOW + Duration::minutes(10), None, 10)
            .await
            .unwrap();
        assert_eq!(until_ten.len(), 1, "until is exclusive");
    }

    async fn verification_rows_are_tenant_scoped_and_updated_by_compare_and_set(db: TestDatabase) {
        let store = db.migrated_store().await;
        let row = verification("ver_a");
        store.insert_verification(&row).await.unwrap();
        let found = store.find_verification(&tenant("carrier-a"), "ver_a").await.unwrap().unwrap();
        assert_eq!(found, row);
        assert!(store.find_verification(&tenant("carrier-b"), "ver_a").await.unwrap().is_none());

        let mut next = found.clone();
        next.version = 2;
        next.status = "approved".into();
        next.body = Zeroizing::new(b"{}".to_vec());
        assert!(store.update_verification(&next).await.unwrap());
        // A second writer that loaded version 1 loses.
        assert!(!store.update_verification(&next).await.unwrap());
        let stored = store.find_verification(&tenant("carrier-a"), "ver_a").await.unwrap().unwrap();
        assert_eq!(stored.status, "approved");
        assert_eq!(&*stored.body, b"{}");
    }

    async fn verification_body_is_sealed_at_rest(db: TestDatabase) {
        let store = db.migrated_store().await;
        store.insert_verification(&verification("ver_b")).await.unwrap();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let sealed: String = sqlx::query_scalar("SELECT body_sealed FROM verifications")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!sealed.contains("23057001234"));
    }

    async fn idempotency_keys_replay_refuse_mismatch_and_recover_from_crashes(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t = tenant("carrier-a");
        let lock = Duration::seconds(30);
        assert_eq!(store.begin_idempotent_request(&t, "k1", "h1", NOW, lock).await.unwrap(), IdempotencyBegin::Started);
        assert_eq!(store.begin_idempotent_request(&t, "k1", "h1", NOW, lock).await.unwrap(), IdempotencyBegin::InProgress);
        assert_eq!(store.begin_idempotent_request(&t, "k1", "h2", NOW, lock).await.unwrap(), IdempotencyBegin::Mismatch);
        // Another tenant's identical key is independent.
        assert_eq!(store.begin_idempotent_request(&tenant("carrier-b"), "k1", "h1", NOW, lock).await.unwrap(), IdempotencyBegin::Started);
        store.complete_idempotent_request(&t, "k1", 201, b"{\"id\":1}").await.unwrap();
        match store.begin_idempotent_request(&t, "k1", "h1", NOW, lock).await.unwrap() {
            IdempotencyBegin::Replay { status_code, body } => {
                assert_eq!(status_code, 201);
                assert_eq!(&*body, b"{\"id\":1}");
            }
            other => panic!("expected a replay, got {other:?}"),
        }
        // A request whose process died: the lock runs out and exactly one retry takes over.
        store.begin_idempotent_request(&t, "k2", "h", NOW, lock).await.unwrap();
        let later = NOW + Duration::seconds(31);
        assert_eq!(store.begin_idempotent_request(&t, "k2", "h", later, lock).await.unwrap(), IdempotencyBegin::Started);
        assert_eq!(store.begin_idempotent_request(&t, "k2", "h", later, lock).await.unwrap(), IdempotencyBegin::InProgress);
        // A failed request frees its key for a retry.
        store.abandon_idempotent_request(&t, "k2").await.unwrap();
        assert_eq!(store.begin_idempotent_request(&t, "k2", "h", later, lock).await.unwrap(), IdempotencyBegin::Started);
    }

    async fn a_session_and_its_idempotent_answer_are_stored_together_or_not_at_all(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t = tenant("carrier-a");
        let lock = Duration::seconds(30);
        let answer = |key: &str| IdempotentAnswer {
            key: key.to_owned(),
            status_code: 201,
            body: Zeroizing::new(b"{\"id\":\"ver_x\"}".to_vec()),
        };
        assert_eq!(store.begin_idempotent_request(&t, "open-1", "h", NOW, lock).await.unwrap(), IdempotencyBegin::Started);
        store.insert_verification_answering(&verification("ver_x"), &answer("open-1")).await.unwrap();
        // No separate completion was stored, yet a retry (even after the lock lapsed) replays.
        let later = NOW + Duration::seconds(31);
        match store.begin_idempotent_request(&t, "open-1", "h", later, lock).await.unwrap() {
            IdempotencyBegin::Replay { status_code, body } => {
                assert_eq!(status_code, 201);
                assert_eq!(&*body, b"{\"id\":\"ver_x\"}");
            }
            other => panic!("expected a replay, got {other:?}"),
        }
        // A key already answered (or never claimed) refuses the insert, and no session is kept.
        let refused = store.insert_verification_answering(&verification("ver_y"), &answer("open-1")).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        assert!(store.find_verification(&t, "ver_y").await.unwrap().is_none());
        let unclaimed = store.insert_verification_answering(&verification("ver_z"), &answer("never-claimed")).await;
        assert!(matches!(unclaimed, Err(StoreError::Conflict(_))), "{unclaimed:?}");
        assert!(store.find_verification(&t, "ver_z").await.unwrap().is_none());
    }

    async fn a_session_change_and_its_idempotent_answer_are_stored_together_or_not_at_all(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t = tenant("carrier-a");
        let lock = Duration::seconds(30);
        store.insert_verification(&verification("ver_u")).await.unwrap();
        let changed = |version: i64, status: &str| VerificationRow {
            version,
            status: status.into(),
            ..verification("ver_u")
        };
        let answer = |key: &str| IdempotentAnswer {
            key: key.to_owned(),
            status_code: 201,
            body: Zeroizing::new(b"{\"token\":\"t\"}".to_vec()),
        };
        assert_eq!(store.begin_idempotent_request(&t, "act-1", "h", NOW, lock).await.unwrap(), IdempotencyBegin::Started);
        assert!(store.update_verification_answering(&changed(2, "activated"), &answer("act-1")).await.unwrap());
        match store.begin_idempotent_request(&t, "act-1", "h", NOW + Duration::seconds(31), lock).await.unwrap() {
            IdempotencyBegin::Replay { status_code, body } => {
                assert_eq!(status_code, 201);
                assert_eq!(body.as_slice(), b"{\"token\":\"t\"}");
            }
            other => panic!("expected a replay, got {other:?}"),
        }
        // A stale version stores neither the change nor the answer.
        assert_eq!(store.begin_idempotent_request(&t, "act-2", "h", NOW, lock).await.unwrap(), IdempotencyBegin::Started);
        assert!(!store.update_verification_answering(&changed(2, "rejected"), &answer("act-2")).await.unwrap());
        assert_eq!(store.begin_idempotent_request(&t, "act-2", "h", NOW, lock).await.unwrap(), IdempotencyBegin::InProgress);
        // A key already answered refuses, and the change is rolled back with it.
        let refused = store.update_verification_answering(&changed(3, "rejected"), &answer("act-1")).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
        let kept = store.find_verification(&t, "ver_u").await.unwrap().unwrap();
        assert_eq!((kept.version, kept.status.as_str()), (2, "activated"));
    }

    async fn tokens_redeem_once_and_revocation_is_tenant_scoped(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t = tenant("carrier-a");
        store.insert_activation_token(&token("j1")).await.unwrap();
        store.insert_activation_token(&token("j2")).await.unwrap();
        assert!(!store.redeem_activation_token(&tenant("carrier-b"), "j1", NOW).await.unwrap());
        assert!(store.redeem_activation_token(&t, "j1", NOW).await.unwrap());
        assert!(!store.redeem_activation_token(&t, "j1", NOW).await.unwrap(), "single use");
        assert!(!store.revoke_activation_token(&tenant("carrier-b"), "j2", NOW, "x").await.unwrap());
        assert!(store.revoke_activation_token(&t, "j2", NOW, "lost phone").await.unwrap());
        assert!(!store.redeem_activation_token(&t, "j2", NOW).await.unwrap(), "revoked tokens do not redeem");
        let row = store.find_activation_token("j2").await.unwrap().unwrap();
        assert_eq!(row.revoked_reason.as_deref(), Some("lost phone"));
        store.insert_activation_token(&token("j3")).await.unwrap();
        assert!(!store.redeem_activation_token(&t, "j3", NOW + Duration::minutes(11)).await.unwrap(), "expired");
    }

    async fn generated_secrets_are_created_once(db: TestDatabase) {
        let store = db.migrated_store().await;
        let first = store.get_or_create_secret("subscriber_key", b"aaaa", NOW).await.unwrap();
        let second = store.get_or_create_secret("subscriber_key", b"bbbb", NOW).await.unwrap();
        assert_eq!(&*first, b"aaaa");
        assert_eq!(&*second, b"aaaa");
    }

    async fn outbox_claims_are_exclusive_and_leases_expire(db: TestDatabase) {
        let store = db.migrated_store().await;
        store.enqueue_outbox(&message("m1")).await.unwrap();
        store.enqueue_outbox(&message("m2")).await.unwrap();
        let lease = Duration::seconds(30);
        let claimed = store.claim_due_outbox("webhook", NOW, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(store.claim_due_outbox("webhook", NOW, lease, 10).await.unwrap().is_empty());
        assert!(store.claim_due_outbox("sms", NOW, lease, 10).await.unwrap().is_empty());
        store.mark_outbox_delivered("m1", NOW).await.unwrap();
        store.mark_outbox_retry("m2", NOW + Duration::seconds(5), "503", NOW).await.unwrap();
        assert!(store.claim_due_outbox("webhook", NOW + Duration::seconds(4), lease, 10).await.unwrap().is_empty());
        let again = store.claim_due_outbox("webhook", NOW + Duration::seconds(5), lease, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 2);
        assert_eq!(&*again[0].payload, b"{\"event\":\"decision\"}");
        // The worker died holding m2: after the lease another claim gets it.
        let after_lease = NOW + Duration::seconds(36);
        assert_eq!(store.claim_due_outbox("webhook", after_lease, lease, 10).await.unwrap().len(), 1);
        store.mark_outbox_failed("m2", "gave up", after_lease).await.unwrap();
        let m2 = store.find_outbox("m2").await.unwrap().unwrap();
        assert_eq!(m2.status, OutboxStatus::Failed);
        assert_eq!(store.find_outbox("m1").await.unwrap().unwrap().status, OutboxStatus::Delivered);
    }
}
