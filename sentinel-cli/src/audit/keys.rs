//! The keys an auditor pins: key ids (`ed25519:<64 hex>`, as the sidecar prints them at
//! start-up), or base64 public keys.

use clap::Args as ClapArgs;
use sentinel::provenance::TrustedKeys;

/// The signing keys the chain must be signed with.
#[derive(Debug, Clone, ClapArgs)]
pub struct KeyArgs {
    /// A pinned key id, `ed25519:<64 hex>` (the sidecar prints it at start-up: `signer
    /// ed25519:…`). Repeat for a rotated key. Default: `SENTINEL_TRUSTED_KEY_IDS`
    /// (comma-separated).
    #[arg(
        long = "key-id",
        value_name = "ID",
        env = "SENTINEL_TRUSTED_KEY_IDS",
        value_delimiter = ','
    )]
    pub key_ids: Vec<String>,
    /// A pinned public key, base64 of its 32 raw bytes (a record's `signerPublicKey`). Repeatable.
    #[arg(long = "public-key", value_name = "BASE64")]
    pub public_keys: Vec<String>,
}

impl KeyArgs {
    /// The pinned keys, or what is wrong with them. None pinned is an error: a chain checked
    /// against no key proves only that someone signed it.
    pub fn trusted(&self) -> Result<TrustedKeys, String> {
        let mut trusted = TrustedKeys::new();
        for id in self
            .key_ids
            .iter()
            .map(|id| id.trim())
            .filter(|id| !id.is_empty())
        {
            trusted = trusted
                .with_key_id(id)
                .map_err(|e| format!("--key-id {id}: {e}"))?;
        }
        for key in &self.public_keys {
            trusted = trusted
                .with_key_base64(key)
                .map_err(|e| format!("--public-key {key}: {e}"))?;
        }
        if trusted.is_empty() {
            return Err(
                "no key pinned: give the sidecar's key id with --key-id ed25519:… (it prints it at \
                        start-up) or set SENTINEL_TRUSTED_KEY_IDS"
                    .to_owned(),
            );
        }
        Ok(trusted)
    }
}
