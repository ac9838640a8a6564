//! [`TrustedKeys`]: the Ed25519 public keys a caller pins.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use super::{hex, ProvenanceError};

/// The set of Ed25519 signing keys whose signatures the caller accepts, pinned by key id
/// or by public key.
///
/// A record names its signer twice (`keyId` and `signerPublicKey`); both are only claims.
/// Verification trusts a record only if its `signerPublicKey` hashes to a key id pinned
/// here and its signature verifies under that key: the sidecar's own rule
/// (`verifyChain(records, [keyId])`). Pin what the sidecar prints at start-up,
/// `signer ed25519:<64 hex>`, with [`with_key_id`](Self::with_key_id) (or
/// `SENTINEL_TRUSTED_KEY_IDS`); the id is the SHA-256 of the raw public key, so a record can
/// only match it with the very key.
///
/// ```
/// use sentinel_runtime::provenance::TrustedKeys;
///
/// let id = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";
/// let by_id = TrustedKeys::new().with_key_id(id)?;
/// let by_key = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
/// assert!(by_id.contains_key_id(id) && by_key.contains_key_id(id));
/// // A comma-separated list, as SENTINEL_TRUSTED_KEY_IDS holds it:
/// let listed: TrustedKeys = id.parse()?;
/// assert_eq!(listed.len(), 1);
/// assert!(!listed.is_empty() && TrustedKeys::new().is_empty());
/// assert_eq!(listed.key_ids().collect::<Vec<_>>(), [id]);
///
/// // From the raw 32 bytes (a record's `signerPublicKey`, decoded):
/// let raw = [0x03; 32];
/// let pinned = TrustedKeys::new().with_key_bytes(raw);
/// assert!(pinned.contains_key_id(&TrustedKeys::key_id_of(&raw)));
/// # Ok::<(), sentinel_runtime::provenance::ProvenanceError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    /// Key id → raw public key, when it was given (an id pinned alone has none: a record
    /// brings its key, which must hash to the id).
    keys: BTreeMap<String, Option<[u8; 32]>>,
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
        self.keys.insert(Self::key_id_of(&public_key), Some(public_key));
        self
    }

    /// Every key of `self` and of `other`.
    #[must_use]
    pub(crate) fn merged(mut self, other: TrustedKeys) -> Self {
        for (key_id, bytes) in other.keys {
            match bytes {
                Some(bytes) => {
                    self.keys.insert(key_id, Some(bytes));
                }
                None => {
                    self.keys.entry(key_id).or_insert(None);
                }
            }
        }
        self
    }

    /// Pins a key by its id, `ed25519:` followed by the 64 hex digits of the SHA-256 of its
    /// raw public key, as the sidecar prints it at start-up (`signer ed25519:…`) and writes
    /// it in every record's `keyId`. Hex digits may be upper or lower case.
    ///
    /// # Errors
    ///
    /// [`ProvenanceError::InvalidKey`] if `key_id` is not of that form.
    pub fn with_key_id(mut self, key_id: &str) -> Result<Self, ProvenanceError> {
        let key_id = parse_key_id(key_id)?;
        self.keys.entry(key_id).or_insert(None);
        Ok(self)
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

    /// The raw bytes of the trusted key with this id, when they were pinned (an id pinned
    /// alone has none; see [`TrustedKeys::trusts`]).
    pub(crate) fn get(&self, key_id: &str) -> Option<&[u8; 32]> {
        self.keys.get(key_id).and_then(Option::as_ref)
    }

    /// Whether `public_key` is a trusted key: its id is pinned (then it is the key of that
    /// id, SHA-256 being collision-resistant), and it is the pinned bytes when bytes were
    /// given.
    pub(crate) fn trusts(&self, public_key: &[u8; 32]) -> bool {
        match self.keys.get(&Self::key_id_of(public_key)) {
            Some(Some(pinned)) => pinned == public_key,
            Some(None) => true,
            None => false,
        }
    }
}

/// Reads a key id `ed25519:<64 hex>` into its canonical lowercase form.
fn parse_key_id(text: &str) -> Result<String, ProvenanceError> {
    let invalid = |why: &str| {
        ProvenanceError::InvalidKey {
        reason: format!(
            "a key id is `ed25519:` and the 64 hex digits of the SHA-256 of the public key (the sidecar prints it at start-up as `signer ed25519:…`); {why}"
        ),
    }
    };
    let text = text.trim();
    let Some(digest) = text.strip_prefix("ed25519:") else {
        return Err(invalid("this one does not start with `ed25519:`"));
    };
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(&format!(
            "this one has {} characters after `ed25519:`, not 64 hex digits",
            digest.chars().count()
        )));
    }
    Ok(format!("ed25519:{}", digest.to_ascii_lowercase()))
}

impl FromStr for TrustedKeys {
    type Err = ProvenanceError;

    /// Key ids separated by commas (as `SENTINEL_TRUSTED_KEY_IDS` holds them); blanks
    /// around them and empty entries are ignored. A list without any id is an error: it
    /// would trust nothing while looking configured.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut trusted = TrustedKeys::new();
        for key_id in list.split(',').filter(|id| !id.trim().is_empty()) {
            trusted = trusted.with_key_id(key_id)?;
        }
        if trusted.is_empty() {
            return Err(ProvenanceError::InvalidKey {
                reason: "no key id in the list (expected `ed25519:<64 hex>`, comma-separated)".into(),
            });
        }
        Ok(trusted)
    }
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKeys")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}
