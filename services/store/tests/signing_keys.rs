//! Signing-key persistence: sealed at rest, rotated atomically, retired on time. Both backends.

#![allow(clippy::unwrap_used)]

use simgate_store::{Store as _, StoreError, StoredSigningKey, both_backends};
use time::{Duration, OffsetDateTime, macros::datetime};
use zeroize::Zeroizing;

fn key(kid: &str, created_at: OffsetDateTime) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".to_owned(),
        private_key_pkcs8: Zeroizing::new(format!("pkcs8 bytes of {kid}").into_bytes()),
        created_at,
        retire_at: None,
    }
}

both_backends! {
    async fn rotation_keeps_one_current_key_and_retires_the_rest_on_time(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t0 = datetime!(2026-11-25 10:00 UTC);
        assert!(store.active_signing_keys(t0).await.unwrap().is_empty());

        store.rotate_signing_key(&key("k1", t0), t0).await.unwrap();
        let t1 = t0 + Duration::hours(1);
        store.rotate_signing_key(&key("k2", t1), t1 + Duration::hours(24)).await.unwrap();

        let active = store.active_signing_keys(t1).await.unwrap();
        let kids: Vec<&str> = active.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["k2", "k1"], "newest first; the old key stays during the overlap");
        assert_eq!(active[0].retire_at, None);
        assert_eq!(active[1].retire_at, Some(t1 + Duration::hours(24)));
        assert_eq!(active[1].private_key_pkcs8.as_slice(), b"pkcs8 bytes of k1", "opened from its sealed form");

        let after_overlap = t1 + Duration::hours(24);
        let kids: Vec<String> = store.active_signing_keys(after_overlap).await.unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["k2"]);
        assert_eq!(store.purge_retired_signing_keys(after_overlap).await.unwrap(), ["k1"]);
        assert!(store.purge_retired_signing_keys(after_overlap).await.unwrap().is_empty());

        assert!(matches!(store.rotate_signing_key(&key("k2", t1), t1).await, Err(StoreError::Conflict(_))));
        let kids: Vec<String> = store.active_signing_keys(after_overlap).await.unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, ["k2"], "a failed rotation changes nothing");
    }

    async fn private_keys_are_not_stored_in_clear_and_need_the_data_key(db: TestDatabase) {
        let store = db.migrated_store().await;
        let t0 = datetime!(2026-11-25 10:00 UTC);
        store.rotate_signing_key(&key("k1", t0), t0).await.unwrap();

        let other_keys = simgate_store::encryption::DataKeys::parse(
            &simgate_store::encryption::DataKeys::generate_spec_entry("test-1"), None).unwrap();
        let wrong = simgate_store::SqlStore::connect(&db.settings()).await.unwrap().with_data_keys(other_keys);
        assert!(matches!(wrong.active_signing_keys(t0).await, Err(StoreError::Encryption(_))),
            "a store with another data key cannot open the private key");
        let none = simgate_store::SqlStore::connect(&db.settings()).await.unwrap();
        assert!(matches!(none.active_signing_keys(t0).await, Err(StoreError::Encryption(_))));
    }
}
