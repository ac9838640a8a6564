//! [`SentinelClient::verify_export`]: the sidecar's whole chain, paged from `GET /v1/export`
//! and verified by [`ChainVerifier`] on every core, within a deadline and a record cap.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{RecordQuery, DEFAULT_EXPORT_PAGE};
use crate::client::SentinelClient;
use crate::protocol;
use crate::provenance::{
    ChainVerifier, Checkpoint, Progress, ProvenanceError, SignatureCheck, StopReason, StreamError,
    TrustedKeys, VerifiedChain,
};
use crate::sidecar_error::SidecarError;

/// How long [`SentinelClient::verify_export`] may take when [`ExportVerification`] sets no
/// deadline: a sidecar that keeps serving pages cannot keep it running.
pub const DEFAULT_EXPORT_DEADLINE: Duration = Duration::from_secs(600);

/// How [`SentinelClient::verify_export_with`] reads and verifies the export.
///
/// ```
/// use std::time::Duration;
/// use sentinel_runtime::provenance::{Checkpoint, SignatureCheck};
/// use sentinel_runtime::records::ExportVerification;
///
/// let options = ExportVerification::new()
///     .timeout(Duration::from_secs(120))
///     .max_records(5_000_000)
///     .resume_from(Checkpoint::new(41, "ab12…"))
///     .signatures(SignatureCheck::Strict);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ExportVerification {
    timeout: Option<Duration>,
    max_records: Option<u64>,
    resume: Option<Checkpoint>,
    signatures: SignatureCheck,
}

impl ExportVerification {
    /// From `GENESIS`, within [`DEFAULT_EXPORT_DEADLINE`], with no record cap.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop after this long ([`ExportError::Stopped`], with what was verified). Each page is
    /// asked for within what is left of it (and within the client's own timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Verify at most this many records ([`ExportError::Stopped`] if the sidecar has more).
    #[must_use]
    pub fn max_records(mut self, max_records: u64) -> Self {
        self.max_records = Some(max_records);
        self
    }

    /// How signatures are checked (see [`SignatureCheck`]; batches by default).
    #[must_use]
    pub fn signatures(mut self, check: SignatureCheck) -> Self {
        self.signatures = check;
        self
    }

    /// Only what is new since a checkpoint kept from an earlier verification: the export is
    /// read from the checkpoint's record, which must still be the one checkpointed, and
    /// every record after it is verified from it. See
    /// [`ChainVerifier::resume_from`].
    #[must_use]
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }
}

/// What [`SentinelClient::verify_export`] verified.
///
/// ```no_run
/// use sentinel_runtime::provenance::TrustedKeys;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trusted: TrustedKeys = std::env::var("SENTINEL_TRUSTED_KEY_IDS")?.parse()?;
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// let verified = client.verify_export(&trusted)?;
/// println!("{} records verified, up to {}", verified.records, verified.head);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedExport {
    /// How many records were verified.
    pub records: u64,
    /// The last record verified (`seq` and `contentHash`). Compare it with a checkpoint you
    /// kept, or keep it to resume from: a chain the sidecar cut short after any record
    /// verifies just as well as the whole one, and only a checkpoint tells them apart.
    pub head: Checkpoint,
}

impl From<VerifiedChain> for VerifiedExport {
    fn from(chain: VerifiedChain) -> Self {
        VerifiedExport {
            records: chain.verified,
            head: chain.head,
        }
    }
}

/// Why [`SentinelClient::verify_export`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// A page could not be read.
    Read(SidecarError),
    /// The chain does not verify (or is empty): the first bad record, and why.
    Chain(ProvenanceError),
    /// The record at the checkpoint's `seq` is not the one checkpointed.
    CheckpointMismatch {
        /// The checkpoint resumed from.
        checkpoint: Checkpoint,
        /// The `contentHash` of the record the sidecar serves at its `seq`.
        found: String,
    },
    /// The export ends before the checkpoint: records were removed from the chain's end.
    CheckpointNotReached {
        /// The checkpoint resumed from.
        checkpoint: Checkpoint,
        /// The `seq` of the last record served, if any.
        last_seq: Option<u64>,
    },
    /// The deadline passed or the record cap was reached before the export's end.
    Stopped {
        /// Which.
        reason: StopReason,
        /// What was verified until then, if anything.
        verified: Option<VerifiedExport>,
    },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Read(e) => write!(f, "export could not be read: {e}"),
            ExportError::Chain(e) => write!(f, "exported chain does not verify: {e}"),
            ExportError::CheckpointMismatch { checkpoint, found } => write!(
                f,
                "the sidecar's record at seq {} has contentHash {found}, the checkpoint says {}: its chain was rewritten",
                checkpoint.seq, checkpoint.content_hash
            ),
            ExportError::CheckpointNotReached { checkpoint, last_seq } => write!(
                f,
                "the export ends at seq {}, before the checkpoint at seq {}: records were removed",
                last_seq.map_or_else(|| "(none)".to_owned(), |seq| seq.to_string()),
                checkpoint.seq
            ),
            ExportError::Stopped { reason, verified } => {
                let records = verified.as_ref().map_or(0, |v| v.records);
                match reason {
                    StopReason::RecordCap => write!(f, "stopped at the record cap after {records} records; the chain goes on"),
                    _ => write!(f, "stopped at the deadline after {records} records"),
                }
            }
        }
    }
}

