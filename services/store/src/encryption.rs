//! Encryption at rest for sensitive columns (signing keys now; templates, document fields and
//! TOTP secrets as those features land).
//!
//! AES-256-GCM with a random 96-bit nonce per value. Each sealed value names the data key that
//! sealed it, so keys rotate without a flag day: new writes use the current key, old rows open
//! with the key they name until re-encrypted. The associated data binds a value to its row
//! (table, column, id), so a ciphertext copied into another row does not open.
//!
//! Text form, portable to SQLite and PostgreSQL `TEXT`: `v1.<key id>.<nonce b64>.<ciphertext b64>`.

use std::{collections::BTreeMap, fmt};

use aes_gcm::{
    Aes256Gcm, Key, KeyInit as _, Nonce,
    aead::{Aead as _, Payload},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use zeroize::Zeroizing;

/// What can go wrong configuring keys or opening a value.
#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    /// The key specification does not parse.
    #[error("invalid data-key specification: {0}")]
    InvalidSpec(String),
    /// No data keys are configured but a sealed value must be written or read.
    #[error(
        "no data encryption key is configured (set encryption.keys or SIMGATE__ENCRYPTION__KEYS_FILE)"
    )]
    NotConfigured,
    /// A stored value names a key that is not configured.
    #[error("data key {0:?} needed to open a stored value is not configured")]
    UnknownKey(String),
    /// A stored value is not in the sealed text form.
    #[error("stored value is not a sealed value")]
    Malformed,
    /// Authentication failed: wrong key, wrong row, or tampering.
    #[error("stored value failed authentication (tampered, moved between rows, or wrong key)")]
    Tampered,
}

/// The configured data keys and which one seals new values.
#[derive(Clone, Default)]
pub struct DataKeys {
    current: Option<String>,
    keys: BTreeMap<String, Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeys")
            .field("current", &self.current)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DataKeys {
    /// No keys: reading or writing a sealed value fails with [`EncryptionError::NotConfigured`].
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `id=base64key[,id=base64key...]` (32-byte keys, standard or URL-safe base64);
    /// `current` names the key that seals new values (default: the last listed).
    pub fn parse(spec: &str, current: Option<&str>) -> Result<Self, EncryptionError> {
        let invalid = |m: String| EncryptionError::InvalidSpec(m);
        let mut keys = BTreeMap::new();
        let mut last = None;
        for entry in spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (id, encoded) = entry.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "entry without '=': key id {:?}",
                    entry.split('=').next().unwrap_or("")
                ))
            })?;
            let id = id.trim();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(invalid(format!(
                    "key id {id:?} must be 1-64 of [A-Za-z0-9_-]"
                )));
            }
            let bytes = Zeroizing::new(
                decode_base64(encoded.trim())
                    .ok_or_else(|| invalid(format!("key {id:?} is not base64")))?,
            );
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                invalid(format!("key {id:?} must be 32 bytes, got {}", bytes.len()))
            })?;
            if keys.insert(id.to_owned(), Zeroizing::new(key)).is_some() {
                return Err(invalid(format!("key id {id:?} listed twice")));
            }
            last = Some(id.to_owned());
        }
        let current = match current.map(str::trim).filter(|c| !c.is_empty()) {
            Some(id) if keys.contains_key(id) => Some(id.to_owned()),
            Some(id) => {
                return Err(invalid(format!(
                    "current key {id:?} is not among the configured keys"
                )));
            }
            None => last,
        };
        Ok(Self { current, keys })
    }

    /// A fresh random key in the text form [`DataKeys::parse`] reads, for `simgate keys generate`.
    pub fn generate_spec_entry(id: &str) -> String {
        let mut key = Zeroizing::new([0_u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        format!("{id}={}", URL_SAFE_NO_PAD.encode(key.as_ref()))
    }

    /// Id of the key that seals new values.
    pub fn current_key_id(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// Seals `plaintext` with the current key, bound to `binding` (table/column/row id).
    pub fn seal(&self, plaintext: &[u8], binding: &str) -> Result<String, EncryptionError> {
        let id = self
            .current
            .as_deref()
            .ok_or(EncryptionError::NotConfigured)?;
        let key = self.keys.get(id).ok_or(EncryptionError::NotConfigured)?;
        let mut nonce = [0_u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()));
        let aad = associated_data(id, binding);
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| EncryptionError::Tampered)?;
        Ok(format!(
            "v1.{id}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        ))
    }

    /// Opens a value sealed by [`DataKeys::seal`] with the same `binding`.
    pub fn open(&self, sealed: &str, binding: &str) -> Result<Zeroizing<Vec<u8>>, EncryptionError> {
        let mut parts = sealed.split('.');
        let (Some("v1"), Some(id), Some(nonce), Some(ciphertext), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(EncryptionError::Malformed);
        };
        if self.keys.is_empty() {
            return Err(EncryptionError::NotConfigured);
        }
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| EncryptionError::UnknownKey(id.to_owned()))?;
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|_| EncryptionError::Malformed)?;
        let ciphertext = URL_SAFE_NO_PAD
            .decode(ciphertext)
            .map_err(|_| EncryptionError::Malformed)?;
        if nonce.len() != 12 {
            return Err(EncryptionError::Malformed);
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()));
        let aad = associated_data(id, binding);
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| EncryptionError::Tampered)
    }

    /// Id of the key a sealed value names, without opening it (for re-encryption sweeps).
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.split('.');
        (parts.next() == Some("v1")).then(|| parts.next()).flatten()
    }
}

