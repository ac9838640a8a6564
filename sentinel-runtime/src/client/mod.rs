//! [`SentinelClient`]: asks the sidecar, and fails safe whenever it cannot get a
//! trustworthy answer.
//!
//! `impl SentinelClient` is spread over one file per concern; every method lives in one of
//! these:
//!
//! | file | methods |
//! | --- | --- |
//! | `client/mod.rs` | the type, `builder`, `endpoint`, `fail_mode`, `timeout`, `verifies_decisions`, `connections_opened`, and the fail-safe decision |
//! | `client/builder.rs` | `SentinelClientBuilder` (`build`) |
//! | `client/guard.rs` | `guard`: one `POST /v1/guard`, its answer read strictly |
//! | `client/batch.rs` | `guard_batch`, `MAX_BATCH`: `POST /v1/guard/batch` in deadline-sized chunks |
//! | `client/exchange.rs` | one HTTP exchange within a deadline, with retries (crate-internal) |
//! | `client/verify.rs` | a verified `ALLOW` against its signed record (feature `verify`, crate-internal) |
//! | `client/replay.rs` | the records that already let a call through (feature `verify`) |
//! | `escalation/lookup.rs` | `escalations`, `escalation_status` |
//! | `escalation/resolve.rs` | `resolve`, `resolve_escalation` |
//! | `escalation/wait.rs` | `wait_for_resolution`, `guard_and_wait`, `MAX_POLL_INTERVAL` |
//! | `escalation/resume.rs` | `resume` (feature `verify`) |
//! | `client/probes.rs` | `ready`, `healthy` |
//! | `records.rs` | `record`, `records`, `export_pages`, `sidecar_verify` (feature `verify`) |
//! | `records/export.rs` | `export_record_texts`, `verify_export`, `verify_export_with` (feature `verify`) |
//! | `records/audit.rs` | `protocol_audit` (feature `verify`) |
//! | `env.rs` | `from_env` |

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deadline::deadline_after;
use crate::decision::{FailMode, FallbackKind, GuardDecision};
use crate::transport::{RedactedHeaders, Transport};

mod batch;
mod builder;
mod exchange;
mod guard;
mod probes;
#[cfg(feature = "verify")]
mod replay;
#[cfg(feature = "verify")]
mod verify;

pub use builder::{BuildError, SentinelClientBuilder};
#[cfg(feature = "verify")]
pub(crate) use verify::judged_under;

/// The client of a Sentinel sidecar. Cheap to clone: clones share one connection pool.
///
/// ```no_run
/// use sentinel_runtime::{Action, Context, SentinelClient};
/// use serde_json::json;
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let decision = client.guard(
///     &Action::payment(json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"})),
///     &Context::new("run-42"),
///     "fintech.payments",
/// );
/// if decision.allowed() {
///     // move the money
/// }
/// # Ok::<(), sentinel_runtime::BuildError>(())
/// ```
///
/// What a client was built with:
///
/// ```
/// use std::time::Duration;
/// use sentinel_runtime::{FailMode, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000/").timeout(Duration::from_secs(2)).build()?;
/// assert_eq!(client.endpoint(), "http://localhost:4000");
/// assert_eq!(client.fail_mode(), FailMode::Closed);
/// assert_eq!(client.timeout(), Duration::from_secs(2));
/// assert!(!client.verifies_decisions(), "no key pinned");
/// # #[cfg(feature = "testing")]
/// assert_eq!(client.connections_opened(), Some(0));
/// # Ok::<(), sentinel_runtime::BuildError>(())
/// ```
#[derive(Clone)]
pub struct SentinelClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    guard_url: Arc<str>,
    batch_url: Arc<str>,
    fail_mode: FailMode,
    timeout: Duration,
    body_limit: usize,
    headers: Arc<[(String, String)]>,
    transport: Arc<dyn Transport>,
    /// The pinned keys, if any: escalation approvals are verified with them.
    #[cfg(feature = "verify")]
    trusted_keys: Option<crate::provenance::TrustedKeys>,
    /// Whether every `ALLOW` is checked against its signed record (keys pinned, and not
    /// opted out with `trust_unverified_decisions`).
    verify_decisions: bool,
    #[cfg(feature = "verify")]
    seen_records: replay::SeenRecords,
    batch_pace: batch::Pace,
}

