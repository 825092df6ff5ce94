//! API-key secrets: generation and hashing. Keys are 256-bit random, so a plain SHA-256 is a
//! safe at-rest form (no dictionary to attack), and lookups by hash need no per-key salt.

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Prefix on every key, so leaked keys are recognisable by secret scanners.
pub const API_KEY_PREFIX: &str = "sgk_";

/// A freshly generated key: the secret is shown once, only the hash is stored.
#[derive(Debug)]
pub struct GeneratedApiKey {
    /// Public identifier of the key (safe to log and show).
    pub id: String,
    /// The bearer secret handed to the client; never stored.
    pub secret: String,
    /// First characters of the secret, stored so operators can tell keys apart.
    pub display_prefix: String,
    /// SHA-256 of the secret, hex-encoded.
    pub hash: String,
}

/// Generates a new random API key.
pub fn generate_api_key() -> GeneratedApiKey {
    let mut secret_bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret_bytes);
    let mut id_bytes = [0_u8; 8];
    rand::rng().fill_bytes(&mut id_bytes);
    let secret = format!(
        "{API_KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes)
    );
    GeneratedApiKey {
        id: format!("key_{}", hex::encode(id_bytes)),
        display_prefix: secret.chars().take(API_KEY_PREFIX.len() + 6).collect(),
        hash: hash_api_key(&secret),
        secret,
    }
}

/// Hashes a presented bearer secret into its stored form.
pub fn hash_api_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_prefixed_and_hash_consistently() {
        let a = generate_api_key();
        let b = generate_api_key();
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.id, b.id);
        assert!(a.secret.starts_with(API_KEY_PREFIX));
        assert_eq!(a.secret.len(), API_KEY_PREFIX.len() + 43);
        assert_eq!(hash_api_key(&a.secret), a.hash);
        assert_ne!(a.hash, b.hash);
        assert!(a.secret.starts_with(&a.display_prefix));
    }
}
