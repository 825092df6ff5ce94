-- Activation-token signing keys. The private key (PKCS#8 DER) is sealed with a data key
-- (AES-256-GCM, see src/encryption.rs); `retire_at` is set when a newer key replaces this one:
-- until then the key stays in the JWKS so outstanding tokens keep verifying.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retire_at BIGINT
);
