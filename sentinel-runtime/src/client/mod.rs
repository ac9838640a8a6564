//! [`SentinelClient`]: asks the sidecar, and fails safe whenever it cannot get a
//! trustworthy answer. The builder, the HTTP exchange (deadline, retries), batches and
//! the checks of a verified `ALLOW` each have a file of their own here.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::action::Action;
use crate::context::Context;
use crate::decision::{FailMode, GuardDecision};
use crate::protocol;
use crate::telemetry::GuardSpan;
use crate::transport::{HttpResponse, RedactedHeaders, Transport};

mod batch;
mod builder;
mod exchange;
#[cfg(feature = "verify")]
mod replay;
#[cfg(feature = "verify")]
mod resume;
#[cfg(feature = "verify")]
mod verify;

pub use builder::{BuildError, SentinelClientBuilder};
pub(crate) use exchange::deadline_after;

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

    /// Asks the sidecar whether `action` may happen under `policy`.
    ///
    /// Never fails and never panics: anything but a well-formed decision in a 2xx answer
    /// within the deadline becomes the [fallback](GuardDecision::is_fallback) decision of the
    /// client's [`FailMode`]. A request the sidecar would refuse before looking at it (an
    /// empty policy, run id or action type, a payload that is not a JSON object) is
    /// refused without asking, whatever the fail mode; so is an `ALLOW` whose signed record
    /// does not match the call, with [`verify_decisions`](SentinelClientBuilder::verify_decisions).
    #[must_use = "the action may happen only if this decision allows it"]
    pub fn guard(&self, action: &Action, context: &Context, policy: &str) -> GuardDecision {
        // The deadline counts serializing: a huge argument must not stretch it.
        self.guard_until(action, context, policy, self.deadline())
    }

    /// [`guard`](Self::guard) within a deadline the caller already runs against, so a call
    /// that guards after other requests still ends by its one deadline.
    pub(crate) fn guard_until(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
    ) -> GuardDecision {
        let span = GuardSpan::enter(action, policy);
        let mut attempts = 0;
        let decision = self.guard_counting(action, context, policy, deadline, &mut attempts);
        span.finish(&decision, attempts);
        decision
    }

    fn guard_counting(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
        attempts: &mut u32,
    ) -> GuardDecision {
        // A request the sidecar would refuse is the caller's error, not the sidecar's
        // absence: it is denied whatever the fail mode.
        if let Some(why) = request_error(action, context, policy) {
            return GuardDecision::refused(why);
        }
        if let Some(escalation_id) = context.resumes() {
            #[cfg(feature = "verify")]
            return self.resume_until(escalation_id, action, context, deadline);
            #[cfg(not(feature = "verify"))]
            return GuardDecision::refused(format!(
                "resuming escalation {escalation_id} needs the `verify` feature"
            ));
        }
        // Sized for a typical request, so serializing does not reallocate.
        let mut body = Vec::with_capacity(512);
        if let Err(e) = serde_json::to_writer(
            &mut body,
            &GuardRequest {
                action,
                context,
                policy,
            },
        ) {
            return GuardDecision::refused(format!("request could not be serialized: {e}"));
        }
        let decision = match self.exchange_until("POST", &self.inner.guard_url, body, deadline, attempts) {
            Ok(response) => self.decision_from(response),
            Err(why) => return self.fail_safe(why.to_string()),
        };
        self.checked(decision, action, context, deadline)
    }

    /// With `verify_decisions`, an `ALLOW` only stands once its signed record matches the
    /// call; every other decision passes through.
    #[cfg_attr(not(feature = "verify"), allow(unused_variables))]
    fn checked(
        &self,
        decision: GuardDecision,
        action: &Action,
        context: &Context,
        deadline: Instant,
    ) -> GuardDecision {
        #[cfg(feature = "verify")]
        if let Some(trusted) = self
            .inner
            .trusted_keys
            .as_ref()
            .filter(|_| self.inner.verify_decisions)
        {
            if decision.allowed() && !decision.is_fallback() {
                return self.verified(decision, trusted, action, context, deadline);
            }
        }
        decision
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

    /// The fail-safe decision of this client's fail mode for `what_went_wrong`.
    /// `true` the first time this client sees `record_id` let a call through: a signed
    /// record is honoured once (replays refused).
    #[cfg(feature = "verify")]
    pub(crate) fn first_use_of_record(&self, record_id: &str) -> bool {
        self.inner.seen_records.first_use(record_id)
    }

    pub(crate) fn fail_safe(&self, what_went_wrong: impl Into<String>) -> GuardDecision {
        let what_went_wrong = self.redact(what_went_wrong.into());
        let decision = GuardDecision::made_up(self.inner.fail_mode, what_went_wrong);
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

    fn decision_from(&self, response: HttpResponse) -> GuardDecision {
        if !protocol::is_success(response.status) {
            return self.fail_safe(protocol::describe_status(response.status, &response.body));
        }
        match GuardDecision::from_json(&response.body) {
            Ok(mut decision) => {
                if let Some(reason) = decision.reason() {
                    let redacted = self.redact(reason.to_owned());
                    if redacted != reason {
                        decision.set_reason(redacted);
                    }
                }
                decision
            }
            Err(e) => {
                self.dishonoured();
                self.fail_safe(format!("malformed decision: {e}"))
            }
        }
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

/// Why the sidecar would refuse this request before looking at it (a 400), if it would.
pub(crate) fn request_error(action: &Action, context: &Context, policy: &str) -> Option<&'static str> {
    if policy.is_empty() {
        return Some("the policy name is empty");
    }
    if context.run_id().is_empty() {
        return Some("the context's run id is empty");
    }
    action.shape_error()
}

#[derive(Serialize)]
pub(crate) struct GuardRequest<'a> {
    action: &'a Action,
    context: &'a Context,
    policy: &'a str,
}
