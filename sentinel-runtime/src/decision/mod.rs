//! The sidecar's answer: [`GuardDecision`], strict parsing of its wire form, and the
//! fail-safe decision the client makes up when it cannot get a trustworthy answer.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::strict_json;

mod fallback;
pub use fallback::FallbackKind;

/// The three answers a sidecar can give. The protocol has exactly these; there is no
/// "unknown" verdict, and a client that sees another string fails safe.
///
/// ```
/// use sentinel_runtime::Verdict;
///
/// assert_eq!(Verdict::from_wire("ESCALATE"), Some(Verdict::Escalate));
/// assert_eq!(Verdict::from_wire("allow"), None, "spelled exactly, or not a verdict");
/// assert_eq!(Verdict::Block.as_str(), "BLOCK");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// The action may go ahead.
    Allow,
    /// The action must not happen.
    Block,
    /// The action is held for a human to approve or deny.
    Escalate,
}

impl Verdict {
    /// The wire spelling: `ALLOW`, `BLOCK` or `ESCALATE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "ALLOW",
            Verdict::Block => "BLOCK",
            Verdict::Escalate => "ESCALATE",
        }
    }

    /// Reads the wire spelling, exactly (no case folding, no trimming).
    pub fn from_wire(text: &str) -> Option<Verdict> {
        match text {
            "ALLOW" => Some(Verdict::Allow),
            "BLOCK" => Some(Verdict::Block),
            "ESCALATE" => Some(Verdict::Escalate),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the client does when it cannot get a trustworthy answer from the sidecar.
///
/// ```
/// use sentinel_runtime::{FailMode, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// assert_eq!(client.fail_mode(), FailMode::Closed, "the default");
/// # Ok::<(), sentinel_runtime::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FailMode {
    /// Deny: the synthetic decision is `BLOCK`. The default, and the only safe choice for
    /// actions that matter.
    #[default]
    Closed,
    /// Allow when the sidecar cannot answer (unreachable, timed out, busy, failing, a
    /// malformed answer): the synthetic decision is `ALLOW`, marked as a fallback. A refusal
    /// is still a `BLOCK`: the sidecar's 4xx (an unknown policy, a missing credential:
    /// [`FallbackKind::Refused`]) and the client's own. Choose it only for actions whose
    /// being blocked costs more than their happening unchecked.
    Open,
}

/// How one check came out.
///
/// ```
/// use sentinel_runtime::{GuardDecision, Outcome};
///
/// let body = br#"{"verdict":"BLOCK","recordId":"rec_9","checks":[
///     {"check":"sanctions","outcome":"fail","verdict":"BLOCK"}]}"#;
/// let decision = GuardDecision::from_json(body).unwrap();
/// assert_eq!(decision.checks()[0].outcome, Outcome::Fail);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The check could not decide.
    Inconclusive,
}

impl Outcome {
    fn from_wire(text: &str) -> Option<Outcome> {
        match text {
            "pass" => Some(Outcome::Pass),
            "fail" => Some(Outcome::Fail),
            "inconclusive" => Some(Outcome::Inconclusive),
            _ => None,
        }
    }
}

/// One check the sidecar ran (schema, policy rule, sanctions list, second opinion …).
///
/// ```
/// use sentinel_runtime::{GuardDecision, Outcome, Verdict};
///
/// let body = br#"{"verdict":"BLOCK","recordId":"rec_9","checks":[
///     {"check":"sanctions","outcome":"fail","verdict":"BLOCK",
///      "reason":"counterparty is sanctioned","latencyMs":3.5}]}"#;
/// let decision = GuardDecision::from_json(body).unwrap();
/// for check in decision.checks() {
///     println!("{}: {:?} -> {} ({})", check.check, check.outcome, check.verdict,
///         check.reason.as_deref().unwrap_or("no reason given"));
/// }
/// let check = &decision.checks()[0];
/// assert_eq!((check.check.as_str(), check.outcome, check.verdict), ("sanctions", Outcome::Fail, Verdict::Block));
/// assert_eq!(check.latency_ms, Some(3.5));
/// assert!(check.details.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's name, such as `schema` or `policy:fintech.payments`.
    pub check: String,
    /// How it came out.
    pub outcome: Outcome,
    /// The verdict this check asks for.
    pub verdict: Verdict,
    /// Why, when the check says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Check-specific details: a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
    /// How long the check took, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// A check's `details`: a JSON object, kept as the text the sidecar sent and read on demand
