//! Persistence for simgate. The only crate that knows SQL.
//!
//! - [`Store`]: the trait the API holds; every method is tenant-aware where rows belong to a tenant.
//! - [`SqlStore`]: the sqlx implementation over SQLite (embedded default) or PostgreSQL, chosen by
//!   the URL scheme. Both run the same portable migrations in `migrations/` (times are Unix
//!   milliseconds in `BIGINT`, text in `TEXT`), so one test suite covers both.
//! - [`encryption`]: AES-256-GCM sealing of sensitive columns with rotatable data keys.
//! - [`records`]: rows and supertraits of [`Store`] for verification sessions, idempotency keys,
//!   activation tokens, generated service secrets and the delivery outbox.
//! - [`second_factor`]: TOTP enrolments, the OTP lock and replay marker, SMS codes and send
//!   history; [`SqlStore`] also implements the sms crate's outbox trait.
//! - [`incident`]: the hash-chained audit log ([`incident::verify_audit_log`]) and subscriber
//!   freezes.
//! - [`risk`]: events totalled over sliding windows by risk rules, and the alerts they raise.
//! - [`retention`]: what the retention purge deletes, and by when.
//! - [`testing`] (feature `testing`): a private database per test on either backend.

pub mod encryption;
pub mod incident;
pub mod records;
pub mod retention;
pub mod risk;
pub mod second_factor;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use simgate_core::{ScopeSet, TenantId};
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use records::{
    ActivationTokenRow, IdempotencyBegin, IdempotentAnswer, NewOutboxMessage, OutboxMessage,
    OutboxStatus, OutboxStore, SessionStore, TokenStore, VerificationRow,
};
pub use second_factor::{SecondFactorStore, SmsCodeRow, TotpEnrolmentRow};
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
    /// Sealing or opening an encrypted column failed.
    #[error(transparent)]
    Encryption(#[from] encryption::EncryptionError),
}

impl StoreError {
    /// Whether the database is unreachable or dropped the connection (down, restarting, out of
    /// connections): an outage a caller may retry once it is back, as opposed to a statement
    /// that failed or a row that does not parse.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Connect(_) => true,
            Self::Query(error) => sqlx_error_is_unavailable(error),
            _ => false,
        }
    }
}

/// Connection-level failures: I/O, TLS, the pool timing out or closed, and PostgreSQL's SQLSTATE
/// classes 08 (connection exception) and 57P (server shutting down, crashed, not yet accepting
/// connections) and 53300 (too many connections).
fn sqlx_error_is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

/// A token-signing key as stored, private key opened.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Key id (the RFC 7638 thumbprint).
    pub kid: String,
    /// JWS algorithm name (`EdDSA`, `ES256`).
    pub algorithm: String,
    /// PKCS#8 DER of the private key.
    pub private_key_pkcs8: Zeroizing<Vec<u8>>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it stops being published and accepted; `None` for the current key.
    pub retire_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retire_at", &self.retire_at)
            .finish_non_exhaustive()
    }
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
pub trait Store:
    SessionStore
    + TokenStore
    + OutboxStore
    + SecondFactorStore
    + incident::IncidentStore
    + risk::RiskStore
    + simgate_sms::SmsOutbox
    + Send
    + Sync
    + std::fmt::Debug
{
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

    /// Makes `new_key` current: every key without a retirement time gets `retire_previous_at`,
    /// in the same transaction as the insert, so there is always exactly one current key.
    async fn rotate_signing_key(
        &self,
        new_key: &StoredSigningKey,
        retire_previous_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Signing keys not yet retired at `now`, newest first (the first is current).
    async fn active_signing_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Deletes keys retired before `now`; returns their ids.
    async fn purge_retired_signing_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError>;
}
