//! The rule's input and output: the guard request as the mock received it, and the answer
//! the rule gives.

use serde_json::{json, Value};

use crate::decision::Verdict;

/// A guard request as the mock sidecar received it: what a rule decides on, and what
/// [`MockSidecar::requests`](super::MockSidecar::requests) returns.
///
/// ```
/// use sentinel_runtime::testing::{MockAnswer, MockSidecar};
/// use sentinel_runtime::{Action, Context, SentinelClient};
/// use serde_json::json;
///
/// let sidecar = MockSidecar::start(|request| match request.policy.as_str() {
///     "fintech.payments" if request.payload["amount"].as_u64() > Some(25_000) => MockAnswer::escalate("dual control"),
///     _ => MockAnswer::allow(),
/// });
/// let client = SentinelClient::builder(sidecar.endpoint()).header("x-tenant", "acme").build().unwrap();
/// let _ = client.guard(&Action::payment(json!({"amount": 5})).with_id("act_1"), &Context::new("run-1"), "fintech.payments");
/// let seen = &sidecar.requests()[0];
/// assert_eq!((seen.action_id.as_str(), seen.kind.as_str(), seen.run_id.as_str()), ("act_1", "payment", "run-1"));
/// assert_eq!((seen.payload["amount"].as_u64(), seen.meta.as_ref()), (Some(5), None));
/// assert_eq!(seen.context["runId"], "run-1");
/// assert_eq!(seen.body["policy"], "fintech.payments");
/// assert!(seen.headers.contains(&("x-tenant".to_owned(), "acme".to_owned())));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockRequest {
    /// `action.id`.
    pub action_id: String,
    /// `action.type`.
    pub kind: String,
    /// `action.payload`.
    pub payload: Value,
    /// `action.meta`, if sent.
    pub meta: Option<Value>,
    /// `context`.
    pub context: Value,
    /// `context.runId`.
    pub run_id: String,
    /// `policy`.
    pub policy: String,
    /// The whole request body.
    pub body: Value,
    /// The request headers (names lowercase).
    pub headers: Vec<(String, String)>,
}

/// What the mock answers to one guard request.
///
/// ```
/// use sentinel_runtime::testing::{MockAnswer, MockSidecar};
/// use sentinel_runtime::{Action, Context, SentinelClient, Verdict};
/// use serde_json::json;
///
/// let sidecar = MockSidecar::start(|request| match request.payload["to"].as_str() {
///     Some("acct_evil") => MockAnswer::block("counterparty is sanctioned"),
///     Some("vendor_new") => MockAnswer::escalate("first payment to this vendor").with_approvers(["cfo@example.com"]),
///     _ => MockAnswer::allow(),
/// });
/// let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
/// let pay = |to: &str| client.guard(&Action::payment(json!({"amount": 5, "to": to})), &Context::new("r"), "fintech.payments");
/// assert_eq!(pay("vendor_42").verdict(), Verdict::Allow);
/// assert_eq!(pay("acct_evil").reason(), Some("counterparty is sanctioned"));
/// let escalated = pay("vendor_new");
/// assert_eq!(client.escalations(None).unwrap()[0].approvers(), ["cfo@example.com"]);
/// assert!(escalated.escalation_id().unwrap().starts_with("esc_"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockAnswer {
    pub(super) verdict: Verdict,
    pub(super) reason: Option<String>,
    pub(super) escalation_id: Option<String>,
    pub(super) approvers: Vec<String>,
}

impl MockAnswer {
    /// `ALLOW`.
    pub fn allow() -> Self {
        MockAnswer {
            verdict: Verdict::Allow,
            reason: None,
            escalation_id: None,
            approvers: Vec::new(),
        }
    }

    /// `BLOCK` with a reason.
    pub fn block(reason: impl Into<String>) -> Self {
        MockAnswer {
            verdict: Verdict::Block,
            reason: Some(reason.into()),
            escalation_id: None,
            approvers: Vec::new(),
        }
    }

    /// `ESCALATE` with a reason and a fresh `esc_…` id.
    pub fn escalate(reason: impl Into<String>) -> Self {
        MockAnswer {
            verdict: Verdict::Escalate,
            reason: Some(reason.into()),
            escalation_id: Some(format!("esc_{}", uuid::Uuid::new_v4())),
            approvers: Vec::new(),
        }
    }

    /// Who may resolve this escalation (`403` for anyone else). Without it, anyone may.
    pub fn with_approvers<S: Into<String>>(mut self, approvers: impl IntoIterator<Item = S>) -> Self {
        self.approvers = approvers.into_iter().map(Into::into).collect();
        self
    }

    /// The answer's checks, as the decision and its record carry them.
    /// The checks of a decision under `policy`: the rule's, then the `policy:<name>` check
    /// the reference sidecar writes for the policy pack that judged (a verifying client
    /// looks for it in the signed record).
    pub(super) fn checks(&self, policy: &str) -> Value {
        let mut check = json!({"check": "mock", "outcome": "pass", "verdict": self.verdict.as_str()});
        if self.verdict != Verdict::Allow {
            check["outcome"] = json!(if self.verdict == Verdict::Block {
                "fail"
            } else {
                "inconclusive"
            });
        }
        if let Some(reason) = &self.reason {
            check["reason"] = json!(reason);
        }
        if !self.approvers.is_empty() {
            // Where the reference sidecar takes an escalation's approvers from.
            check["details"] = json!({"approvers": self.approvers});
        }
        let mut judged = check.clone();
        judged["check"] = json!(format!("policy:{policy}"));
        json!([check, judged])
    }

    pub(super) fn to_decision(&self, record_id: &str, policy: &str) -> Value {
        let mut decision = json!({
            "verdict": self.verdict.as_str(),
            "recordId": record_id,
            "checks": self.checks(policy),
        });
        if let Some(reason) = &self.reason {
            decision["reason"] = json!(reason);
        }
        if let Some(id) = &self.escalation_id {
            decision["escalationId"] = json!(id);
        }
        decision
    }
}

pub(super) type Rule = dyn Fn(&MockRequest) -> MockAnswer + Send + Sync;

pub(super) fn parse_guard_request(body: Value, headers: Vec<(String, String)>) -> Option<MockRequest> {
    let action = body.get("action")?;
    let context = body.get("context")?.clone();
    Some(MockRequest {
        action_id: action.get("id")?.as_str()?.to_owned(),
        kind: action.get("type")?.as_str()?.to_owned(),
        payload: action.get("payload").filter(|p| p.is_object())?.clone(),
        meta: action.get("meta").cloned(),
        run_id: context.get("runId")?.as_str()?.to_owned(),
        context,
        policy: body.get("policy")?.as_str()?.to_owned(),
        headers,
        body,
    })
}
