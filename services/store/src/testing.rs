//! A private, migrated database per test, on SQLite or PostgreSQL.
//!
//! SQLite databases live in a temporary directory. PostgreSQL databases are created with a random
//! name on the server named by `SIMGATE_TEST_POSTGRES_URL` (default: the `simgate` role that
//! `make test` creates on 127.0.0.1:5432) and dropped when the guard is dropped.
//! [`both_backends!`](crate::both_backends) writes one test body as a test per backend.

use std::time::Duration;

use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::{Backend, DatabaseSettings, SqlStore};

/// Server used for PostgreSQL tests unless `SIMGATE_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://simgate:simgate@127.0.0.1:5432/postgres";

/// A database that exists for the life of this value.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL the service under test should use.
    pub url: String,
    /// Which backend this is.
    pub backend: Backend,
    pg_cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Creates an empty database for `backend`. Panics with a clear message when the server is absent,
    /// because a silently skipped PostgreSQL test would hide a broken backend.
    pub async fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create temporary directory for SQLite");
                let url = format!("sqlite://{}", dir.path().join("simgate.db").display());
                Self {
                    url,
                    backend,
                    pg_cleanup: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("SIMGATE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
                let name = format!("simgate_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL tests need a server at {} ({e}); run `make test`, which starts one, \
                         or set SIMGATE_TEST_POSTGRES_URL",
                        crate::sql::redact_url(&admin_url)
                    )
                });
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(base, _)| base);
                let url = format!("{base}/{name}");
                Self {
                    url,
                    backend,
                    pg_cleanup: Some((admin_url, name)),
                    _dir: None,
                }
            }
        }
    }

    /// Settings pointing at this database.
    pub fn settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: self.url.clone(),
            max_connections: 5,
            acquire_timeout: Duration::from_secs(10),
        }
    }

    /// Connects and migrates a store on this database, with a fresh random data key.
    pub async fn migrated_store(&self) -> SqlStore {
        let keys = crate::encryption::DataKeys::parse(
            &crate::encryption::DataKeys::generate_spec_entry("test-1"),
            None,
        )
        .expect("generated data key parses");
        let store = SqlStore::connect(&self.settings())
            .await
            .expect("connect to test database")
            .with_data_keys(keys);
        store.migrate().await.expect("migrate test database");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_cleanup.take() {
            // Drop runs outside async context; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                        let _ = admin
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Writes each `async fn name(db: TestDatabase) { ... }` as a module `name` holding two tokio
/// tests, `sqlite` and `postgres`, so one body runs against both backends.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($db:ident: TestDatabase) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    let $db = $crate::testing::TestDatabase::create($crate::Backend::Sqlite).await;
                    $body
                }

                #[tokio::test]
                async fn postgres() {
                    let $db = $crate::testing::TestDatabase::create($crate::Backend::Postgres).await;
                    $body
                }
            }
        )*
    };
}