/// The key id is authenticated too, so rewriting the id in a stored value breaks it.
fn associated_data(key_id: &str, binding: &str) -> Vec<u8> {
    format!("simgate-v1\0{key_id}\0{binding}").into_bytes()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(spec_ids: &[&str], current: Option<&str>) -> DataKeys {
        let spec: Vec<String> = spec_ids
            .iter()
            .map(|id| DataKeys::generate_spec_entry(id))
            .collect();
        DataKeys::parse(&spec.join(","), current).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_their_binding_and_key() {
        let ring = keys(&["k1"], None);
        let sealed = ring
            .seal(b"private key bytes", "signing_keys/private_key/kid-1")
            .unwrap();
        assert!(
            !sealed.contains("private"),
            "ciphertext does not leak plaintext"
        );
        assert_eq!(
            ring.open(&sealed, "signing_keys/private_key/kid-1")
                .unwrap()
                .as_slice(),
            b"private key bytes"
        );
        assert!(matches!(
            ring.open(&sealed, "signing_keys/private_key/kid-2"),
            Err(EncryptionError::Tampered)
        ));
        let other = keys(&["k1"], None);
        assert!(
            matches!(
                other.open(&sealed, "signing_keys/private_key/kid-1"),
                Err(EncryptionError::Tampered)
            ),
            "same id, different key material"
        );
    }

    #[test]
    fn same_plaintext_seals_differently_each_time() {
        let ring = keys(&["k1"], None);
        assert_ne!(
            ring.seal(b"x", "t/c/1").unwrap(),
            ring.seal(b"x", "t/c/1").unwrap()
        );
    }

    #[test]
    fn tampering_with_any_part_is_detected() {
        let ring = keys(&["k1", "k2"], Some("k1"));
        let sealed = ring.seal(b"secret", "t/c/1").unwrap();
        let parts: Vec<&str> = sealed.split('.').collect();
        let renamed = format!("v1.k2.{}.{}", parts[2], parts[3]);
        assert!(matches!(
            ring.open(&renamed, "t/c/1"),
            Err(EncryptionError::Tampered)
        ));
        let mut flipped = URL_SAFE_NO_PAD.decode(parts[3]).unwrap();
        flipped[0] ^= 1;
        let flipped = format!("v1.k1.{}.{}", parts[2], URL_SAFE_NO_PAD.encode(flipped));
        assert!(matches!(
            ring.open(&flipped, "t/c/1"),
            Err(EncryptionError::Tampered)
        ));
        assert!(matches!(
            ring.open("plain text", "t/c/1"),
            Err(EncryptionError::Malformed)
        ));
        assert!(
            matches!(ring.open("v1.k9.AAAA.AAAA", "t/c/1"), Err(EncryptionError::UnknownKey(id)) if id == "k9")
        );
    }

    #[test]
    fn rotation_seals_with_the_new_key_and_still_opens_old_values() {
        let old_entry = DataKeys::generate_spec_entry("2026-01");
        let old = DataKeys::parse(&old_entry, None).unwrap();
        let sealed_old = old.seal(b"v", "t/c/1").unwrap();
        let rotated = DataKeys::parse(
            &format!("{old_entry},{}", DataKeys::generate_spec_entry("2026-11")),
            None,
        )
        .unwrap();
        assert_eq!(rotated.current_key_id(), Some("2026-11"));
        assert_eq!(rotated.open(&sealed_old, "t/c/1").unwrap().as_slice(), b"v");
        let sealed_new = rotated.seal(b"v", "t/c/1").unwrap();
        assert_eq!(DataKeys::key_id_of(&sealed_new), Some("2026-11"));
        assert_eq!(DataKeys::key_id_of(&sealed_old), Some("2026-01"));
    }

    #[test]
    fn bad_specifications_are_rejected_without_echoing_key_material() {
        for (spec, current) in [
            ("k1", None),
            ("k1=notbase64!!", None),
            ("k1=AAAA", None),
            ("bad id=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None),
            ("k1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Some("k2")),
        ] {
            let error = DataKeys::parse(spec, current).unwrap_err().to_string();
            assert!(!error.contains("AAAAAAAA"), "{error}");
        }
        let none = DataKeys::none();
        assert!(matches!(
            none.seal(b"x", "t"),
            Err(EncryptionError::NotConfigured)
        ));
        assert!(format!("{:?}", keys(&["k1"], None)).contains("k1"));
        assert!(
            !format!(
                "{:?}",
                DataKeys::parse("k1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None).unwrap()
            )
            .contains("AAAA")
        );
    }
}
