//! [`ChainVerifier`]: a chain of any length verified on every core, in bounded memory.
//!
//! Verifying a record depends only on the record and the pinned keys; the link between two
//! records is a string comparison. So a reader thread cuts the input into chunks, worker
//! threads verify the records of each chunk on their own (strict parse, canonical body,
//! SHA-256, key, fingerprint, and the chunk's signatures in one Ed25519 batch), and the
//! calling thread puts the chunks back in order and checks the links. At most a few chunks
//! per worker are in flight, so memory is bounded by that window, not by the chain.
//!
//! A record the fast path does not accept (a failed batch, a hash that does not match, a
//! member of the wrong type...) is checked again on its own by the reference path,
//! [`Record::from_json`] and [`verify_record`] with `verify_strict`: the error reported is
//! exactly the one [`verify_chain_from`](super::verify_chain_from) reports.

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use super::view::RecordView;
use super::{verify_record, Checkpoint, ProvenanceError, Record, TrustedKeys, GENESIS};

/// How signatures are checked.
///
/// [`Batch`](SignatureCheck::Batch) (the default) verifies the signatures of a chunk of
/// records together with ed25519-dalek's `verify_batch`, about three times faster per
/// signature than one by one, and re-checks a failed batch one by one with `verify_strict`
/// to name the bad record. [`Strict`](SignatureCheck::Strict) checks each with
/// `verify_strict`.
///
/// ```
/// use sentinel_runtime::provenance::{ChainVerifier, SignatureCheck, TrustedKeys};
///
/// let trusted = TrustedKeys::new();
/// let strict = ChainVerifier::new(&trusted).signatures(SignatureCheck::Strict);
/// # drop(strict);
/// ```
///
/// What the two accept differs only for signatures that the holder of the pinned *private*
/// key made on purpose: `verify_batch` (cofactorless, random linear combination) does not
/// refuse a small-order or non-canonically encoded `R`, and a signature whose `sB − R − hA`
/// is a non-zero small-order point passes a batch with probability up to 1/2 (the batch's
/// coefficients are derived from its inputs, so a key holder can search for a passing one);
/// `verify_strict` refuses all of these. No one without the private key can make such a
/// signature over a record (`h` depends on `R`), and a pinned key of small order (with
/// which anyone could) never verifies here: such a key is refused before any batch. So for
/// an auditor, `Batch` answers the question the chain is for — did the pinned key sign
/// exactly this content — and `Strict` additionally refuses the malleable encodings a
/// dishonest key holder could use to make verifiers disagree (the sidecar's own verifier is
/// node's `crypto.verify`, cofactorless one by one, like `verify_strict`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// Batches of signatures, a failed batch re-checked one by one with `verify_strict`.
    #[default]
    Batch,
    /// Every signature on its own with `verify_strict`.
    Strict,
}

/// How far a [`ChainVerifier`] has come; passed to the progress callback after each chunk.
///
/// ```
/// use sentinel_runtime::provenance::Progress;
///
/// fn report(progress: &Progress) {
///     eprintln!("{} verified, {} skipped, at seq {:?} after {:?}",
///         progress.verified, progress.skipped, progress.last_seq, progress.elapsed);
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Records verified so far.
    pub verified: u64,
    /// Records passed over because they come before the checkpoint resumed from.
    pub skipped: u64,
    /// The `seq` of the last record checked.
    pub last_seq: Option<u64>,
    /// Time since the verification started.
    pub elapsed: Duration,
}

/// What a [`ChainVerifier`] verified.
///
/// ```no_run
/// use sentinel_runtime::provenance::{ChainVerifier, RecordTexts, TrustedKeys, VerifiedChain};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
/// let export = std::io::BufReader::new(std::fs::File::open("export.jsonl")?);
/// let chain: VerifiedChain = ChainVerifier::new(&trusted).verify(RecordTexts::new(export), |_| {})?;
/// println!("{} records verified ({} skipped); keep {} to resume", chain.verified, chain.skipped, chain.head);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedChain {
    /// How many records were verified (signature, hash, key, fingerprint and link).
    pub verified: u64,
    /// How many records before the checkpoint were passed over.
    pub skipped: u64,
    /// The last record verified: keep it, and resume from it next time. A chain cut short
    /// verifies just as well as a whole one; only a checkpoint kept from an earlier run
    /// tells them apart.
    pub head: Checkpoint,
}