/// (most callers never look at it, so a guard does not pay for building it).
///
/// The text was checked as strictly as the rest of the decision when it was read (one
/// object, no duplicate keys at any depth), so reading it again cannot fail. Two `Details`
/// are equal when they hold the same JSON, however it is spaced; serialized (in any serde
/// format), they write the object [`to_map`](Self::to_map) reads.
///
/// ```
/// use sentinel_runtime::GuardDecision;
/// use serde_json::json;
///
/// let body = br#"{"verdict":"ALLOW","recordId":"rec_9","checks":[
///     {"check":"sanctions","outcome":"pass","verdict":"ALLOW","details":{"status":"ok"}}]}"#;
/// let decision = GuardDecision::from_json(body).unwrap();
/// let details = decision.checks()[0].details.as_ref().unwrap();
/// assert_eq!(details.get("status"), Some(json!("ok")));
/// assert_eq!(details.as_str(), r#"{"status":"ok"}"#);
/// assert_eq!(details.to_map()["status"], "ok");
/// ```
#[derive(Clone)]
pub struct Details(Box<RawValue>);

impl Details {
    /// The JSON text of the object: as the sidecar wrote it when the decision was read by
    /// [`GuardDecision::from_json`]; serde_json's compact form when made from a `Map`.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The member `key`, if the object has it.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.to_map().remove(key)
    }

    /// The whole object.
    pub fn to_map(&self) -> Map<String, Value> {
        // Every way to make a `Details` checks its text strictly and within `DETAILS_ROOM`.
        serde_json::from_str(self.as_str()).expect("`details` were checked when they were made")
    }
}

/// How many arrays and objects may open inside a check's `details`, itself included:
/// serde_json allows 127 nested in a whole body, and `details` opens inside three (the
/// decision, `checks`, the check). Every `Details` fits, so reading one again cannot fail.
pub(crate) const DETAILS_ROOM: usize = 127 - 3;

impl TryFrom<Map<String, Value>> for Details {
    type Error = DecisionError;

    /// Fails only for an object nested deeper than a decision's `details` can be.
    fn try_from(map: Map<String, Value>) -> Result<Details, DecisionError> {
        let invalid = |why: String| DecisionError(format!("`details` cannot be kept: {why}"));
        let text = serde_json::to_string(&map).map_err(|e| invalid(e.to_string()))?;
        strict_json::check(&text, DETAILS_ROOM).map_err(|e| invalid(strict_json::message(&e)))?;
        RawValue::from_string(text)
            .map(Details)
            .map_err(|e| invalid(e.to_string()))
    }
}

impl PartialEq for Details {
    fn eq(&self, other: &Details) -> bool {
        self.as_str() == other.as_str() || self.to_map() == other.to_map()
    }
}

impl fmt::Debug for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Details({})", self.as_str())
    }
}

impl fmt::Display for Details {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Details {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Not the `RawValue`: only serde_json writes that as JSON; other formats would get
        // serde_json's private wrapper instead of the object.
        self.to_map().serialize(serializer)
    }
}

/// The answer to one guard: a verdict the sidecar rendered and signed, or the client's own
/// fail-safe decision when no trustworthy answer could be had ([`is_fallback`](Self::is_fallback)).
///
/// ```
/// use sentinel_runtime::{GuardDecision, Verdict};
///
/// let body = br#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#;
/// let decision = GuardDecision::from_json(body).unwrap();
/// assert!(decision.allowed());
/// assert_eq!(decision.verdict(), Verdict::Allow);
/// assert_eq!(decision.record_id(), Some("rec_9"));
/// assert!(!decision.is_fallback());
/// assert!(decision.checks().is_empty());
/// assert_eq!(decision.reason(), None);
///
/// let body = br#"{"verdict":"ESCALATE","recordId":"rec_10","checks":[],
///     "reason":"above 25000","escalationId":"esc_3"}"#;
/// let decision = GuardDecision::from_json(body).unwrap();
/// assert_eq!(decision.reason(), Some("above 25000"));
/// assert_eq!(decision.escalation_id(), Some("esc_3"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[must_use = "a decision does nothing until its verdict is checked"]
pub struct GuardDecision {
    verdict: Verdict,
    record_id: String,
    checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    escalation_id: Option<String>,
    #[serde(skip)]
    fallback: Option<FallbackKind>,
}

impl GuardDecision {
    /// Parses a decision strictly: exactly one JSON object, no duplicate keys at any depth,
    /// a verdict spelled exactly `ALLOW`/`BLOCK`/`ESCALATE`, a non-empty string `recordId`,
    /// a `checks` array of well-formed checks, `escalationId` present on `ESCALATE`, and
    /// every optional field of its documented type when present. Unknown members are
    /// ignored so the protocol can grow.
    pub fn from_json(body: &[u8]) -> Result<GuardDecision, DecisionError> {
        typed::from_json(body)
    }

