//! Data-key rotation on SQLite and PostgreSQL: values sealed under an old key are re-sealed under
//! the current one, after which a store holding only the new key reads every row; a second pass
//! finds nothing to do; a value no configured key opens stops the sweep with an error.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use simgate_core::TenantId;
use simgate_store::{
    SessionStore as _, SqlStore, TokenStore as _, VerificationRow, both_backends,
    encryption::DataKeys,
    risk::{FaceTemplateRow, RiskStore as _},
    testing::TestDatabase,
};
use time::{OffsetDateTime, macros::datetime};
use zeroize::Zeroizing;

const NOW: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

async fn store_with(db: &TestDatabase, spec: &str, current: &str) -> SqlStore {
    SqlStore::connect(&db.settings())
        .await
        .unwrap()
        .with_data_keys(DataKeys::parse(spec, Some(current)).unwrap())
}

both_backends! {
    async fn values_sealed_under_an_old_key_are_resealed_under_the_current_one(db: TestDatabase) {
        let old = DataKeys::generate_spec_entry("2026-10");
        let new = DataKeys::generate_spec_entry("2026-11");
        let tenant = TenantId::parse("carrier-a").unwrap();

        let before = store_with(&db, &old, "2026-10").await;
        before.migrate().await.unwrap();
        before
            .insert_verification(&VerificationRow {
                id: "ver_1".into(),
                tenant: tenant.clone(),
                channel: "kiosk".into(),
                status: "approved".into(),
                subscriber_id: "sub_1".into(),
                created_at: NOW,
                expires_at: NOW,
                updated_at: NOW,
                version: 1,
                body: Zeroizing::new(br#"{"applicant":"personal data"}"#.to_vec()),
            })
            .await
            .unwrap();
        before
            .insert_face_template(
                &tenant,
                &FaceTemplateRow {
                    subscriber_id: "sub_1".into(),
                    document_hash: "d".into(),
                    template: vec![0.25; 128],
                    created_at: NOW,
                },
            )
            .await
            .unwrap();
        let secret = before.get_or_create_secret("risk_key", &[7; 32], NOW).await.unwrap();

        let both = store_with(&db, &format!("{old},{new}"), "2026-11").await;
        let counts = both.reseal_with_current_key().await.unwrap();
        assert_eq!(counts["verifications.body_sealed"], 1, "{counts:?}");
        assert_eq!(counts["face_templates.template_sealed"], 1, "{counts:?}");
        assert_eq!(counts["service_secrets.value_sealed"], 1, "{counts:?}");
        assert_eq!(
            both.reseal_with_current_key().await.unwrap().values().sum::<u64>(),
            0,
            "a second pass finds nothing under the old key"
        );

        // The old key can now be removed from the configuration.
        let after = store_with(&db, &new, "2026-11").await;
        let row = after.find_verification(&tenant, "ver_1").await.unwrap().unwrap();
        assert_eq!(&row.body[..], br#"{"applicant":"personal data"}"#);
        let templates = after.recent_face_templates(&tenant, NOW, 10).await.unwrap();
        assert_eq!(templates[0].template, vec![0.25; 128]);
        assert_eq!(
            after.get_or_create_secret("risk_key", &[9; 32], NOW).await.unwrap(),
            secret
        );

        // A value under a key nobody has any more is an error, not a silent skip.
        let stranger = store_with(&db, &DataKeys::generate_spec_entry("2027-01"), "2027-01").await;
        assert!(stranger.reseal_with_current_key().await.is_err());
    }
}