/// Why a verification stopped before the end of its input.
///
/// ```
/// use sentinel_runtime::provenance::{ChainVerifier, RecordTexts, StopReason, StreamError, TrustedKeys};
///
/// let trusted = TrustedKeys::new();
/// let texts = std::io::BufReader::new("{}\n{}\n".as_bytes());
/// let result = ChainVerifier::new(&trusted).max_records(0).verify(RecordTexts::new(texts), |_| {});
/// if let Err(StreamError::Stopped { reason: StopReason::RecordCap, .. }) = result {
///     println!("more records than the cap");
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The deadline passed.
    Deadline,
    /// The record cap was reached and the input had more.
    RecordCap,
}

/// Why a [`ChainVerifier`] did not verify its input.
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// The first record that does not verify or is out of place, as
    /// [`verify_chain_from`](super::verify_chain_from) names it; an empty input is
    /// [`ProvenanceError::EmptyChain`].
    Chain(ProvenanceError),
    /// The record at the checkpoint's `seq` is not the one checkpointed: history up to it
    /// was rewritten (or this is another chain).
    CheckpointMismatch {
        /// The checkpoint resumed from.
        checkpoint: Checkpoint,
        /// The `contentHash` the record at its `seq` has now.
        found: String,
    },
    /// The input ended before the checkpoint's `seq`: records at the end were removed, or
    /// the input is not the chain checkpointed.
    CheckpointNotReached {
        /// The checkpoint resumed from.
        checkpoint: Checkpoint,
        /// The `seq` of the last record read, if any.
        last_seq: Option<u64>,
    },
    /// The input could not be read; what was verified before.
    Source {
        /// Why.
        error: E,
        /// The records verified before, if any.
        verified: Option<VerifiedChain>,
    },
    /// The deadline passed or the record cap was reached; what was verified until then.
    Stopped {
        /// Which.
        reason: StopReason,
        /// The records verified, if any.
        verified: Option<VerifiedChain>,
    },
    /// The thread reading the input failed (it panicked, e.g. in the source's own code):
    /// the input may go on past what was verified, so the records verified are a prefix,
    /// not the chain.
    ReaderFailed {
        /// The records verified before, if any.
        verified: Option<VerifiedChain>,
    },
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Chain(e) => e.fmt(f),
            StreamError::CheckpointMismatch { checkpoint, found } => write!(
                f,
                "record seq {}: not the record checkpointed (contentHash {found}, the checkpoint says {}): the chain was rewritten up to it",
                checkpoint.seq, checkpoint.content_hash
            ),
            StreamError::CheckpointNotReached { checkpoint, last_seq: Some(last) } => write!(
                f,
                "the chain ends at seq {last}, before the checkpoint at seq {}: records were removed from its end",
                checkpoint.seq
            ),
            StreamError::CheckpointNotReached { checkpoint, last_seq: None } => {
                write!(f, "no records, but the checkpoint is at seq {}", checkpoint.seq)
            }
            StreamError::Source { error, .. } => error.fmt(f),
            StreamError::Stopped { reason: StopReason::Deadline, verified } => {
                write!(f, "the deadline passed after {} records", verified.as_ref().map_or(0, |v| v.verified))
            }
            StreamError::ReaderFailed { verified } => write!(
                f,
                "the thread reading the records failed after {} records were verified; the rest was not read",
                verified.as_ref().map_or(0, |v| v.verified)
            ),
            StreamError::Stopped { reason: StopReason::RecordCap, verified } => write!(
                f,
                "stopped at the record cap ({} records verified); the chain goes on",
                verified.as_ref().map_or(0, |v| v.verified)
            ),
        }
    }
}

/// `Display` already says what the cause said, so `source()` is `None` (the crate's
/// convention: each message once in an error-chain printer).
impl<E: std::error::Error + 'static> std::error::Error for StreamError<E> {}

/// Verifies a chain given as the texts of its records, in order, on several threads.
///
/// ```
/// use sentinel_runtime::provenance::{ChainVerifier, RecordTexts, TrustedKeys};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let trusted = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
/// let export = std::io::BufReader::new("".as_bytes()); // a file of JSON Lines, or a JSON array
/// let result = ChainVerifier::new(&trusted).verify(RecordTexts::new(export), |progress| {
///     eprintln!("{} records", progress.verified);
/// });
/// assert!(result.is_err()); // no records: nothing is proven
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ChainVerifier<'k> {
    trusted: &'k TrustedKeys,
    resume: Option<Checkpoint>,
    deadline: Option<Instant>,
    max_records: Option<u64>,
    signatures: SignatureCheck,
    workers: usize,
    chunk: usize,
}