impl SentinelClient {
    /// Starts configuring a client for the sidecar at `endpoint`, such as
    /// `http://localhost:4000`.
    pub fn builder(endpoint: impl Into<String>) -> SentinelClientBuilder {
        SentinelClientBuilder::new(endpoint.into())
    }

    /// Whether every `ALLOW` is checked against its signed record before it counts: a key
    /// is pinned ([`trusted_key_id`](SentinelClientBuilder::trusted_key_id),
    /// `SENTINEL_TRUSTED_KEY_IDS`, [`verify_decisions`](SentinelClientBuilder::verify_decisions))
    /// and [`trust_unverified_decisions`](SentinelClientBuilder::trust_unverified_decisions)
    /// was not called.
    pub fn verifies_decisions(&self) -> bool {
        self.inner.verify_decisions
    }

    /// The pinned keys, if any (escalation approvals are verified with them, and every
    /// `ALLOW` unless [`verifies_decisions`](Self::verifies_decisions) is false).
    #[cfg(feature = "verify")]
    pub(crate) fn trusted_keys(&self) -> Option<&crate::provenance::TrustedKeys> {
        self.inner.trusted_keys.as_ref()
    }

    /// When a call that starts now must be over.
    pub(crate) fn deadline(&self) -> Instant {
        deadline_after(self.inner.timeout)
    }

    /// `true` the first time this client sees `record_id` let a call through: a signed
    /// record is honoured once (replays refused).
    #[cfg(feature = "verify")]
    pub(crate) fn first_use_of_record(&self, record_id: &str) -> bool {
        self.inner.seen_records.first_use(record_id)
    }

    /// The fail-safe decision of this client's fail mode for `what_went_wrong`, of `kind`.
    pub(crate) fn fail_safe(&self, kind: FallbackKind, what_went_wrong: impl Into<String>) -> GuardDecision {
        let what_went_wrong = self.redact(what_went_wrong.into());
        let decision = GuardDecision::made_up(self.inner.fail_mode, kind, what_went_wrong);
        // With `tracing`, the warning is the tracing event of `telemetry::fell_back`: one
        // per fallback whatever the logging stack (a log-to-tracing bridge would show both).
        #[cfg(not(feature = "tracing"))]
        if self.inner.fail_mode == FailMode::Open {
            log::warn!(target: "sentinel", "{}", decision.reason().unwrap_or_default());
        }
        decision
    }

    /// The sidecar's base URL, trailing slashes trimmed.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The fail mode.
    pub fn fail_mode(&self) -> FailMode {
        self.inner.fail_mode
    }

    /// The whole-request deadline.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How many connections the transport has opened, if it counts them (the default one
    /// does). For tests and benchmarks (feature `testing`).
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn connections_opened(&self) -> Option<u64> {
        self.inner.transport.connections_opened()
    }

    /// `text` without this client's header values (sidecar text may echo the request).
    pub(crate) fn redact(&self, text: String) -> String {
        crate::reason::redact(text, &self.inner.headers)
    }

    /// A 2xx answer was not honoured: the connection it came on is not used again (the
    /// transport drops non-2xx ones itself).
    pub(crate) fn dishonoured(&self) {
        self.inner.transport.discard_last_connection();
    }
}

impl fmt::Debug for SentinelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelClient")
            .field("endpoint", &self.inner.endpoint)
            .field("fail_mode", &self.inner.fail_mode)
            .field("timeout", &self.inner.timeout)
            .field("body_limit", &self.inner.body_limit)
            .field("headers", &RedactedHeaders(&self.inner.headers))
            .finish_non_exhaustive()
    }
}
