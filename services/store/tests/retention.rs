//! The retention purge on SQLite and PostgreSQL: records older than their cutoff go, newer ones
//! and open alerts stay, and the counts say what went.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use simgate_core::TenantId;
use simgate_risk::{KeyKind, RuleAction, Severity, Signal};
use simgate_store::{
    SecondFactorStore as _, SessionStore as _, VerificationRow, both_backends,
    retention::PurgeCutoffs,
    risk::{AlertRow, FaceTemplateRow, RiskEvent, RiskStore as _},
};
use time::{Duration, OffsetDateTime, macros::datetime};
use zeroize::Zeroizing;

const NOW: OffsetDateTime = datetime!(2026-11-26 03:17 UTC);

fn tenant() -> TenantId {
    TenantId::parse("carrier-a").unwrap()
}

fn verification(id: &str, updated: OffsetDateTime) -> VerificationRow {
    VerificationRow {
        id: id.to_owned(),
        tenant: tenant(),
        channel: "kiosk".into(),
        status: "approved".into(),
        subscriber_id: "sub_1".into(),
        created_at: updated,
        expires_at: updated + Duration::minutes(30),
        updated_at: updated,
        version: 1,
        body: Zeroizing::new(b"{}".to_vec()),
    }
}

fn alert(id: &str, raised: OffsetDateTime, acked: Option<OffsetDateTime>) -> AlertRow {
    AlertRow {
        id: id.to_owned(),
        tenant: tenant(),
        rule: "sim_swap_burst".into(),
        severity: Severity::Critical,
        action: RuleAction::FreezeAndRevoke,
        signal: Signal::SimSwap,
        key_kind: KeyKind::Msisdn,
        key_hash: "h".into(),
        subscriber_id: "sub_1".into(),
        total: 2,
        threshold: 2,
        raised_at: raised,
        acked_at: acked,
        acked_by: acked.map(|_| "key_admin".to_owned()),
    }
}

both_backends! {
    async fn records_older_than_their_cutoff_are_purged_and_newer_ones_stay(db: TestDatabase) {
        let store = db.migrated_store().await;
        let old = NOW - Duration::days(400);
        let recent = NOW - Duration::days(1);
        for (id, at) in [("ver_old", old), ("ver_recent", recent)] {
            store.insert_verification(&verification(id, at)).await.unwrap();
        }
        for at in [old, recent] {
            store
                .record_risk_event(&RiskEvent {
                    tenant: tenant(),
                    signal: Signal::SimSwap,
                    keys: vec![(KeyKind::Msisdn, "h".into())],
                    subscriber_id: "sub_1".into(),
                    amount: 1,
                    at,
                })
                .await
                .unwrap();
            store.record_location(&tenant(), "sub_1", "MU", at).await.unwrap();
            store.record_sms_send("sub_1", "key_1", at).await.unwrap();
            store
                .insert_face_template(
                    &tenant(),
                    &FaceTemplateRow {
                        subscriber_id: "sub_1".into(),
                        document_hash: "d".into(),
                        template: vec![0.5; 128],
                        created_at: at,
                    },
                )
                .await
                .unwrap();
        }
        // Acknowledged long ago, acknowledged recently, and old but still open.
        store.insert_alert(&alert("alert_old_acked", old, Some(old))).await.unwrap();
        store.insert_alert(&alert("alert_recent_acked", old, Some(recent))).await.unwrap();
        store.insert_alert(&alert("alert_open", old, None)).await.unwrap();

        let cutoff = NOW - Duration::days(90);
        let counts = store
            .purge_expired(&PurgeCutoffs {
                verifications: cutoff,
                idempotency_keys: cutoff,
                activation_tokens: cutoff,
                otp: cutoff,
                messages: cutoff,
                risk_events: cutoff,
                subscriber_locations: cutoff,
                face_templates: cutoff,
                acknowledged_alerts: cutoff,
            })
            .await
            .unwrap();
        for table in ["verifications", "risk_events", "subscriber_locations", "sms_sends", "face_templates", "alerts"] {
            assert_eq!(counts[table], 1, "{table}: {counts:?}");
        }
        assert!(store.find_verification(&tenant(), "ver_old").await.unwrap().is_none());
        assert!(store.find_verification(&tenant(), "ver_recent").await.unwrap().is_some());
        let total = store
            .risk_total(&tenant(), Signal::SimSwap, (KeyKind::Msisdn, "h"), simgate_risk::Aggregate::Count, old - Duration::days(1))
            .await
            .unwrap();
        assert_eq!(total, 1, "the recent event stays");
        let alerts: Vec<String> = store
            .list_alerts(&tenant(), true, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(alerts.len(), 2);
        assert!(!alerts.contains(&"alert_old_acked".to_owned()), "{alerts:?}");
        assert_eq!(store.recent_face_templates(&tenant(), old - Duration::days(1), 10).await.unwrap().len(), 1);

        // A second purge at the same instant finds nothing more.
        let again = store
            .purge_expired(&PurgeCutoffs {
                verifications: cutoff,
                idempotency_keys: cutoff,
                activation_tokens: cutoff,
                otp: cutoff,
                messages: cutoff,
                risk_events: cutoff,
                subscriber_locations: cutoff,
                face_templates: cutoff,
                acknowledged_alerts: cutoff,
            })
            .await
            .unwrap();
        assert_eq!(again.values().sum::<u64>(), 0);
    }
}