/// Records per chunk: one Ed25519 batch, one message to a worker. A batch of 1024 costs
/// ~14 % fewer instructions a signature than one of 256 (Pippenger's buckets amortize over
/// more points), and a chunk is ~1.4 MiB of text: a few per worker in flight stay far under
/// the 64 MiB the issue allows.
const DEFAULT_CHUNK: usize = 1024;

impl<'k> ChainVerifier<'k> {
    /// A verifier of chains signed by `trusted` keys, from `GENESIS`, on every core.
    #[must_use]
    pub fn new(trusted: &'k TrustedKeys) -> Self {
        ChainVerifier {
            trusted,
            resume: None,
            deadline: None,
            max_records: None,
            signatures: SignatureCheck::default(),
            workers: thread::available_parallelism().map_or(2, NonZeroUsize::get),
            chunk: DEFAULT_CHUNK,
        }
    }

    /// Resume from a checkpoint kept from an earlier verification: records before its
    /// `seq` are passed over (not verified), the record at its `seq` must be the one
    /// checkpointed (same `contentHash`, and it verifies), and the records after it are
    /// verified from it. The input may start anywhere up to the checkpoint's `seq` (a whole
    /// export, or one fetched from there) but must reach it.
    ///
    /// ```no_run
    /// use std::time::{Duration, Instant};
    /// use sentinel_runtime::provenance::{ChainVerifier, Checkpoint, RecordTexts, SignatureCheck, TrustedKeys};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let trusted = TrustedKeys::new().with_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")?;
    /// let export = std::io::BufReader::new(std::fs::File::open("export.jsonl")?);
    /// let chain = ChainVerifier::new(&trusted)
    ///     .resume_from(Checkpoint::new(41, "9f2c…"))         // kept from the last run
    ///     .deadline(Instant::now() + Duration::from_secs(60))
    ///     .max_records(10_000_000)
    ///     .signatures(SignatureCheck::Batch)
    ///     .workers(4)
    ///     .chunk_records(512)
    ///     .verify(RecordTexts::new(export), |progress| eprintln!("{}", progress.verified))?;
    /// println!("next time, resume from {}", chain.head);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn resume_from(mut self, checkpoint: Checkpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Stop when `deadline` passes ([`StreamError::Stopped`], with what was verified).
    #[must_use]
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Read at most this many records ([`StreamError::Stopped`] if the input has more).
    #[must_use]
    pub fn max_records(mut self, max_records: u64) -> Self {
        self.max_records = Some(max_records);
        self
    }

    /// How signatures are checked (see [`SignatureCheck`]).
    #[must_use]
    pub fn signatures(mut self, check: SignatureCheck) -> Self {
        self.signatures = check;
        self
    }

    /// How many worker threads verify records (default: the number of cores).
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Records per chunk (default 1024): a worker's unit of work and one Ed25519 batch. More
    /// amortizes a batch better; fewer holds less in memory and reports progress more often.
    #[must_use]
    pub fn chunk_records(mut self, records: usize) -> Self {
        self.chunk = records.max(1);
        self
    }

    /// Verifies the records whose texts `source` yields, in chain order. `progress` is
    /// called on this thread after each chunk of records.
    ///
    /// # Errors
    ///
    /// The first problem in chain order (see [`StreamError`]).
    pub fn verify<I, E>(
        &self,
        source: I,
        mut progress: impl FnMut(&Progress),
    ) -> Result<VerifiedChain, StreamError<E>>
    where
        I: IntoIterator<Item = Result<String, E>>,
        I::IntoIter: Send,
        E: Send,
    {
        let started = Instant::now();
        let stop = AtomicBool::new(false);
        let source = source.into_iter();
        let (work_tx, work_rx) = sync_channel::<Chunk>(self.workers);
        let (done_tx, done_rx) = sync_channel::<Checked>(self.workers);
        // Shared by the workers only: when the last one stops, the reader's send fails.
        let work_rx = Arc::new(Mutex::new(work_rx));
        thread::scope(|scope| {
            let stop = &stop;
            let reader = scope.spawn(move || self.read(source, &work_tx, stop));
            for _ in 0..self.workers {
                let done_tx = done_tx.clone();
                let work_rx = Arc::clone(&work_rx);
                scope.spawn(move || self.work(&work_rx, &done_tx));
            }
            drop(done_tx);
            drop(work_rx);
            let mut links = Links::new(self, started);
            let outcome = links.collect(&done_rx, &mut progress);
            // Whatever happened, let the reader and the workers go.
            stop.store(true, Ordering::Relaxed);
            drop(done_rx);
            // A reader that panicked did not finish: what it read is a prefix at best.
            let end = reader.join().ok();
            match (outcome, end) {
                (Err(e), _) => Err(e),
                (Ok(()), None) => Err(StreamError::ReaderFailed {
                    verified: links.verified(),
                }),
                (Ok(()), Some(ReaderEnd::Finished)) => links.finish(),
                (Ok(()), Some(ReaderEnd::Failed(error))) => Err(StreamError::Source {
                    error,
                    verified: links.verified(),
                }),
                (Ok(()), Some(ReaderEnd::Stopped(reason))) => Err(StreamError::Stopped {
                    reason,
                    verified: links.verified(),
                }),
            }
        })
    }

