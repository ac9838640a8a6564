//! `sentinelctl verify`: a sidecar's chain of signed records, verified here under pinned
//! keys (never by asking the sidecar), from a live sidecar or an export file.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args as ClapArgs;
use sentinel::provenance::{
    ChainVerifier, Checkpoint, InputError, ProvenanceError, RecordTexts, SignatureCheck, StopReason,
    StreamError, VerifiedChain,
};
use sentinel::records::{ExportError, ExportVerification};
use serde_json::json;

use super::keys::KeyArgs;
use super::progress::Progress;
use super::{fail, print_json, INCOMPLETE, OK, TAMPERED, USAGE};

/// Verify a sidecar's chain of signed records under pinned keys: every record's hash,
/// signature, signer and fingerprint, and every link. Exit 0 verified, 1 a record does not
/// verify (it is printed, with why), 3 could not finish.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// An export to verify: JSON Lines (one record per line) or a JSON array of records;
    /// `-` for standard input. Without it, `--endpoint` is verified live.
    #[arg(
        value_name = "FILE",
        conflicts_with = "endpoint",
        required_unless_present = "endpoint"
    )]
    pub file: Option<PathBuf>,
    /// A live sidecar to verify, page by page (`GET /v1/export`).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Resume from the checkpoint in FILE (written by `--write-checkpoint`): the record at its
    /// seq must still be the one checkpointed, and only the records after it are verified.
    #[arg(long, value_name = "FILE")]
    pub from_checkpoint: Option<PathBuf>,
    /// When the chain verifies, write its head (last seq and contentHash) to FILE, to resume
    /// from next time.
    #[arg(long, value_name = "FILE")]
    pub write_checkpoint: Option<PathBuf>,
    /// Check each signature on its own with `verify_strict` instead of in batches (slower;
    /// also refuses the malleable encodings only the key's holder can make).
    #[arg(long)]
    pub strict_signatures: bool,
    /// Stop (exit 3) after this many records.
    #[arg(long, value_name = "N")]
    pub max_records: Option<u64>,
    /// Stop (exit 3) after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// How long one request to a live sidecar may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub request_timeout: u64,
    /// Print the outcome as one JSON object on stdout (for scripts); no progress.
    #[arg(long)]
    pub json: bool,
}

/// What a verification came to, whatever its input.
enum Outcome {
    Verified {
        verified: u64,
        skipped: u64,
        head: Checkpoint,
    },
    /// The chain does not verify: the record (its seq when known) and why.
    Tampered {
        seq: Option<u64>,
        reason: String,
        verified: Option<u64>,
    },
    /// Could not finish.
    Incomplete {
        reason: String,
        verified: Option<(u64, Checkpoint)>,
    },
}

pub fn run(args: Args) -> ExitCode {
    let trusted = match args.keys.trusted() {
        Ok(trusted) => trusted,
        Err(e) => return fail(USAGE, &e),
    };
    let checkpoint = match &args.from_checkpoint {
        Some(path) => match read_checkpoint(path) {
            Ok(checkpoint) => Some(checkpoint),
            Err(e) => return fail(USAGE, &e),
        },
        None => None,
    };
    let started = Instant::now();
    let outcome = match (&args.file, &args.endpoint) {
        (Some(file), _) => verify_file(&args, file, &trusted, checkpoint.clone()),
        (None, Some(endpoint)) => verify_live(&args, endpoint, &trusted, checkpoint.clone()),
        (None, None) => return fail(USAGE, "give an export FILE or --endpoint URL"),
    };
    let seconds = started.elapsed().as_secs_f64();
    report(&args, outcome, seconds)
}

