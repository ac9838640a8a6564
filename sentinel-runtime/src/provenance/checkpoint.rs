//! [`Checkpoint`]: where a verified chain ended, to resume from or compare with.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ChainStart;

/// The head of a verified chain: the `seq` and `contentHash` of its last record.
///
/// A run of records that verifies proves only that those records are intact and linked; a
/// chain cut short after any record verifies just as well. Keep the checkpoint of each
/// verification (it is small: write it as JSON, `{"seq":41,"contentHash":"…"}`) and start
/// the next one from it ([`ChainVerifier::resume_from`](super::ChainVerifier::resume_from)):
/// the record at the checkpoint's `seq` must still be the one checkpointed, and the chain
/// must reach it, so records removed from the end or rewritten before the checkpoint are
/// found.
///
/// ```
/// use sentinel_runtime::provenance::Checkpoint;
///
/// let checkpoint: Checkpoint = serde_json::from_str(r#"{"seq":41,"contentHash":"ab12"}"#)?;
/// assert_eq!(checkpoint.seq, 41);
/// assert_eq!(serde_json::to_string(&checkpoint)?, r#"{"seq":41,"contentHash":"ab12"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// The `seq` of the last verified record.
    pub seq: u64,
    /// The `contentHash` of the last verified record.
    pub content_hash: String,
}

impl Checkpoint {
    /// The checkpoint at a record with this `seq` and `contentHash`.
    ///
    /// ```
    /// use sentinel_runtime::provenance::{ChainStart, Checkpoint};
    ///
    /// // Kept from an earlier verification (`VerifiedChain::head`, `VerifiedExport::head`).
    /// let kept = Checkpoint::new(41, "9f2c…");
    /// assert_eq!(kept.to_string(), "seq 41 (contentHash 9f2c…)");
    /// assert_eq!(kept.next_start(), ChainStart::after_hash(41, "9f2c…"));
    /// ```
    #[must_use]
    pub fn new(seq: u64, content_hash: impl Into<String>) -> Checkpoint {
        Checkpoint {
            seq,
            content_hash: content_hash.into(),
        }
    }

    /// Where the records after this one start, for
    /// [`verify_chain_from`](super::verify_chain_from).
    #[must_use]
    pub fn next_start(&self) -> ChainStart {
        ChainStart::after_hash(self.seq, self.content_hash.clone())
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {} (contentHash {})", self.seq, self.content_hash)
    }
}