    /// The reader thread: chunks of texts to the workers, until the input ends, fails, the
    /// cap or the deadline is reached, or the verification stops.
    fn read<I, E>(
        &self,
        mut source: I,
        work_tx: &std::sync::mpsc::SyncSender<Chunk>,
        stop: &AtomicBool,
    ) -> ReaderEnd<E>
    where
        I: Iterator<Item = Result<String, E>>,
    {
        let mut index = 0u64;
        let mut count = 0u64;
        let mut texts = Vec::with_capacity(self.chunk);
        let send = |texts: &mut Vec<String>, index: &mut u64| {
            let chunk = Chunk {
                index: *index,
                texts: std::mem::replace(texts, Vec::with_capacity(self.chunk)),
            };
            *index += 1;
            work_tx.send(chunk).is_ok()
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                return ReaderEnd::Finished;
            }
            if self.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                if !texts.is_empty() {
                    send(&mut texts, &mut index);
                }
                return ReaderEnd::Stopped(StopReason::Deadline);
            }
            let at_cap = self.max_records.is_some_and(|cap| count >= cap);
            let item = source.next();
            if at_cap && item.is_some() {
                if !texts.is_empty() {
                    send(&mut texts, &mut index);
                }
                return ReaderEnd::Stopped(StopReason::RecordCap);
            }
            match item {
                None => {
                    if !texts.is_empty() {
                        send(&mut texts, &mut index);
                    }
                    return ReaderEnd::Finished;
                }
                Some(Err(error)) => {
                    if !texts.is_empty() {
                        send(&mut texts, &mut index);
                    }
                    return ReaderEnd::Failed(error);
                }
                Some(Ok(text)) => {
                    texts.push(text);
                    count += 1;
                    if texts.len() == self.chunk && !send(&mut texts, &mut index) {
                        return ReaderEnd::Finished;
                    }
                }
            }
        }
    }

    /// A worker thread: verifies chunks until there are no more or no one listens.
    fn work(&self, work_rx: &Mutex<Receiver<Chunk>>, done_tx: &std::sync::mpsc::SyncSender<Checked>) {
        let mut worker = Worker::new(self);
        loop {
            let chunk = match work_rx.lock() {
                Ok(receiver) => receiver.recv(),
                Err(_) => return,
            };
            let Ok(chunk) = chunk else { return };
            let checked = worker.check(chunk);
            if done_tx.send(checked).is_err() {
                return;
            }
        }
    }
}

/// Record texts on their way to a worker; `index` orders the chunks.
struct Chunk {
    index: u64,
    texts: Vec<String>,
}

/// What a worker found in a chunk: the link members of each record up to the first one
/// that does not verify, and that one.
struct Checked {
    index: u64,
    links: Vec<Link>,
    failure: Option<Failure>,
}

enum Link {
    /// Verified on its own; to be linked.
    Verified {
        seq: u64,
        prev_hash: String,
        content_hash: String,
    },
    /// Before the checkpoint: only its `seq` was read.
    Skipped { seq: u64 },
}

/// A record that does not verify on its own, as the reference path names it; its `seq`
/// and `prevHash` when it could be read, to check its place first.
struct Failure {
    place: Option<(u64, String)>,
    error: ProvenanceError,
}