fn report(args: &Args, outcome: Outcome, seconds: f64) -> ExitCode {
    match outcome {
        Outcome::Verified {
            verified,
            skipped,
            head,
        } => {
            if let Some(path) = &args.write_checkpoint {
                if let Err(e) = write_checkpoint(path, &head) {
                    return fail(
                        INCOMPLETE,
                        &format!("verified, but the checkpoint could not be written: {e}"),
                    );
                }
            }
            if args.json {
                print_json(&json!({
                    "ok": true,
                    "verified": verified,
                    "skipped": skipped,
                    "head": head,
                    "seconds": seconds,
                }));
            } else {
                let rate = verified as f64 / seconds.max(1e-3);
                println!(
                    "verified {verified} records ({rate:.0}/s); head: seq {} contentHash {}",
                    head.seq, head.content_hash
                );
                if skipped > 0 {
                    println!("{skipped} records before the checkpoint were passed over");
                }
            }
            ExitCode::from(OK)
        }
        Outcome::Tampered {
            seq,
            reason,
            verified,
        } => {
            if args.json {
                print_json(
                    &json!({"ok": false, "outcome": "does-not-verify", "seq": seq, "reason": reason, "verified": verified}),
                );
            } else {
                println!("FAILED: {reason}");
                println!(
                    "The chain does not verify{}: this record was changed, removed, added or moved after the sidecar \
                     signed it, or signed by a key that is not pinned. Nothing from it on can be trusted.",
                    seq.map_or_else(String::new, |seq| format!(" at seq {seq}"))
                );
            }
            ExitCode::from(TAMPERED)
        }
        Outcome::Incomplete { reason, verified } => {
            if args.json {
                print_json(&json!({
                    "ok": false,
                    "outcome": "incomplete",
                    "reason": reason,
                    "verified": verified.as_ref().map(|v| v.0),
                    "head": verified.as_ref().map(|v| &v.1),
                }));
            } else {
                println!("NOT FINISHED: {reason}");
                if let Some((count, head)) = &verified {
                    println!(
                        "{count} records verified before that, up to seq {} (no checkpoint written)",
                        head.seq
                    );
                }
            }
            ExitCode::from(INCOMPLETE)
        }
    }
}

impl From<VerifiedChain> for Outcome {
    fn from(chain: VerifiedChain) -> Self {
        Outcome::Verified {
            verified: chain.verified,
            skipped: chain.skipped,
            head: chain.head,
        }
    }
}

/// Counts the bytes read, for the progress bar's ETA.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn verify_file(
    args: &Args,
    file: &Path,
    trusted: &sentinel::provenance::TrustedKeys,
    checkpoint: Option<Checkpoint>,
) -> Outcome {
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if file == Path::new("-") {
        (Box::new(io::stdin()), None)
    } else {
        match File::open(file) {
            Ok(opened) => {
                let size = opened.metadata().ok().map(|m| m.len());
                (Box::new(opened), size)
            }
            Err(e) => {
                return Outcome::Incomplete {
                    reason: format!("{}: {e}", file.display()),
                    verified: None,
                }
            }
        }
    };
    let read = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: input,
        read: Arc::clone(&read),
    };
    let mut verifier = ChainVerifier::new(trusted);
    if args.strict_signatures {
        verifier = verifier.signatures(SignatureCheck::Strict);
    }
    if let Some(max) = args.max_records {
        verifier = verifier.max_records(max);
    }
    if let Some(seconds) = args.timeout {
        verifier = verifier.deadline(Instant::now() + Duration::from_secs(seconds));
    }
    if let Some(checkpoint) = checkpoint {
        verifier = verifier.resume_from(checkpoint);
    }
    let mut progress = Progress::new("records", size, args.json);
    let result = verifier.verify(
        RecordTexts::new(BufReader::with_capacity(1 << 16, counting)),
        |p| progress.update(p.verified + p.skipped, Some(read.load(Ordering::Relaxed))),
    );
    progress.finish();
    match result {
        Ok(chain) => Outcome::from(chain),
        Err(error) => from_stream_error(error),
    }
}

