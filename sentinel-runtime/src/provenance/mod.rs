//! Independent verification of the sidecar's signed provenance records (feature `verify`).
//!
//! For every verdict the sidecar appends a record to a hash chain and signs it with Ed25519.
//! This module checks those records without trusting the sidecar's own `GET /v1/verify`:
//!
//! - [`verify_record`]: the record's canonical body hashes to its `contentHash`, its signer
//!   is one of your [`TrustedKeys`], the signature is valid, and its `actionFingerprint`
//!   matches its action;
//! - [`verify_chain`] / [`verify_chain_from`]: additionally, `seq`s follow each other and
//!   every `prevHash` is the previous record's `contentHash`, from `"GENESIS"` or from a
//!   record verified earlier ([`ChainStart`]);
//! - [`ChainVerifier`]: a chain of any length (an export file read with [`RecordTexts`], or
//!   any iterator of record texts) on every core in bounded memory, with a deadline, a record
//!   cap, progress, and a [`Checkpoint`] to resume from and to keep;
//! - [`action_fingerprint`]: tie a record to the action you sent;
//! - [`canonical_json`]: the byte-exact JavaScript canonical form the hashes are taken over,
//!   and [`parse_json`], which reads numbers to exactly the doubles JavaScript reads.
//!
//! ```no_run
//! use sentinel_runtime::provenance::{verify_chain, Record, TrustedKeys};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let body_of_get_v1_records = String::new();
//! // Pin the sidecar's key out of band (its keyId and public key are published).
//! let trusted = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
//! let records = Record::list_from_json(&body_of_get_v1_records)?;
//! verify_chain(&records, &trusted)?; // Err names the first bad record's seq and why
//! # Ok(()) }
//! ```
//!
//! Read records from their JSON text with [`Record::from_json`] or [`Record::list_from_json`]:
//! they refuse repeated keys and read every number to the double JavaScript reads (this
//! crate enables serde_json's `float_roundtrip`; without it, a number with 16–17
//! significant digits can be one bit off and a genuine record would fail to verify).

mod checkpoint;
mod error;
mod framing;
mod json;
mod keys;
mod record;
mod stream;
mod verify;
mod view;

pub use crate::canonical::canonical_json;
pub use checkpoint::Checkpoint;
pub use error::ProvenanceError;
pub use framing::{InputError, RecordTexts, MAX_RECORD_BYTES};
pub use json::parse_json;
pub use keys::TrustedKeys;
pub use record::{Record, RecordAction};
pub use stream::{ChainVerifier, Progress, SignatureCheck, StopReason, StreamError, VerifiedChain};
pub use verify::{action_fingerprint, verify_chain, verify_chain_from, verify_record, ChainStart, GENESIS};

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}