/// `Display` already says what the cause said, so `source()` is `None` (the crate's
/// convention: each message once in an error-chain printer).
impl std::error::Error for ExportError {}

impl From<StreamError<SidecarError>> for ExportError {
    fn from(error: StreamError<SidecarError>) -> Self {
        match error {
            StreamError::Chain(e) => ExportError::Chain(e),
            StreamError::CheckpointMismatch { checkpoint, found } => {
                ExportError::CheckpointMismatch { checkpoint, found }
            }
            StreamError::CheckpointNotReached { checkpoint, last_seq } => {
                ExportError::CheckpointNotReached { checkpoint, last_seq }
            }
            StreamError::Source { error, .. } => ExportError::Read(error),
            StreamError::Stopped { reason, verified } => ExportError::Stopped {
                reason,
                verified: verified.map(VerifiedExport::from),
            },
            // StreamError is non_exhaustive; a new way to stop is not a success.
            #[allow(unreachable_patterns)]
            other => ExportError::Read(SidecarError::Malformed(other.to_string())),
        }
    }
}

/// One page of `GET /v1/export`, its records kept as text for the verifier.
#[derive(Deserialize)]
struct RawPage {
    records: Vec<Box<RawValue>>,
    #[serde(rename = "nextOffset", default)]
    next_offset: Option<u64>,
}

/// The texts of the export's records exactly as the sidecar served them, page after page
/// (following `nextOffset`), each page asked for before its deadline; made by
/// [`SentinelClient::export_record_texts`]. Ends after the first error.
///
/// ```no_run
/// use std::io::Write;
/// use sentinel_runtime::records::RecordQuery;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
/// // An export file (JSON Lines) that verifies as the sidecar served it.
/// let mut file = std::io::BufWriter::new(std::fs::File::create("export.jsonl")?);
/// for text in client.export_record_texts(&RecordQuery::new()) {
///     writeln!(file, "{}", text?)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ExportRecordTexts<'c> {
    client: &'c SentinelClient,
    query: RecordQuery,
    next_offset: Option<usize>,
    page: std::vec::IntoIter<Box<RawValue>>,
    /// The overall deadline, if any (each page also has the client's own timeout).
    deadline: Option<Instant>,
}

impl ExportRecordTexts<'_> {
    fn fetch(&mut self, offset: usize) -> Result<(), SidecarError> {
        let url = format!(
            "{}/v1/export?{}",
            self.client.endpoint(),
            self.query.clone().offset(offset).to_query_string()
        );
        let deadline = match self.deadline {
            Some(overall) => self.client.deadline().min(overall),
            None => self.client.deadline(),
        };
        let response = self
            .client
            .exchange_until("GET", &url, Vec::new(), deadline, &mut 0)
            .map_err(SidecarError::Transport)?;
        if !(200..300).contains(&response.status) {
            let message = self
                .client
                .redact(protocol::error_text(&response.body).unwrap_or_default());
            return Err(SidecarError::Status {
                status: response.status,
                message,
            });
        }
        let page: RawPage = serde_json::from_slice(&response.body)
            .map_err(|e| SidecarError::Malformed(format!("an export page: {e}")))?;
        if let Some(next) = page.next_offset {
            match usize::try_from(next) {
                // A next offset that does not move forward would loop for ever.
                Ok(next) if next > offset && !page.records.is_empty() => self.next_offset = Some(next),
                _ => {
                    return Err(SidecarError::Malformed(format!(
                        "nextOffset {next} after offset {offset}"
                    )))
                }
            }
        }
        self.page = page.records.into_iter();
        Ok(())
    }
}

impl Iterator for ExportRecordTexts<'_> {
    type Item = Result<String, SidecarError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.page.next() {
                return Some(Ok(String::from(Box::<str>::from(record))));
            }
            let offset = self.next_offset.take()?;
            if let Err(e) = self.fetch(offset) {
                return Some(Err(e));
            }
        }
    }
}

