//! The audit chain and subscriber freezes against SQLite and PostgreSQL with the same bodies:
//! concurrent appends from several writers stay one dense chain; an edited, deleted or relinked
//! row is reported at the entry where the chain breaks; freezes and bulk token revocation are
//! per tenant and report only what they changed.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use std::sync::Arc;

use simgate_core::TenantId;
use simgate_store::{
    ActivationTokenRow, TokenStore as _, both_backends,
    incident::{AuditChainBreak, IncidentStore, NewAuditEntry, SubscriberFreeze, verify_audit_log},
};
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn entry(n: usize) -> NewAuditEntry {
    NewAuditEntry {
        tenant: tenant("carrier-a"),
        actor: "key_admin".into(),
        action: "subscriber.frozen".into(),
        subject: format!("subscriber:sub_{n}"),
        details: format!(r#"{{"reason":"case-{n}"}}"#),
    }
}

fn token(jti: &str, subscriber: &str, expires_at: OffsetDateTime) -> ActivationTokenRow {
    ActivationTokenRow {
        jti: jti.into(),
        tenant: tenant("carrier-a"),
        verification_id: format!("ver_{jti}"),
        subscriber_id: subscriber.into(),
        kid: "kid-1".into(),
        issued_at: NOW,
        expires_at,
        revoked_at: None,
        revoked_reason: None,
        redeemed_at: None,
    }
}

both_backends! {
    async fn concurrent_appends_form_one_chain_and_edits_are_found(db: TestDatabase) {
        let store = Arc::new(db.migrated_store().await);
        let report = verify_audit_log(store.as_ref()).await.unwrap();
        assert_eq!((report.checked, report.broken), (0, None), "an empty log is sound");

        // Four writers at once, as four replicas would: every append lands, in one chain.
        let writers = (0..4).map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..5 {
                    store.append_audit(&entry(w * 10 + i), NOW).await.unwrap();
                }
            })
        });
        for writer in writers {
            writer.await.unwrap();
        }
        let report = verify_audit_log(store.as_ref()).await.unwrap();
        assert_eq!((report.checked, &report.broken), (20, &None));
        let head = report.head_hash.clone();
        assert_eq!(head.len(), 64);

        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        // An operator "corrects" the reason of entry 7.
        sqlx::query("UPDATE audit_log SET details = '{\"reason\":\"benign\"}' WHERE seq = 7")
            .execute(&pool)
            .await
            .unwrap();
        let report = verify_audit_log(store.as_ref()).await.unwrap();
        assert_eq!(report.broken, Some(AuditChainBreak::HashMismatch { seq: 7 }));
        assert_eq!(report.checked, 6, "entries before the edit are still sound");

        // Rehashing the edited row to hide the edit breaks the link from its successor.
        let edited = store.audit_entries_after(6, 1).await.unwrap().remove(0);
        sqlx::query("UPDATE audit_log SET hash = $1 WHERE seq = 7")
            .bind(edited.expected_hash())
            .execute(&pool)
            .await
            .unwrap();
        let report = verify_audit_log(store.as_ref()).await.unwrap();
        assert_eq!(report.broken, Some(AuditChainBreak::BrokenLink { seq: 8, previous: 7 }));

        // Deleting an entry leaves a gap.
        sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(&pool).await.unwrap();
        let report = verify_audit_log(store.as_ref()).await.unwrap();
        assert_eq!(report.broken, Some(AuditChainBreak::Gap { previous: 2, found: 4 }));

        // Entries about one subject, for a timeline.
        let about = store
            .audit_entries_for_subject(&tenant("carrier-a"), "subscriber:sub_12", 10)
            .await
            .unwrap();
        assert_eq!(about.len(), 1);
        assert!(store
            .audit_entries_for_subject(&tenant("carrier-b"), "subscriber:sub_12", 10)
            .await
            .unwrap()
            .is_empty());
    }

    async fn freezes_and_bulk_revocation_are_per_tenant(db: TestDatabase) {
        let store = db.migrated_store().await;
        let (a, b) = (tenant("carrier-a"), tenant("carrier-b"));
        let freeze = SubscriberFreeze {
            frozen_at: NOW,
            reason: "sim_swap_suspected".into(),
            actor: "key_admin".into(),
        };
        assert!(store.subscriber_freeze(&a, "sub_1").await.unwrap().is_none());
        assert!(store.freeze_subscriber(&a, "sub_1", &freeze).await.unwrap());
        let again = SubscriberFreeze { reason: "second".into(), ..freeze.clone() };
        assert!(!store.freeze_subscriber(&a, "sub_1", &again).await.unwrap());
        assert_eq!(store.subscriber_freeze(&a, "sub_1").await.unwrap(), Some(freeze));
        assert!(store.subscriber_freeze(&b, "sub_1").await.unwrap().is_none());
        assert!(store.unfreeze_subscriber(&a, "sub_1").await.unwrap());
        assert!(!store.unfreeze_subscriber(&a, "sub_1").await.unwrap());

        let later = NOW + Duration::minutes(10);
        store.insert_activation_token(&token("j1", "sub_1", later)).await.unwrap();
        store.insert_activation_token(&token("j2", "sub_1", later)).await.unwrap();
        store.insert_activation_token(&token("j3", "sub_2", later)).await.unwrap();
        // Already expired: nothing to revoke.
        store.insert_activation_token(&token("j4", "sub_1", NOW - Duration::minutes(1))).await.unwrap();
        assert!(store.revoke_activation_token(&a, "j2", NOW, "lost_device").await.unwrap());

        assert!(store.revoke_subscriber_tokens(&b, "sub_1", NOW, "x").await.unwrap().is_empty());
        let revoked = store.revoke_subscriber_tokens(&a, "sub_1", NOW, "fraud").await.unwrap();
        assert_eq!(revoked, vec![("j1".to_owned(), "ver_j1".to_owned())]);
        let j1 = store.find_activation_token("j1").await.unwrap().unwrap();
        assert_eq!(j1.revoked_reason.as_deref(), Some("fraud"));
        let j3 = store.find_activation_token("j3").await.unwrap().unwrap();
        assert!(j3.revoked_at.is_none(), "another subscriber's token is untouched");
        assert!(store.revoke_subscriber_tokens(&a, "sub_1", NOW, "fraud").await.unwrap().is_empty());
    }
}