impl Failure {
    /// The fast path refused a record the reference path accepts: refuse it anyway (fail
    /// closed) and say so; it is a bug to report.
    fn bug(text: &str) -> Failure {
        let record = Record::from_json(text).ok();
        Failure {
            place: record.as_ref().map(|r| (r.seq, r.prev_hash.clone())),
            error: ProvenanceError::malformed(
                record.map(|r| r.seq),
                "refused by the streaming verifier though it verifies on its own (a bug: please report it)",
            ),
        }
    }
}

enum ReaderEnd<E> {
    Finished,
    Failed(E),
    Stopped(StopReason),
}

/// One worker's state: buffers reused from record to record, and the signers it has seen.
struct Worker<'v> {
    verifier: &'v ChainVerifier<'v>,
    body: String,
    payload: String,
    fingerprint: String,
    /// `signerPublicKey` text → its key id, and the key when it is pinned and may be batched.
    signers: Vec<(String, String, Option<VerifyingKey>)>,
}

/// Distinct signers remembered per worker; a chain has one or a few (key rotation).
const MAX_SIGNERS: usize = 16;

/// A record that passed everything but its signature, waiting for the chunk's batch.
struct Pending {
    position: usize,
    digest: [u8; 32],
    signature: Signature,
    key: VerifyingKey,
}

impl<'v> Worker<'v> {
    fn new(verifier: &'v ChainVerifier<'v>) -> Self {
        Worker {
            verifier,
            body: String::with_capacity(2048),
            payload: String::with_capacity(512),
            fingerprint: String::with_capacity(512),
            signers: Vec::new(),
        }
    }

    fn check(&mut self, chunk: Chunk) -> Checked {
        let mut links = Vec::with_capacity(chunk.texts.len());
        let mut pending = Vec::with_capacity(chunk.texts.len());
        let mut failure = None;
        for (position, text) in chunk.texts.iter().enumerate() {
            match self.check_one(text, position, &mut pending) {
                Some(link) => links.push(link),
                None => {
                    failure = Some(self.reference(text).unwrap_or_else(|| Failure::bug(text)));
                    break;
                }
            }
        }
        if !pending.is_empty() && !self.batch_verifies(&pending) {
            // Name the bad record: the first of the batch the reference path refuses. (If
            // every one verifies on its own, the batch could not have failed: refuse the
            // first anyway.)
            let refused = pending
                .iter()
                .find_map(|waiting| {
                    let text = &chunk.texts[waiting.position];
                    self.reference(text).map(|failure| (waiting.position, failure))
                })
                .unwrap_or_else(|| {
                    (
                        pending[0].position,
                        Failure::bug(&chunk.texts[pending[0].position]),
                    )
                });
            links.truncate(refused.0);
            failure = Some(refused.1);
        }
        Checked {
            index: chunk.index,
            links,
            failure,
        }
    }

    fn batch_verifies(&self, pending: &[Pending]) -> bool {
        let messages: Vec<&[u8]> = pending.iter().map(|p| p.digest.as_slice()).collect();
        let signatures: Vec<Signature> = pending.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = pending.iter().map(|p| p.key).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    }

    /// The fast path: the record's link, its signature left in `pending` for the batch;
    /// `None` when anything is not plainly right (the reference path then says what).
    fn check_one(&mut self, text: &str, position: usize, pending: &mut Vec<Pending>) -> Option<Link> {
        let view = RecordView::parse(text).ok()?;
        if let Some(checkpoint) = &self.verifier.resume {
            if view.seq < checkpoint.seq {
                return Some(Link::Skipped { seq: view.seq });
            }
        }
        view.write_canonical_body(&mut self.body, &mut self.payload);
        let digest: [u8; 32] = Sha256::digest(self.body.as_bytes()).into();
        if hex32(&digest) != view.content_hash.as_bytes() {
            return None;
        }
        let key = self.signer(&view.key_id, &view.signer_public_key)?;
        let signature = Signature::from_bytes(&decode_signature(&view.sig)?);
        self.fingerprint.clear();
        self.fingerprint.push_str("{\"payload\":");
        self.fingerprint.push_str(&self.payload);
        self.fingerprint.push_str(",\"type\":");
        crate::canonical::write_string(&mut self.fingerprint, &view.kind);
        self.fingerprint.push('}');
        if hex32(&Sha256::digest(self.fingerprint.as_bytes()).into()) != view.action_fingerprint.as_bytes() {
            return None;
        }
        match self.verifier.signatures {
            SignatureCheck::Strict => key.verify_strict(&digest, &signature).ok()?,
            SignatureCheck::Batch => pending.push(Pending {
                position,
                digest,
                signature,
                key,
            }),
        }
        Some(Link::Verified {
            seq: view.seq,
            prev_hash: view.prev_hash.into_owned(),
            content_hash: view.content_hash.into_owned(),
        })
    }

