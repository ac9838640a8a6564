//! The auditor's commands: check what the sidecar decided without trusting the sidecar.
//!
//! - `verify`: a chain (live, or an export file) verified under pinned keys, with checkpoints;
//! - `export`: a live sidecar's chain paged into a JSON Lines file, resumable;
//! - `records`, `escalations`: the sidecar's records and escalations, as tables or JSON;
//! - `receipts audit`: the sidecar's audit of its protocol receipts (complete mediation).
//!
//! Exit codes, for scripts: 0 done (verified), 1 the chain does not verify, 2 a usage error,
//! 3 could not finish (the sidecar or a file could not be read, or a deadline or cap stopped it).

pub mod escalations;
pub mod export;
pub mod receipts;
pub mod records;
pub mod verify;

mod keys;
mod progress;
mod table;

use std::process::ExitCode;
use std::time::Duration;

use clap::Args as ClapArgs;
use sentinel::SentinelClient;

/// Verified, or done.
pub const OK: u8 = 0;
/// The chain does not verify: a record was changed, removed, added or reordered.
pub const TAMPERED: u8 = 1;
/// The command line or a file given on it is wrong.
pub const USAGE: u8 = 2;
/// Could not finish: the sidecar or the input could not be read, or the run was stopped.
pub const INCOMPLETE: u8 = 3;

/// The longest answer the auditor's commands read. The library's default (1 MiB) guards an
/// agent's process on its hot path; here a person or a CI job asks once for lists the sidecar
/// does not page (every escalation it ever held, its protocol audit with every violation),
/// which outgrow 1 MiB on a busy sidecar. Still a bound: a hostile answer cannot take more.
const ANSWER_LIMIT: usize = 32 << 20;

/// Where the sidecar is.
#[derive(Debug, Clone, ClapArgs)]
pub struct Endpoint {
    /// The sidecar's base URL (default: `SENTINEL_ENDPOINT`).
    #[arg(long, value_name = "URL", env = "SENTINEL_ENDPOINT", global = true)]
    pub endpoint: Option<String>,
    /// How long one request may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, global = true)]
    pub request_timeout: u64,
}

impl Endpoint {
    /// A client of the sidecar, or the reason (as an exit code, printed).
    pub fn client(&self) -> Result<SentinelClient, ExitCode> {
        let Some(endpoint) = &self.endpoint else {
            return Err(fail(
                USAGE,
                "give the sidecar's URL with --endpoint URL or SENTINEL_ENDPOINT",
            ));
        };
        SentinelClient::builder(endpoint.trim_end_matches('/'))
            .timeout(Duration::from_secs(self.request_timeout.max(1)))
            .body_limit(ANSWER_LIMIT)
            .build()
            .map_err(|e| fail(USAGE, &format!("--endpoint {endpoint}: {e}")))
    }
}

/// Prints `message` on stderr and returns `code`.
pub fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("sentinelctl: {message}");
    ExitCode::from(code)
}

/// Prints `value` as one line of JSON on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}
