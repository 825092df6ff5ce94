//! API-key persistence, run against SQLite and PostgreSQL with the same bodies.

#![allow(clippy::unwrap_used)] // a failed set-up step should abort the test loudly

use simgate_core::{ScopeSet, TenantId, api_key::generate_api_key};
use simgate_store::{ApiKeyRecord, NewApiKey, Store as _, StoreError, both_backends};
use time::macros::datetime;

fn new_key(tenant: &str, name: &str, scopes: &str) -> (NewApiKey, String) {
    let generated = generate_api_key();
    let key = NewApiKey {
        record: ApiKeyRecord {
            id: generated.id,
            tenant: TenantId::parse(tenant).unwrap(),
            name: name.to_owned(),
            display_prefix: generated.display_prefix,
            scopes: ScopeSet::parse_list(scopes).unwrap(),
            created_at: datetime!(2026-11-25 10:00:00.123 UTC),
            revoked_at: None,
        },
        key_hash: generated.hash,
    };
    (key, generated.secret)
}

both_backends! {
    async fn migrations_are_idempotent_and_ping_answers(db: TestDatabase) {
        let store = db.migrated_store().await;
        store.migrate().await.expect("second migrate is a no-op");
        store.ping().await.expect("ping");
    }

    async fn stored_key_is_found_by_hash_of_its_secret_only(db: TestDatabase) {
        let store = db.migrated_store().await;
        let (key, secret) = new_key("carrier-a", "kiosk 1", "verify,otp");
        store.insert_api_key(&key).await.unwrap();

        let found = store
            .find_active_api_key(&simgate_core::api_key::hash_api_key(&secret))
            .await
            .unwrap()
            .expect("key found by hash");
        assert_eq!(found, key.record, "every field round-trips, including millisecond timestamps");
        let wrong = simgate_core::api_key::hash_api_key(&format!("{secret}x"));
        assert!(store.find_active_api_key(&wrong).await.unwrap().is_none());
    }

    async fn listing_and_revoking_respect_the_tenant(db: TestDatabase) {
        let store = db.migrated_store().await;
        let (a1, a1_secret) = new_key("carrier-a", "a1", "verify");
        let (a2, _) = new_key("carrier-a", "a2", "admin");
        let (b1, _) = new_key("carrier-b", "b1", "verify");
        for key in [&a1, &a2, &b1] {
            store.insert_api_key(key).await.unwrap();
        }
        let tenant_a = TenantId::parse("carrier-a").unwrap();
        let tenant_b = TenantId::parse("carrier-b").unwrap();

        let names: Vec<String> =
            store.list_api_keys(Some(&tenant_a)).await.unwrap().into_iter().map(|k| k.name).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"a1".to_owned()) && names.contains(&"a2".to_owned()));
        assert_eq!(store.list_api_keys(None).await.unwrap().len(), 3);

        let at = datetime!(2026-11-25 11:00:00 UTC);
        assert!(!store.revoke_api_key(Some(&tenant_b), &a1.record.id, at).await.unwrap(),
            "another tenant cannot revoke the key");
        let hash = simgate_core::api_key::hash_api_key(&a1_secret);
        assert!(store.find_active_api_key(&hash).await.unwrap().is_some());

        assert!(store.revoke_api_key(Some(&tenant_a), &a1.record.id, at).await.unwrap());
        assert!(store.find_active_api_key(&hash).await.unwrap().is_none(), "revoked keys stop working");
        assert!(!store.revoke_api_key(Some(&tenant_a), &a1.record.id, at).await.unwrap(),
            "revoking twice reports nothing revoked");
        let listed = store.list_api_keys(Some(&tenant_a)).await.unwrap();
        let revoked = listed.iter().find(|k| k.id == a1.record.id).unwrap();
        assert_eq!(revoked.revoked_at, Some(at));
    }

    async fn duplicate_key_hash_is_a_conflict(db: TestDatabase) {
        let store = db.migrated_store().await;
        let (key, _) = new_key("carrier-a", "k", "verify");
        store.insert_api_key(&key).await.unwrap();
        let mut again = key.clone();
        again.record.id = "key_other".into();
        assert!(matches!(store.insert_api_key(&again).await, Err(StoreError::Conflict(_))));
    }
}
