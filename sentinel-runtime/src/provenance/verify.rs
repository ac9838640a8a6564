//! Verifying one record ([`verify_record`]) and a run of records ([`verify_chain`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{canonical_json, hex, ProvenanceError, Record, TrustedKeys};
use crate::canonical::write_string;

/// The `prevHash` of the first record of a sidecar's chain.
pub const GENESIS: &str = "GENESIS";

/// The fingerprint of an action: lowercase hex SHA-256 of the canonical JSON of
/// `{"type": kind, "payload": payload}`. A record's `actionFingerprint` equals the
/// fingerprint of the action it is about, so a client can check a record against the
/// action it sent.
///
/// ```
/// use sentinel_runtime::provenance::action_fingerprint;
/// use serde_json::json;
///
/// let payload = json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"});
/// assert_eq!(
///     action_fingerprint("payment", &payload),
///     "03e9f8c35908a557cb01352fc0aadc19131df67933100fc3942e4039ce3cfe55"
/// );
/// ```
#[must_use]
pub fn action_fingerprint(kind: &str, payload: &Value) -> String {
    // The canonical form of {"type", "payload"}: "payload" sorts before "type".
    let mut body = String::from("{\"payload\":");
    body.push_str(&canonical_json(payload));
    body.push_str(",\"type\":");
    write_string(&mut body, kind);
    body.push('}');
    hex(&Sha256::digest(body.as_bytes()))
}

/// Verifies one record on its own, as PROTOCOL.md prescribes:
///
/// 1. its canonical body (see [`Record::canonical_body`]) hashes (SHA-256) to its
///    `contentHash`, so no signed field was changed;
/// 2. its `keyId` is the id of its `signerPublicKey`, and that id is pinned in `trusted`
///    (and the key is the pinned one, when `trusted` holds its bytes);
/// 3. `sig` is that key's Ed25519 signature over the 32 raw bytes of the hash;
/// 4. its `actionFingerprint` is the fingerprint of its own action.
///
/// It says nothing about the record's place in a chain: see [`verify_chain`].
///
/// # Errors
///
/// The first check that fails, as a [`ProvenanceError`] naming the record's `seq`:
/// [`ContentHashMismatch`](ProvenanceError::ContentHashMismatch),
/// [`KeyIdMismatch`](ProvenanceError::KeyIdMismatch),
/// [`UntrustedKey`](ProvenanceError::UntrustedKey),
/// [`BadSignature`](ProvenanceError::BadSignature),
/// [`FingerprintMismatch`](ProvenanceError::FingerprintMismatch), or
/// [`Malformed`](ProvenanceError::Malformed) for a key or signature that is not base64 of
/// the right length.
///
/// ```no_run
/// use sentinel_runtime::provenance::{verify_record, TrustedKeys};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// verify_record(&client.record("rec_01J9Z8")?, &trusted)?;
/// # Ok(()) }
/// ```
pub fn verify_record(record: &Record, trusted: &TrustedKeys) -> Result<(), ProvenanceError> {
    let seq = record.seq;

    let digest: [u8; 32] = Sha256::digest(record.canonical_body().as_bytes()).into();
    let computed = hex(&digest);
    if computed != record.content_hash {
        return Err(ProvenanceError::ContentHashMismatch {
            seq,
            claimed: record.content_hash.clone(),
            computed,
        });
    }

    let public_key = decode_fixed::<32>(&record.signer_public_key)
        .map_err(|reason| ProvenanceError::malformed(Some(seq), format!("signerPublicKey: {reason}")))?;
    let derived = TrustedKeys::key_id_of(&public_key);
    if derived != record.key_id {
        return Err(ProvenanceError::KeyIdMismatch {
            seq,
            claimed: record.key_id.clone(),
            derived,
        });
    }
    if !trusted.trusts(&public_key) {
        return Err(ProvenanceError::UntrustedKey { seq, key_id: derived });
    }

    let signature = decode_fixed::<64>(&record.sig)
        .map_err(|reason| ProvenanceError::malformed(Some(seq), format!("sig: {reason}")))?;
    let signature = Signature::from_bytes(&signature);
    let verified = VerifyingKey::from_bytes(&public_key)
        .and_then(|key| key.verify_strict(&digest, &signature))
        .is_ok();
    if !verified {
        return Err(ProvenanceError::BadSignature { seq });
    }

    let fingerprint = action_fingerprint(&record.action.kind, &record.action.payload);
    if fingerprint != record.action_fingerprint {
        return Err(ProvenanceError::FingerprintMismatch {
            seq,
            claimed: record.action_fingerprint.clone(),
            computed: fingerprint,
        });
    }
    Ok(())
}

