//! Persistence for simgate. The only crate that knows SQL.
//!
//! - [`Store`]: the trait the API holds; every method is tenant-aware where rows belong to a tenant.
//! - [`SqlStore`]: the sqlx implementation over SQLite (embedded default) or PostgreSQL, chosen by
//!   the URL scheme. Both run the same portable migrations in `migrations/` (times are Unix
//!   milliseconds in `BIGINT`, text in `TEXT`), so one test suite covers both.
//! - [`testing`] (feature `testing`): a private database per test on either backend.

mod sql;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use simgate_core::{ScopeSet, TenantId};
use time::OffsetDateTime;

pub use sql::{Backend, DatabaseSettings, SqlStore};

/// Everything that can go wrong in the store. Knows nothing of HTTP.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one we support.
    #[error("unsupported database URL (expected sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    /// Could not reach or open the database.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored row holds a value that no longer parses (corruption or a bad manual edit).
    #[error("stored row is invalid: {0}")]
    CorruptRow(String),
    /// An insert collided with an existing unique value.
    #[error("a record with this {0} already exists")]
    Conflict(&'static str),
}

/// An API key as stored: never the secret, only its hash and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id, e.g. `key_0123abcd...`.
    pub id: String,
    /// The tenant whose data the key may touch.
    pub tenant: TenantId,
    /// Human name given at creation.
    pub name: String,
    /// First characters of the secret, to tell keys apart.
    pub display_prefix: String,
    /// What the key may do.
    pub scopes: ScopeSet,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key to insert: the record plus the secret's hash.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The metadata to store.
    pub record: ApiKeyRecord,
    /// SHA-256 of the secret, hex.
    pub key_hash: String,
}

/// The persistence operations the service needs. Held as `Arc<dyn Store>` in the app state.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Checks that the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Stores a new API key.
    async fn insert_api_key(&self, key: &NewApiKey) -> Result<(), StoreError>;
    /// Finds the unrevoked key whose secret hashes to `key_hash`.
    async fn find_active_api_key(&self, key_hash: &str)
    -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Lists keys, of one tenant or (operator CLI only) of all tenants, oldest first.
    async fn list_api_keys(
        &self,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Revokes a key; with a tenant, only that tenant's key. Returns false when no such active key.
    async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