    /// A decision read off the wire, once the rules that tie its members together hold:
    /// an `ESCALATE` names its escalation.
    fn from_parts(
        verdict: Verdict,
        record_id: String,
        checks: Vec<CheckResult>,
        reason: Option<String>,
        escalation_id: Option<String>,
    ) -> Result<GuardDecision, DecisionError> {
        if verdict == Verdict::Escalate && escalation_id.as_deref().is_none_or(str::is_empty) {
            return Err(DecisionError("ESCALATE without an `escalationId`".into()));
        }
        Ok(GuardDecision {
            verdict,
            record_id,
            checks,
            // Shown and logged as the reason for the verdict: bounded, no control characters.
            reason: reason.map(|reason| crate::reason::clean(&reason, crate::reason::MAX_REASON_CHARS)),
            escalation_id,
            fallback: None,
        })
    }

    /// The name of the single check a client-side fallback decision carries.
    pub const TRANSPORT_CHECK: &'static str = "sentinel.transport";

    /// The decision the client makes up when it has no trustworthy answer: `BLOCK` when
    /// failing closed, `ALLOW` when failing open (but `BLOCK` for a refusal, whatever the mode); an empty record id; exactly one
    /// `sentinel.transport` check carrying `what_went_wrong`; a reason in the words of `kind`.
    ///
    /// `what_went_wrong` is cut to 500 characters and its control characters become spaces:
    /// it often quotes the sidecar.
    pub(crate) fn made_up(
        fail_mode: FailMode,
        kind: FallbackKind,
        what_went_wrong: impl Into<String>,
    ) -> GuardDecision {
        let what_went_wrong = crate::reason::clean(&what_went_wrong.into(), crate::reason::MAX_REASON_CHARS);
        // A refusal, the client's own or the sidecar's (a 4xx: it is up and said no), is
        // never let through, whatever the mode: failing open is for outages only.
        let fail_mode = if matches!(kind, FallbackKind::RefusedByClient | FallbackKind::Refused) {
            FailMode::Closed
        } else {
            fail_mode
        };
        let (verdict, outcome, mode) = match fail_mode {
            FailMode::Closed => (Verdict::Block, Outcome::Fail, "closed"),
            FailMode::Open => (Verdict::Allow, Outcome::Inconclusive, "open"),
        };
        GuardDecision {
            verdict,
            record_id: String::new(),
            reason: Some(kind.reason(&what_went_wrong, mode)),
            checks: vec![CheckResult {
                check: GuardDecision::TRANSPORT_CHECK.to_owned(),
                outcome,
                verdict,
                reason: Some(what_went_wrong),
                details: None,
                latency_ms: None,
            }],
            escalation_id: None,
            fallback: Some(kind),
        }
    }

    /// A `BLOCK` the client decided without the sidecar's say, whatever the fail mode,
    /// because asking could not settle the call: the request could not be described, a
    /// human did not answer in time, a signed record did not match. Shaped like a
    /// fallback (empty record id, one `sentinel.transport` check) so callers treat it the
    /// same; its kind is [`FallbackKind::RefusedByClient`] and its reason says what happened.
    pub(crate) fn refused(why: impl Into<String>) -> GuardDecision {
        GuardDecision::made_up(FailMode::Closed, FallbackKind::RefusedByClient, why)
    }

    /// A decision derived from other answers (an approved escalation's human review).
    pub(crate) fn derived(
        verdict: Verdict,
        record_id: String,
        checks: Vec<CheckResult>,
        reason: String,
        escalation_id: String,
    ) -> GuardDecision {
        GuardDecision {
            verdict,
            record_id,
            checks,
            reason: Some(reason),
            escalation_id: Some(escalation_id),
            fallback: None,
        }
    }

    /// Replaces the reason (a redacted copy of the sidecar's).
    pub(crate) fn set_reason(&mut self, reason: impl Into<String>) {
        self.reason = Some(reason.into());
    }

    /// Names the escalation this decision is about.
    pub(crate) fn set_escalation_id(&mut self, escalation_id: impl Into<String>) {
        self.escalation_id = Some(escalation_id.into());
    }

