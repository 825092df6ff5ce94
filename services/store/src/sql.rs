//! The sqlx implementation of [`Store`](crate::Store) over `AnyPool`.
//!
//! SQLite files get WAL, a busy timeout and foreign keys on every connection; their parent
//! directory is created. PostgreSQL is used as given. Queries use `$n` placeholders, which both
//! drivers accept.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use simgate_core::{
    ScopeSet, TenantId,
    clock::{from_unix_millis, to_unix_millis},
};
use sqlx::{
    AnyPool, Executor as _, Row as _,
    any::{AnyPoolOptions, AnyRow},
};
use time::OffsetDateTime;

use crate::{ApiKeyRecord, NewApiKey, Store, StoreError, StoredSigningKey, encryption::DataKeys};

mod incident;
mod retention;
mod risk;
mod rotation;
mod second_factor;
mod sessions;

/// The migrations every backend runs.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connection settings.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user:pass@host:port/db`.
    pub url: String,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
    /// How long to wait for a connection before failing a request.
    pub acquire_timeout: Duration,
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Picks the backend from the URL scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// The production store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    data_keys: DataKeys,
}

impl SqlStore {
    /// Opens a pool (creating the SQLite file and its directory if needed). Does not migrate.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&settings.url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(&settings.url)?,
            Backend::Postgres => settings.url.clone(),
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout);
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await.map_err(StoreError::Connect)?;
        Ok(Self {
            pool,
            backend,
            data_keys: DataKeys::none(),
        })
    }

    /// Uses `data_keys` to seal and open encrypted columns.
    pub fn with_data_keys(mut self, data_keys: DataKeys) -> Self {
        self.data_keys = data_keys;
        self
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Which engine this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Adds `mode=rwc` and creates the parent directory of a file-backed SQLite URL.
fn prepare_sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::UnsupportedUrl(
            "in-memory SQLite loses data between pooled connections; give a file path".into(),
        ));
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::Connect(sqlx::Error::Io(e)))?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Hides the password of a database URL before it goes into a message.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn api_key_from_row(row: &AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let corrupt =
        |what: &str, err: String| StoreError::CorruptRow(format!("api_keys.{what}: {err}"));
    let tenant: String = row.try_get("tenant")?;
    let scopes: String = row.try_get("scopes")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        tenant: TenantId::parse(&tenant).map_err(|e| corrupt("tenant", e.to_string()))?,
        name: row.try_get("name")?,
        display_prefix: row.try_get("key_prefix")?,
        scopes: ScopeSet::parse_list(&scopes).map_err(|e| corrupt("scopes", e.to_string()))?,
        created_at: from_unix_millis(row.try_get("created_at")?),
        revoked_at: revoked_at.map(from_unix_millis),
    })
}

pub(crate) fn signing_key_binding(kid: &str) -> String {
    format!("signing_keys/private_key_sealed/{kid}")
}

const API_KEY_COLUMNS: &str = "id, tenant, name, key_prefix, scopes, created_at, revoked_at";

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_api_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        let r = &key.record;
        let result = sqlx::query(
            "INSERT INTO api_keys (id, tenant, name, key_prefix, key_hash, scopes, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&r.id)
        .bind(r.tenant.as_str())
        .bind(&r.name)
        .bind(&r.display_prefix)
        .bind(&key.key_hash)
        .bind(r.scopes.to_list())
        .bind(to_unix_millis(r.created_at))
        .bind(r.revoked_at.map(to_unix_millis))
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::Conflict("key"))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn find_active_api_key(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = match tenant {
            Some(tenant) => sqlx::query(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant = $1 ORDER BY created_at, id"
            ))
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?,
            None => {
                sqlx::query(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = match tenant {
            Some(tenant) => {
                sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant = $3 AND revoked_at IS NULL",
                )
                .bind(to_unix_millis(at))
                .bind(id)
                .bind(tenant.as_str())
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(to_unix_millis(at))
                    .bind(id)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(result.rows_affected() == 1)
    }

    async fn rotate_signing_key(
        &self,
        new_key: &StoredSigningKey,
        retire_previous_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sealed = self.data_keys.seal(
            &new_key.private_key_pkcs8,
            &signing_key_binding(&new_key.kid),
        )?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE signing_keys SET retire_at = $1 WHERE retire_at IS NULL")
            .bind(to_unix_millis(retire_previous_at))
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key_sealed, created_at, retire_at) VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(&new_key.kid)
        .bind(&new_key.algorithm)
        .bind(sealed)
        .bind(to_unix_millis(new_key.created_at))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::Conflict("key id"));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    async fn active_signing_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, private_key_sealed, created_at, retire_at FROM signing_keys \
             WHERE retire_at IS NULL OR retire_at > $1 ORDER BY created_at DESC, kid",
        )
        .bind(to_unix_millis(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kid: String = row.try_get("kid")?;
                let sealed: String = row.try_get("private_key_sealed")?;
                let retire_at: Option<i64> = row.try_get("retire_at")?;
                Ok(StoredSigningKey {
                    private_key_pkcs8: self.data_keys.open(&sealed, &signing_key_binding(&kid))?,
                    algorithm: row.try_get("algorithm")?,
                    created_at: from_unix_millis(row.try_get("created_at")?),
                    retire_at: retire_at.map(from_unix_millis),
                    kid,
                })
            })
            .collect()
    }

    async fn purge_retired_signing_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT kid FROM signing_keys WHERE retire_at IS NOT NULL AND retire_at <= $1",
        )
        .bind(to_unix_millis(now))
        .fetch_all(&mut *tx)
        .await?;
        let kids = rows
            .iter()
            .map(|row| row.try_get::<String, _>("kid"))
            .collect::<Result<Vec<_>, _>>()?;
        sqlx::query("DELETE FROM signing_keys WHERE retire_at IS NOT NULL AND retire_at <= $1")
            .bind(to_unix_millis(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(kids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(
            Backend::from_url("sqlite://var/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(
            matches!(Backend::from_url("mysql://u:secret@h/db"), Err(StoreError::UnsupportedUrl(m)) if !m.contains("secret"))
        );
    }

    #[test]
    fn sqlite_urls_get_create_mode_and_keep_other_options() {
        let dir = std::env::temp_dir().join(format!("simgate-url-{}", std::process::id()));
        let file = dir.join("a.db");
        let url = prepare_sqlite_url(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(url, format!("sqlite://{}?mode=rwc", file.display()));
        assert!(dir.is_dir(), "parent directory is created");
        let url = prepare_sqlite_url(&format!("sqlite://{}?cache=shared", file.display())).unwrap();
        assert!(url.ends_with("?cache=shared&mode=rwc"));
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db:5432/simgate"),
            "postgres://app:***@db:5432/simgate"
        );
        assert_eq!(
            redact_url("sqlite://var/simgate.db"),
            "sqlite://var/simgate.db"
        );
    }
}