/// Where a run of records starts: at the beginning of the sidecar's chain, or right after a
/// record the caller has already verified (to verify page after page).
///
/// ```no_run
/// use sentinel_runtime::provenance::{verify_chain_from, ChainStart, TrustedKeys};
/// use sentinel_runtime::records::RecordQuery;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// let mut start = ChainStart::Genesis;
/// for page in client.export_pages(&RecordQuery::new()) {
///     let page = page?;
///     verify_chain_from(&page, &trusted, start)?;
///     start = ChainStart::after(page.last().expect("pages are not empty"));
/// }
/// // Or after a record known only by its `seq` and `contentHash`:
/// let _later = ChainStart::after_hash(41, "9f2c…");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainStart {
    /// The first record must be seq 0 with `prevHash` `"GENESIS"`.
    Genesis,
    /// The first record must follow the record with this `seq` and `contentHash`; made by
    /// [`ChainStart::after`] or [`ChainStart::after_hash`].
    #[non_exhaustive]
    After {
        /// The `seq` of the record before the first one.
        seq: u64,
        /// The `contentHash` of the record before the first one.
        content_hash: String,
    },
}

impl ChainStart {
    /// Continue after `record` (typically the last record of the page verified before).
    #[must_use]
    pub fn after(record: &Record) -> ChainStart {
        ChainStart::after_hash(record.seq, record.content_hash.clone())
    }

    /// Continue after the record with this `seq` and `contentHash` (kept from an earlier
    /// verification, without the record itself).
    #[must_use]
    pub fn after_hash(seq: u64, content_hash: impl Into<String>) -> ChainStart {
        ChainStart::After {
            seq,
            content_hash: content_hash.into(),
        }
    }
}

/// Verifies a whole chain from its first record: `verify_chain_from(records, trusted,
/// ChainStart::Genesis)`.
///
/// # Errors
///
/// As [`verify_chain_from`].
///
/// ```no_run
/// use sentinel_runtime::provenance::{verify_chain, Record, TrustedKeys};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let text = String::new();
/// let trusted = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
/// let records = Record::list_from_json(&text)?; // the body of GET /v1/records
/// verify_chain(&records, &trusted)?;
/// # Ok(()) }
/// ```
pub fn verify_chain(records: &[Record], trusted: &TrustedKeys) -> Result<(), ProvenanceError> {
    verify_chain_from(records, trusted, ChainStart::Genesis)
}

/// Verifies consecutive records starting at `start`: every record verifies on its own
/// ([`verify_record`]), the `seq`s follow each other without a gap, and each `prevHash` is
/// the `contentHash` of the record before. An empty slice is an error
/// ([`ProvenanceError::EmptyChain`]): it proves nothing.
///
/// A chain can be checked page by page: verify the first page from
/// [`ChainStart::Genesis`], then each next page from [`ChainStart::after`] the last record
/// of the previous one. Only records that are present can be checked: a chain cut short
/// after its last record still verifies.
///
/// # Errors
///
/// The first problem found, in chain order: [`ProvenanceError::SeqGap`] or
/// [`ProvenanceError::BrokenLink`] for a record out of place, any error of
/// [`verify_record`], or [`ProvenanceError::EmptyChain`].
///
/// ```no_run
/// use sentinel_runtime::provenance::{verify_chain_from, ChainStart, Checkpoint, TrustedKeys};
/// use sentinel_runtime::records::RecordQuery;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// // Only what came after the record verified last time (seq 41):
/// let newer = client.records(&RecordQuery::new().offset(42))?;
/// verify_chain_from(&newer, &trusted, Checkpoint::new(41, "9f2c…").next_start())?;
/// # Ok(()) }
/// ```
pub fn verify_chain_from(
    records: &[Record],
    trusted: &TrustedKeys,
    start: ChainStart,
) -> Result<(), ProvenanceError> {
    if records.is_empty() {
        return Err(ProvenanceError::EmptyChain);
    }
    let (mut expected_seq, mut expected_prev) = match start {
        ChainStart::Genesis => (Some(0), GENESIS.to_owned()),
        ChainStart::After { seq, content_hash } => (seq.checked_add(1), content_hash),
    };
    for record in records {
        match expected_seq {
            Some(expected) if expected == record.seq => {}
            Some(expected) => {
                return Err(ProvenanceError::SeqGap {
                    seq: record.seq,
                    expected,
                })
            }
            None => {
                return Err(ProvenanceError::malformed(
                    Some(record.seq),
                    "no record can follow seq u64::MAX",
                ))
            }
        }
        if record.prev_hash != expected_prev {
            return Err(ProvenanceError::BrokenLink {
                seq: record.seq,
                expected: expected_prev,
                found: record.prev_hash.clone(),
            });
        }
        verify_record(record, trusted)?;
        expected_seq = record.seq.checked_add(1);
        expected_prev.clone_from(&record.content_hash);
    }
    Ok(())
}

/// Decodes standard padded base64 into exactly `N` bytes.
fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|err| format!("not base64: {err}"))?;
    let length = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("{length} bytes, expected {N}"))
}