    /// The record's signer when its key id is its key's, the key is pinned, and it is not
    /// of small order (such a key never verifies strictly, so it is never batched).
    fn signer(&mut self, key_id: &str, public_key: &str) -> Option<VerifyingKey> {
        if let Some((_, derived, key)) = self.signers.iter().find(|(text, ..)| text == public_key) {
            return (derived == key_id).then_some(*key).flatten();
        }
        let raw: [u8; 32] = STANDARD.decode(public_key).ok()?.try_into().ok()?;
        let derived = TrustedKeys::key_id_of(&raw);
        let key = self
            .verifier
            .trusted
            .trusts(&raw)
            .then(|| VerifyingKey::from_bytes(&raw).ok())
            .flatten()
            .filter(|key| !key.is_weak());
        let verdict = (derived == key_id).then_some(key).flatten();
        if self.signers.len() < MAX_SIGNERS {
            self.signers.push((public_key.to_owned(), derived, key));
        }
        verdict
    }

    /// The reference path: parse and verify the record as `verify_chain_from` does;
    /// `None` if it verifies.
    fn reference(&self, text: &str) -> Option<Failure> {
        let record = match Record::from_json(text) {
            Ok(record) => record,
            Err(error) => return Some(Failure { place: None, error }),
        };
        let error = verify_record(&record, self.verifier.trusted).err()?;
        Some(Failure {
            place: Some((record.seq, record.prev_hash)),
            error,
        })
    }
}

/// The ordered side: chunks back in order, links checked, progress reported.
struct Links<'v> {
    verifier: &'v ChainVerifier<'v>,
    started: Instant,
    /// The `seq` and `contentHash` the next record must follow; `None` before the first.
    expected: Option<(Option<u64>, String)>,
    verified: u64,
    skipped: u64,
    last_seq: Option<u64>,
    head: Option<Checkpoint>,
    /// Whether the checkpoint's record has been read (or the chain went past it).
    reached_checkpoint: bool,
}

impl<'v> Links<'v> {
    fn new(verifier: &'v ChainVerifier<'v>, started: Instant) -> Self {
        Links {
            verifier,
            started,
            expected: match &verifier.resume {
                Some(_) => None,
                None => Some((Some(0), GENESIS.to_owned())),
            },
            verified: 0,
            skipped: 0,
            last_seq: None,
            head: None,
            reached_checkpoint: verifier.resume.is_none(),
        }
    }

    fn collect<E>(
        &mut self,
        done_rx: &Receiver<Checked>,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<(), StreamError<E>> {
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        for checked in done_rx {
            waiting.insert(checked.index, checked);
            while let Some(checked) = waiting.remove(&next) {
                next += 1;
                self.link(checked)?;
                progress(&Progress {
                    verified: self.verified,
                    skipped: self.skipped,
                    last_seq: self.last_seq,
                    elapsed: self.started.elapsed(),
                });
            }
            if self
                .verifier
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                return Err(StreamError::Stopped {
                    reason: StopReason::Deadline,
                    verified: self.verified(),
                });
            }
        }
        Ok(())
    }

    fn link<E>(&mut self, checked: Checked) -> Result<(), StreamError<E>> {
        for link in checked.links {
            match link {
                Link::Skipped { seq } => {
                    self.place(seq, None)?;
                    self.skipped += 1;
                }
                Link::Verified {
                    seq,
                    prev_hash,
                    content_hash,
                } => {
                    if self.expected.is_some() {
                        self.place(seq, Some(&prev_hash))?;
                    } else {
                        self.anchor(seq, &prev_hash, &content_hash)?;
                    }
                    self.verified += 1;
                    self.expected = Some((seq.checked_add(1), content_hash.clone()));
                    self.head = Some(Checkpoint { seq, content_hash });
                }
            }
        }
        match checked.failure {
            None => Ok(()),
            Some(Failure {
                place: Some((seq, prev_hash)),
                error,
            }) => {
                self.place(seq, Some(&prev_hash))?;
                Err(StreamError::Chain(error))
            }
            Some(Failure { place: None, error }) => Err(StreamError::Chain(self.locate(error))),
        }
    }