    /// `true` only for `ALLOW`: a real one from the sidecar, or a fail-open fallback
    /// (check [`is_fallback`](Self::is_fallback) to tell them apart).
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }

    /// `true` when the client made this decision up because it could not get a trustworthy
    /// answer (empty record id, one `sentinel.transport` check).
    pub fn is_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// What kept the client from a trustworthy answer, for a decision it made up
    /// ([`is_fallback`](Self::is_fallback)); `None` for the sidecar's own decisions.
    ///
    /// ```
    /// use sentinel_runtime::{FallbackKind, GuardDecision};
    ///
    /// let body = br#"{"verdict":"BLOCK","recordId":"rec_9","checks":[]}"#;
    /// assert_eq!(GuardDecision::from_json(body).unwrap().fallback_kind(), None);
    /// ```
    pub fn fallback_kind(&self) -> Option<FallbackKind> {
        self.fallback
    }

    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The id of the signed provenance record behind this decision; `None` for a decision
    /// the client made up (a [fallback](Self::is_fallback), or a refusal), which no record
    /// backs.
    #[must_use]
    pub fn record_id(&self) -> Option<&str> {
        Some(self.record_id.as_str()).filter(|id| !id.is_empty())
    }

    /// The checks the sidecar ran, or the single `sentinel.transport` check of a fallback.
    pub fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    /// Why, when the sidecar or the fallback says.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The escalation to wait on, for `ESCALATE`.
    pub fn escalation_id(&self) -> Option<&str> {
        self.escalation_id.as_deref()
    }

    /// A fallback decision of `kind`, worded as the client words it: what a tool in front of
    /// the client (the MCP gate) answers when it refuses a call itself. Not behind `testing`,
    /// since such a tool ships it.
    pub fn fallback_of(
        kind: FallbackKind,
        fail_mode: FailMode,
        what_went_wrong: impl Into<String>,
    ) -> GuardDecision {
        GuardDecision::made_up(fail_mode, kind, what_went_wrong)
    }

    /// Sets the escalation id: a refusal made up for a call held on an escalation names it.
    pub fn with_escalation_id(mut self, escalation_id: impl Into<String>) -> GuardDecision {
        self.set_escalation_id(escalation_id);
        self
    }
}

/// Decisions made in code, for tests of code that handles them (feature `testing`).
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
impl GuardDecision {
    /// The fallback decision a client of `fail_mode` makes up when it has no trustworthy
    /// answer: `BLOCK` when failing closed, `ALLOW` when failing open; an empty record id;
    /// exactly one [`TRANSPORT_CHECK`](Self::TRANSPORT_CHECK) check carrying
    /// `what_went_wrong`.
    ///
    /// ```
    /// use sentinel_runtime::{FailMode, FallbackKind, GuardDecision, Verdict};
    ///
    /// let down = GuardDecision::fallback(FailMode::Closed, "connection refused");
    /// assert!(down.is_fallback() && !down.allowed() && down.record_id().is_none());
    /// assert_eq!(down.checks()[0].check, GuardDecision::TRANSPORT_CHECK);
    ///
    /// let slow = GuardDecision::fallback_of(FallbackKind::TimedOut, FailMode::Open, "no answer in 5 s");
    /// assert_eq!((slow.verdict(), slow.fallback_kind()), (Verdict::Allow, Some(FallbackKind::TimedOut)));
    /// ```
    pub fn fallback(fail_mode: FailMode, what_went_wrong: impl Into<String>) -> GuardDecision {
        GuardDecision::made_up(fail_mode, FallbackKind::Unreachable, what_went_wrong)
    }

    /// A decision as the sidecar could have sent it. `record_id` should not be empty.
    ///
    /// ```
    /// use sentinel_runtime::{GuardDecision, Verdict};
    ///
    /// // What a handler of escalations gets, without a sidecar.
    /// let parked = GuardDecision::new(Verdict::Escalate, "rec_1", Vec::new())
    ///     .with_reason("transfers above 25000 require dual-control sign-off")
    ///     .with_escalation_id("esc_1");
    /// assert_eq!(parked.escalation_id(), Some("esc_1"));
    /// ```
    pub fn new(verdict: Verdict, record_id: impl Into<String>, checks: Vec<CheckResult>) -> GuardDecision {
        GuardDecision {
            verdict,
            record_id: record_id.into(),
            checks,
            reason: None,
            escalation_id: None,
            fallback: None,
        }
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> GuardDecision {
        self.set_reason(reason);
        self
    }
}

/// Why a response body is not a well-formed decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionError(String);

impl fmt::Display for DecisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecisionError {}

fn wrong_type(key: &str, expected: &str, got: &Value) -> DecisionError {
    wrong_kind(key, expected, kind_of(got))
}

fn wrong_kind(key: &str, expected: &str, got: &str) -> DecisionError {
    DecisionError(format!("`{key}` must be {expected}, got {got}"))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

mod human;
mod typed;

pub(crate) use human::human_decision;

pub(crate) use typed::batch_from_json;

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::{Details, DETAILS_ROOM};

    /// `{"a":[[…]]}` with `depth` arrays and objects in all.
    fn nested(depth: usize) -> Map<String, Value> {
        let mut value = json!([]);
        for _ in 2..depth {
            value = Value::Array(vec![value]);
        }
        Map::from_iter([("a".to_owned(), value)])
    }

    #[test]
    fn details_too_deep_to_read_back_are_refused_not_kept() {
        let deepest = Details::try_from(nested(DETAILS_ROOM)).unwrap();
        assert_eq!(deepest.to_map(), nested(DETAILS_ROOM));
        let error = Details::try_from(nested(DETAILS_ROOM + 1)).unwrap_err();
        assert!(error.to_string().contains("`details` cannot be kept"), "{error}");
        assert!(error.to_string().contains("recursion limit"), "{error}");
    }
}