impl SentinelClient {
    /// The texts of the records of `GET /v1/export` matching `query`, from its offset on,
    /// exactly as the sidecar served them (to write an export file that verifies as served),
    /// page after page as the iterator is advanced; pages hold the query's limit, or
    /// [`DEFAULT_EXPORT_PAGE`]. Nothing is verified.
    ///
    /// ```no_run
    /// use sentinel_runtime::records::RecordQuery;
    ///
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// let texts: Vec<String> = client.export_record_texts(&RecordQuery::new().run_id("run-42")).collect::<Result<_, _>>()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_record_texts(&self, query: &RecordQuery) -> ExportRecordTexts<'_> {
        ExportRecordTexts {
            client: self,
            next_offset: Some(query.offset.unwrap_or(0)),
            query: query.clone().limit(query.limit.unwrap_or(DEFAULT_EXPORT_PAGE)),
            page: Vec::new().into_iter(),
            deadline: None,
        }
    }

    /// Verifies the sidecar's whole chain from `GENESIS` under `trusted`, independently of
    /// the sidecar, within [`DEFAULT_EXPORT_DEADLINE`]:
    /// `verify_export_with(trusted, &ExportVerification::new(), |_| {})`.
    ///
    /// # Errors
    ///
    /// As [`verify_export_with`](Self::verify_export_with).
    ///
    /// ```no_run
    /// use sentinel_runtime::provenance::TrustedKeys;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// match client.verify_export(&trusted) {
    ///     Ok(verified) => println!("{} records verify; head {}", verified.records, verified.head),
    ///     Err(e) => println!("the chain does not verify: {e}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn verify_export(&self, trusted: &TrustedKeys) -> Result<VerifiedExport, ExportError> {
        self.verify_export_with(trusted, &ExportVerification::new(), |_| {})
    }

    /// Verifies the sidecar's chain independently of the sidecar: the export is read a page
    /// at a time (`GET /v1/export`, [`DEFAULT_EXPORT_PAGE`] records a page) and verified by [`ChainVerifier`]
    /// on every core, in memory bounded by a few pages whatever the chain's length. Records
    /// appended while it runs are verified too, up to the page that ends the export.
    /// `progress` is called after each chunk of records.
    ///
    /// It stops at `options`' deadline ([`DEFAULT_EXPORT_DEADLINE`] unless set) and record
    /// cap, so a sidecar that keeps serving pages cannot keep it running; each page is asked
    /// for within what is left of the deadline.
    ///
    /// `Ok` says that every record served verifies and links to the one before; it cannot
    /// say that the sidecar served them all. A chain cut short after any record verifies as
    /// well as the whole one: compare the returned [`head`](VerifiedExport::head) with a
    /// checkpoint kept from an earlier run, or resume from one
    /// ([`ExportVerification::resume_from`]), which fails if the chain no longer reaches it.
    ///
    /// # Errors
    ///
    /// The first problem, in chain order: see [`ExportError`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sentinel_runtime::provenance::{Checkpoint, TrustedKeys};
    /// use sentinel_runtime::records::ExportVerification;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// let options = ExportVerification::new()
    ///     .timeout(Duration::from_secs(300))
    ///     .resume_from(Checkpoint::new(41, "9f2c…"));
    /// let verified = client.verify_export_with(&trusted, &options, |progress| {
    ///     eprintln!("{} records verified", progress.verified);
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn verify_export_with(
        &self,
        trusted: &TrustedKeys,
        options: &ExportVerification,
        progress: impl FnMut(&Progress),
    ) -> Result<VerifiedExport, ExportError> {
        // A huge timeout means "no deadline to speak of", not an overflow panic.
        let deadline = crate::deadline::deadline_after(options.timeout.unwrap_or(DEFAULT_EXPORT_DEADLINE));
        let offset = options.resume.as_ref().map_or(0, |checkpoint| {
            usize::try_from(checkpoint.seq).unwrap_or(usize::MAX)
        });
        let texts = ExportRecordTexts {
            client: self,
            query: RecordQuery::new().limit(DEFAULT_EXPORT_PAGE),
            next_offset: Some(offset),
            page: Vec::new().into_iter(),
            deadline: Some(deadline),
        };
        let mut verifier = ChainVerifier::new(trusted)
            .deadline(deadline)
            .signatures(options.signatures);
        if let Some(max_records) = options.max_records {
            verifier = verifier.max_records(max_records);
        }
        if let Some(checkpoint) = &options.resume {
            verifier = verifier.resume_from(checkpoint.clone());
        }
        verifier
            .verify(texts, progress)
            .map(VerifiedExport::from)
            .map_err(ExportError::from)
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    /// `Instant::now() + Duration::MAX` panics: the longest timeout must be read as "as long
    /// as it takes" and the export end with the sidecar's (here: nobody's) answer.
    #[test]
    fn the_longest_timeout_does_not_panic() {
        // Nothing listens on port 9: the export fails to read, it does not panic.
        let client = SentinelClient::builder("http://127.0.0.1:9").build().unwrap();
        let options = ExportVerification::new().timeout(Duration::MAX);
        let result = client.verify_export_with(&TrustedKeys::new(), &options, |_| {});
        assert!(matches!(result, Err(ExportError::Read(_))), "{result:?}");
    }
}