    /// A record that could not be read has no `seq` of its own: say where it is in the input.
    fn locate(&self, error: ProvenanceError) -> ProvenanceError {
        let position = self.verified + self.skipped;
        let after = self
            .last_seq
            .map_or_else(String::new, |seq| format!(", after seq {seq}"));
        match error {
            ProvenanceError::Malformed { seq: None, reason } => ProvenanceError::Malformed {
                seq: None,
                reason: format!("record {position} of the input (counting from 0{after}): {reason}"),
            },
            other => other,
        }
    }

    /// Checks that a record with this `seq` (and `prevHash`, when it has been read) comes
    /// next. Before the checkpoint is reached, only that `seq`s follow each other.
    fn place<E>(&mut self, seq: u64, prev_hash: Option<&str>) -> Result<(), StreamError<E>> {
        let previous = self.last_seq.replace(seq);
        let Some((expected, expected_prev)) = &self.expected else {
            return match previous {
                Some(previous) if previous.checked_add(1) != Some(seq) => {
                    Err(StreamError::Chain(ProvenanceError::SeqGap {
                        seq,
                        expected: previous.saturating_add(1),
                    }))
                }
                _ => Ok(()),
            };
        };
        let Some(expected) = *expected else {
            return Err(StreamError::Chain(ProvenanceError::malformed(
                Some(seq),
                "no record can follow seq u64::MAX",
            )));
        };
        if seq != expected {
            return Err(StreamError::Chain(ProvenanceError::SeqGap { seq, expected }));
        }
        match prev_hash {
            Some(found) if found != expected_prev => Err(StreamError::Chain(ProvenanceError::BrokenLink {
                seq,
                expected: expected_prev.clone(),
                found: found.to_owned(),
            })),
            _ => Ok(()),
        }
    }

    /// The first record verified after resuming from a checkpoint: the checkpoint's own
    /// record (same `contentHash`), or, when the input starts after it, the record that
    /// links to it.
    fn anchor<E>(&mut self, seq: u64, prev_hash: &str, content_hash: &str) -> Result<(), StreamError<E>> {
        let Some(checkpoint) = &self.verifier.resume else {
            return Ok(());
        };
        let previous = self.last_seq.replace(seq);
        let follows = |previous: u64| previous.checked_add(1) == Some(seq);
        if seq == checkpoint.seq && previous.is_none_or(follows) {
            if content_hash != checkpoint.content_hash {
                return Err(StreamError::CheckpointMismatch {
                    checkpoint: checkpoint.clone(),
                    found: content_hash.to_owned(),
                });
            }
        } else if previous.is_none() && checkpoint.seq.checked_add(1) == Some(seq) {
            if prev_hash != checkpoint.content_hash {
                return Err(StreamError::Chain(ProvenanceError::BrokenLink {
                    seq,
                    expected: checkpoint.content_hash.clone(),
                    found: prev_hash.to_owned(),
                }));
            }
        } else {
            return Err(StreamError::Chain(ProvenanceError::SeqGap {
                seq,
                expected: previous.map_or(checkpoint.seq, |previous| previous.saturating_add(1)),
            }));
        }
        self.reached_checkpoint = true;
        Ok(())
    }

    fn verified(&self) -> Option<VerifiedChain> {
        self.head.clone().map(|head| VerifiedChain {
            verified: self.verified,
            skipped: self.skipped,
            head,
        })
    }

    fn finish<E>(&self) -> Result<VerifiedChain, StreamError<E>> {
        if let Some(checkpoint) = &self.verifier.resume {
            if !self.reached_checkpoint {
                return Err(StreamError::CheckpointNotReached {
                    checkpoint: checkpoint.clone(),
                    last_seq: self.last_seq,
                });
            }
        }
        self.verified()
            .ok_or(StreamError::Chain(ProvenanceError::EmptyChain))
    }
}

/// Lowercase hex of a SHA-256 digest.
fn hex32(digest: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (pair, &byte) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    out
}

/// A signature as the reference path reads it: standard padded base64 of exactly 64 bytes.
fn decode_signature(text: &str) -> Option<[u8; 64]> {
    // Room for base64's length estimate (66 for 88 characters).
    let mut buffer = [0u8; 72];
    let length = STANDARD.decode_slice(text, &mut buffer).ok()?;
    buffer[..length].try_into().ok()
}