fn from_stream_error(error: StreamError<InputError>) -> Outcome {
    let reason = error.to_string();
    match error {
        StreamError::Chain(ProvenanceError::EmptyChain) => Outcome::Incomplete {
            reason: "no records: an empty export proves nothing".to_owned(),
            verified: None,
        },
        StreamError::Chain(e) => Outcome::Tampered {
            seq: e.seq(),
            reason,
            verified: None,
        },
        StreamError::CheckpointMismatch { checkpoint, .. } => Outcome::Tampered {
            seq: Some(checkpoint.seq),
            reason,
            verified: None,
        },
        StreamError::CheckpointNotReached { last_seq, .. } => Outcome::Tampered {
            seq: last_seq.map(|seq| seq + 1),
            reason,
            verified: None,
        },
        StreamError::Source { verified, .. }
        | StreamError::Stopped { verified, .. }
        | StreamError::ReaderFailed { verified } => Outcome::Incomplete {
            reason,
            verified: verified.map(|v| (v.verified, v.head)),
        },
        _ => Outcome::Incomplete {
            reason,
            verified: None,
        },
    }
}

fn verify_live(
    args: &Args,
    endpoint: &str,
    trusted: &sentinel::provenance::TrustedKeys,
    checkpoint: Option<Checkpoint>,
) -> Outcome {
    let endpoint = super::Endpoint {
        endpoint: Some(endpoint.to_owned()),
        request_timeout: args.request_timeout,
    };
    let client = match endpoint.client() {
        Ok(client) => client,
        Err(_) => {
            return Outcome::Incomplete {
                reason: "no usable sidecar URL".to_owned(),
                verified: None,
            }
        }
    };
    let mut options = ExportVerification::new();
    if args.strict_signatures {
        options = options.signatures(SignatureCheck::Strict);
    }
    if let Some(seconds) = args.timeout {
        options = options.timeout(Duration::from_secs(seconds));
    }
    if let Some(max) = args.max_records {
        options = options.max_records(max);
    }
    if let Some(checkpoint) = checkpoint {
        options = options.resume_from(checkpoint);
    }
    let mut progress = Progress::new("records", None, args.json);
    let result = client.verify_export_with(trusted, &options, |p| {
        progress.update(p.verified + p.skipped, None)
    });
    progress.finish();
    match result {
        Ok(verified) => Outcome::Verified {
            verified: verified.records,
            // From a checkpoint, the export is fetched from it: nothing is passed over.
            skipped: 0,
            head: verified.head,
        },
        Err(error) => {
            let reason = error.to_string();
            match error {
                ExportError::Chain(ProvenanceError::EmptyChain) => Outcome::Incomplete {
                    reason: "the sidecar has no records: nothing to verify".to_owned(),
                    verified: None,
                },
                ExportError::Chain(e) => Outcome::Tampered {
                    seq: e.seq(),
                    reason,
                    verified: None,
                },
                ExportError::CheckpointMismatch { checkpoint, .. } => Outcome::Tampered {
                    seq: Some(checkpoint.seq),
                    reason,
                    verified: None,
                },
                ExportError::CheckpointNotReached { last_seq, .. } => Outcome::Tampered {
                    seq: last_seq.map(|seq| seq + 1),
                    reason,
                    verified: None,
                },
                ExportError::Stopped {
                    verified,
                    reason: why,
                } => Outcome::Incomplete {
                    reason: match why {
                        StopReason::RecordCap => format!("{reason} (--max-records)"),
                        _ => format!("{reason} (--timeout)"),
                    },
                    verified: verified.map(|v| (v.records, v.head)),
                },
                _ => Outcome::Incomplete {
                    reason,
                    verified: None,
                },
            }
        }
    }
}

/// Reads a checkpoint written by `--write-checkpoint`.
fn read_checkpoint(path: &Path) -> Result<Checkpoint, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--from-checkpoint {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "--from-checkpoint {}: not a checkpoint ({{\"seq\":…,\"contentHash\":\"…\"}}): {e}",
            path.display()
        )
    })
}

/// Writes the checkpoint through a temporary file renamed into place, so a crash never leaves
/// half a checkpoint.
fn write_checkpoint(path: &Path, head: &Checkpoint) -> io::Result<()> {
    let partial = path.with_extension("partial");
    let text = serde_json::to_string(head).map_err(io::Error::other)? + "\n";
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}
