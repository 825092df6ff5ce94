//! Re-encryption under the current data key (`simgate keys rotate-data-key`): every sealed
//! column is walked in primary-key order, one page at a time; a value sealed with an older key
//! is opened and sealed again with the current one, bound to the same row, and written back only
//! if it is still the value that was read (compare-and-set), so a row a replica changed
//! meanwhile is left to that replica, which already wrote it with the current key.

use std::collections::BTreeMap;

use sqlx::Row as _;

use super::SqlStore;
use crate::{StoreError, encryption::DataKeys};

/// One sealed column: where it is, its row key, and the binding its values are sealed with.
struct SealedColumn {
    table: &'static str,
    column: &'static str,
    keys: &'static [&'static str],
    binding: fn(&[String]) -> String,
}

/// A binding that starts with a tenant; a stored tenant that no longer parses gets an empty
/// binding, which no sealed value opens under, so the sweep reports the row instead of skipping.
fn with_tenant(tenant: &str, binding: impl Fn(&simgate_core::TenantId) -> String) -> String {
    simgate_core::TenantId::parse(tenant)
        .map(|tenant| binding(&tenant))
        .unwrap_or_default()
}

/// Every sealed column, with the binding function the store seals it under.
const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "verifications",
        column: "body_sealed",
        keys: &["id"],
        binding: |k| super::sessions::verification_binding(&k[0]),
    },
    SealedColumn {
        table: "idempotency_keys",
        column: "response_sealed",
        keys: &["tenant", "idempotency_key"],
        binding: |k| with_tenant(&k[0], |t| super::sessions::idempotency_binding(t, &k[1])),
    },
    SealedColumn {
        table: "outbox",
        column: "payload_sealed",
        keys: &["id"],
        binding: |k| super::sessions::outbox_binding(&k[0]),
    },
    SealedColumn {
        table: "service_secrets",
        column: "value_sealed",
        keys: &["name"],
        binding: |k| super::sessions::secret_binding(&k[0]),
    },
    SealedColumn {
        table: "totp_enrolments",
        column: "secret_sealed",
        keys: &["tenant", "subscriber_id"],
        binding: |k| with_tenant(&k[0], |t| super::second_factor::totp_binding(t, &k[1])),
    },
    SealedColumn {
        table: "sms_outbox",
        column: "msisdn_sealed",
        keys: &["id"],
        binding: |k| super::second_factor::sms_binding("msisdn_sealed", &k[0]),
    },
    SealedColumn {
        table: "sms_outbox",
        column: "text_sealed",
        keys: &["id"],
        binding: |k| super::second_factor::sms_binding("text_sealed", &k[0]),
    },
    SealedColumn {
        table: "face_templates",
        column: "template_sealed",
        keys: &["id"],
        binding: |k| super::risk::face_template_binding(&k[0]),
    },
    SealedColumn {
        table: "signing_keys",
        column: "private_key_sealed",
        keys: &["kid"],
        binding: |k| super::signing_key_binding(&k[0]),
    },
];

/// Rows read per query.
const PAGE: i64 = 500;

impl SqlStore {
    /// Re-seals every value sealed with a key other than the current one; returns the values
    /// re-sealed per `table.column`. Fails on a value no configured key opens (nothing after it
    /// in that column is touched), so a missing old key is reported, not skipped.
    pub async fn reseal_with_current_key(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let current = self
            .data_keys
            .current_key_id()
            .ok_or(crate::encryption::EncryptionError::NotConfigured)?
            .to_owned();
        let mut counts = BTreeMap::new();
        for sealed in SEALED_COLUMNS {
            let resealed = self.reseal_column(sealed, &current).await?;
            counts.insert(format!("{}.{}", sealed.table, sealed.column), resealed);
        }
        Ok(counts)
    }

    async fn reseal_column(&self, sealed: &SealedColumn, current: &str) -> Result<u64, StoreError> {
        let key_list = sealed.keys.join(", ");
        let mut after: Option<Vec<String>> = None;
        let mut resealed = 0;
        loop {
            // Keyset paging over a one- or two-column primary key.
            let (condition, binds) = match (&after, sealed.keys) {
                (None, _) => ("1 = 1".to_owned(), Vec::new()),
                (Some(last), [first]) => (format!("{first} > $1"), vec![last[0].clone()]),
                (Some(last), [first, second]) => (
                    format!("({first} > $1 OR ({first} = $1 AND {second} > $2))"),
                    vec![last[0].clone(), last[1].clone()],
                ),
                (Some(_), _) => {
                    return Err(StoreError::CorruptRow(format!(
                        "{}: unsupported key for re-encryption",
                        sealed.table
                    )));
                }
            };
            let statement = format!(
                "SELECT {key_list}, {column} FROM {table} WHERE {condition} \
                 ORDER BY {key_list} LIMIT {PAGE}",
                column = sealed.column,
                table = sealed.table,
            );
            let mut query = sqlx::query(&statement);
            for bind in &binds {
                query = query.bind(bind);
            }
            let rows = query.fetch_all(&self.pool).await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = Some(
                sealed
                    .keys
                    .iter()
                    .map(|key| last.try_get::<String, _>(*key))
                    .collect::<Result<_, _>>()?,
            );
            for row in &rows {
                let Some(value) = row.try_get::<Option<String>, _>(sealed.column)? else {
                    continue;
                };
                if DataKeys::key_id_of(&value) == Some(current) {
                    continue;
                }
                let key_values: Vec<String> = sealed
                    .keys
                    .iter()
                    .map(|key| row.try_get::<String, _>(*key))
                    .collect::<Result<_, _>>()?;
                let binding = (sealed.binding)(&key_values);
                let plaintext = self.data_keys.open(&value, &binding)?;
                let fresh = self.data_keys.seal(&plaintext, &binding)?;
                let key_match: Vec<String> = sealed
                    .keys
                    .iter()
                    .enumerate()
                    .map(|(index, key)| format!("{key} = ${}", index + 3))
                    .collect();
                let update = format!(
                    "UPDATE {table} SET {column} = $1 WHERE {column} = $2 AND {keys}",
                    table = sealed.table,
                    column = sealed.column,
                    keys = key_match.join(" AND "),
                );
                let mut query = sqlx::query(&update).bind(&fresh).bind(&value);
                for key_value in &key_values {
                    query = query.bind(key_value);
                }
                resealed += query.execute(&self.pool).await?.rows_affected();
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        Ok(resealed)
    }
}
