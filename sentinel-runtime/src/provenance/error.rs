//! [`ProvenanceError`]: why a record or a chain did not verify.

use std::fmt;

/// Why a provenance record or chain did not verify. Every variant about one record names
/// its `seq`; `Display` reads like `record seq 7: content hash mismatch (…)`.
///
/// Any error means the record must not be trusted; the variants only say where to look.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvenanceError {
    /// The input is not a well-formed record (not JSON, a missing or mistyped field, a
    /// signature or key that is not valid base64 of the right length, a hash that is not
    /// lowercase hex). `seq` is known when the record got far enough to have one.
    Malformed {
        /// The record's `seq`, if it could be read.
        seq: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// A key given to [`TrustedKeys`](super::TrustedKeys) is not an Ed25519 public key.
    InvalidKey {
        /// What is wrong.
        reason: String,
    },
    /// The SHA-256 of the record's canonical body is not its `contentHash`: a signed field
    /// was changed after signing (or the body was not canonicalized as the sidecar does).
    ContentHashMismatch {
        /// The record's `seq`.
        seq: u64,
        /// The `contentHash` the record claims.
        claimed: String,
        /// The hash of the body as found.
        computed: String,
    },
    /// `keyId` is not `"ed25519:"` + the SHA-256 of `signerPublicKey`.
    KeyIdMismatch {
        /// The record's `seq`.
        seq: u64,
        /// The `keyId` the record claims.
        claimed: String,
        /// The key id derived from `signerPublicKey`.
        derived: String,
    },
    /// The record was signed by a key the caller does not trust.
    UntrustedKey {
        /// The record's `seq`.
        seq: u64,
        /// The signer's key id.
        key_id: String,
    },
    /// `sig` is not a valid Ed25519 signature of the content hash by the trusted key.
    BadSignature {
        /// The record's `seq`.
        seq: u64,
    },
    /// `actionFingerprint` is not the fingerprint of the record's own action.
    FingerprintMismatch {
        /// The record's `seq`.
        seq: u64,
        /// The fingerprint the record claims.
        claimed: String,
        /// The fingerprint of `{type, payload}` as found.
        computed: String,
    },
    /// The record's `prevHash` is not the `contentHash` of the record before it (or
    /// `"GENESIS"` for the first record of a chain).
    BrokenLink {
        /// The record's `seq`.
        seq: u64,
        /// The `prevHash` the chain requires here.
        expected: String,
        /// The record's `prevHash`.
        found: String,
    },
    /// The record's `seq` is not the next one: a record is missing, repeated or out of order.
    SeqGap {
        /// The record's `seq`.
        seq: u64,
        /// The `seq` the chain requires here.
        expected: u64,
    },
    /// There were no records to verify; an empty list proves nothing.
    EmptyChain,
}

impl ProvenanceError {
    /// The `seq` of the record this error is about, if it is about one.
    ///
    /// ```
    /// use sentinel_runtime::provenance::{verify_chain, ProvenanceError, TrustedKeys};
    ///
    /// let error = verify_chain(&[], &TrustedKeys::new()).unwrap_err();
    /// assert!(matches!(error, ProvenanceError::EmptyChain));
    /// assert_eq!(error.seq(), None, "about no record");
    /// ```
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        match self {
            ProvenanceError::Malformed { seq, .. } => *seq,
            ProvenanceError::ContentHashMismatch { seq, .. }
            | ProvenanceError::KeyIdMismatch { seq, .. }
            | ProvenanceError::UntrustedKey { seq, .. }
            | ProvenanceError::BadSignature { seq }
            | ProvenanceError::FingerprintMismatch { seq, .. }
            | ProvenanceError::BrokenLink { seq, .. }
            | ProvenanceError::SeqGap { seq, .. } => Some(*seq),
            ProvenanceError::InvalidKey { .. } | ProvenanceError::EmptyChain => None,
        }
    }

    pub(crate) fn malformed(seq: Option<u64>, reason: impl Into<String>) -> Self {
        ProvenanceError::Malformed {
            seq,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ProvenanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProvenanceError::Malformed { seq: Some(seq), reason } => write!(f, "record seq {seq}: malformed: {reason}"),
            ProvenanceError::Malformed { seq: None, reason } => write!(f, "malformed record: {reason}"),
            ProvenanceError::InvalidKey { reason } => write!(f, "invalid trusted key: {reason}"),
            ProvenanceError::ContentHashMismatch { seq, claimed, computed } => {
                write!(f, "record seq {seq}: content hash mismatch (record says {claimed}, body hashes to {computed})")
            }
            ProvenanceError::KeyIdMismatch { seq, claimed, derived } => {
                write!(f, "record seq {seq}: key id mismatch (record says {claimed}, its public key is {derived})")
            }
            ProvenanceError::UntrustedKey { seq, key_id } => write!(f, "record seq {seq}: signed by untrusted key {key_id}"),
            ProvenanceError::BadSignature { seq } => write!(f, "record seq {seq}: bad signature"),
            ProvenanceError::FingerprintMismatch { seq, claimed, computed } => write!(
                f,
                "record seq {seq}: action fingerprint mismatch (record says {claimed}, action hashes to {computed})"
            ),
            ProvenanceError::BrokenLink { seq, expected, found } => {
                write!(f, "record seq {seq}: broken chain link (prevHash is {found}, expected {expected})")
            }
            ProvenanceError::SeqGap { seq, expected } => {
                write!(f, "record seq {seq}: expected seq {expected} (a record is missing, repeated or out of order)")
            }
            ProvenanceError::EmptyChain => f.write_str("no records to verify"),
        }
    }
}

impl std::error::Error for ProvenanceError {}
