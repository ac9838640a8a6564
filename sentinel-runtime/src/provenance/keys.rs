//! [`TrustedKeys`]: the Ed25519 public keys a caller pins.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use super::{hex, ProvenanceError};

/// The set of Ed25519 public keys whose signatures the caller accepts.
///
/// A record names its signer twice (`keyId` and `signerPublicKey`); both are only claims.
/// Verification trusts a record only if its signer is one of the keys pinned here, taken
/// from somewhere other than the records themselves (the sidecar's configuration, or its
/// published `keyId` and public key).
///
/// ```
/// use sentinel_runtime::provenance::TrustedKeys;
///
/// let trusted = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
/// assert!(trusted.contains_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c"));
/// # Ok::<(), sentinel_runtime::provenance::ProvenanceError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    /// Key id → raw public key.
    keys: BTreeMap<String, [u8; 32]>,
}

impl TrustedKeys {
    /// An empty set: nothing verifies against it.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key given as base64 (standard alphabet, padded) of its 32 raw bytes, the form
    /// of a record's `signerPublicKey`. Fails if it is not valid base64, not 32 bytes, or not
    /// an Ed25519 public key.
    ///
    /// # Errors
    ///
    /// [`ProvenanceError::InvalidKey`] saying which.
    pub fn with_key_base64(self, public_key: &str) -> Result<Self, ProvenanceError> {
        let bytes = STANDARD
            .decode(public_key.trim())
            .map_err(|err| ProvenanceError::InvalidKey {
                reason: format!("not base64: {err}"),
            })?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| ProvenanceError::InvalidKey {
                reason: format!("{} bytes, an Ed25519 public key has 32", bytes.len()),
            })?;
        VerifyingKey::from_bytes(&raw).map_err(|_| ProvenanceError::InvalidKey {
            reason: "not a point on the Ed25519 curve".to_owned(),
        })?;
        Ok(self.with_key_bytes(raw))
    }

    /// Adds a key given as its 32 raw bytes. Bytes that are not an Ed25519 public key are
    /// kept, but no signature will ever verify against them.
    #[must_use]
    pub fn with_key_bytes(mut self, public_key: [u8; 32]) -> Self {
        self.keys.insert(Self::key_id_of(&public_key), public_key);
        self
    }

    /// The key id of a public key as the sidecar writes it: `"ed25519:"` followed by the
    /// lowercase hex SHA-256 of the 32 raw bytes.
    #[must_use]
    pub fn key_id_of(public_key: &[u8; 32]) -> String {
        format!("ed25519:{}", hex(&Sha256::digest(public_key)))
    }

    /// Whether the key with this id (see [`key_id_of`](Self::key_id_of)) is trusted.
    #[must_use]
    pub fn contains_key_id(&self, key_id: &str) -> bool {
        self.keys.contains_key(key_id)
    }

    /// The ids of the trusted keys, in sorted order.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many keys are trusted.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted (then nothing verifies).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The raw bytes of the trusted key with this id.
    pub(crate) fn get(&self, key_id: &str) -> Option<&[u8; 32]> {
        self.keys.get(key_id)
    }
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKeys")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}
