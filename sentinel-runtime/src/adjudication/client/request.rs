//! What is asked and answered: the [`AdjudicationRequest`], the [`ExecutionBinding`] a
//! receipt is matched against, and the [`Adjudication`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::super::action::{context_digest, CanonicalAction, EvidenceItem, PolicyManifest};
use super::super::receipt::AuthorizationReceipt;
use crate::action::Action;
use crate::context::Context;
use crate::decision::Verdict;

/// One action to adjudicate and, once authorized, to run: the canonical action, the
/// context and policy it is guarded under, and what the receipt must commit to.
///
/// ```
/// use std::time::Duration;
/// use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, EvidenceItem, PolicyManifest};
/// use sentinel_runtime::Context;
/// use serde_json::json;
///
/// let params = json!({"amount": 60000, "from": "acct_ops", "to": "vendor_42"});
/// let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", params)?;
/// let request = AdjudicationRequest::new(action, Context::new("run-42"), "fintech.payments")
///     .manifest(PolicyManifest::new("fintech.payments@1"))
///     .evidence(Vec::<EvidenceItem>::new())
///     .human_approval("esc_6f1c")            // approved earlier
///     .require_human_approval()
///     .receipt_ttl(Duration::from_secs(60))
///     .max_executions(1);
/// assert_eq!((request.policy(), request.executions_asked()), ("fintech.payments", 1));
/// assert!(request.requires_human_approval());
/// assert_eq!(request.context().run_id(), "run-42");
/// // What a receipt must be bound to, computed from the values themselves:
/// let binding = request.binding();
/// assert_eq!(binding.action_digest, request.action().digest());
/// assert!(binding.require_human_approval);
/// # Ok::<(), sentinel_runtime::adjudication::ReceiptError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdjudicationRequest {
    action: CanonicalAction,
    context: Context,
    policy: String,
    manifest: PolicyManifest,
    pub(super) evidence: Vec<EvidenceItem>,
    pub(super) human_approval_reference: Option<String>,
    require_human_approval: bool,
    receipt_ttl: Option<Duration>,
    max_executions: u64,
}

impl AdjudicationRequest {
    /// `action` under `context`, decided by the policy pack `policy` (such as
    /// `fintech.payments`); the manifest committed to is [`PolicyManifest::new`]`(policy)`.
    pub fn new(action: CanonicalAction, context: Context, policy: impl Into<String>) -> Self {
        let policy = policy.into();
        AdjudicationRequest {
            action,
            context,
            manifest: PolicyManifest::new(policy.clone()),
            policy,
            evidence: Vec::new(),
            human_approval_reference: None,
            require_human_approval: false,
            receipt_ttl: None,
            max_executions: 1,
        }
    }

    /// Commits to this policy manifest instead of the bare pack name.
    #[must_use]
    pub fn manifest(mut self, manifest: PolicyManifest) -> Self {
        self.manifest = manifest;
        self
    }

    /// The evidence the decision rests on (authoritative evidence that is unavailable makes
    /// the adjudication `ESCALATE`).
    #[must_use]
    pub fn evidence(mut self, evidence: Vec<EvidenceItem>) -> Self {
        self.evidence = evidence;
        self
    }

    /// Stamps a human approval (such as an approved escalation's id) on the receipt.
    #[must_use]
    pub fn human_approval(mut self, reference: impl Into<String>) -> Self {
        self.human_approval_reference = Some(reference.into());
        self
    }

    /// Refuses to execute on a receipt without a human approval (`MISSING_HUMAN_APPROVAL`).
    #[must_use]
    pub fn require_human_approval(mut self) -> Self {
        self.require_human_approval = true;
        self
    }

    /// Asks for a receipt valid this long instead of the sidecar's default (5 minutes).
    #[must_use]
    pub fn receipt_ttl(mut self, ttl: Duration) -> Self {
        self.receipt_ttl = Some(ttl);
        self
    }

    /// Asks for a receipt that may run `n` times (the sidecar's `maxExecutions`) instead of
    /// once. The executor refuses a receipt whose `maxExecutions` is not what was asked, in
    /// either direction: one that came back allowing more runs was not this request's.
    #[must_use]
    pub fn max_executions(mut self, n: u64) -> Self {
        self.max_executions = n.max(1);
        self
    }

    /// How many runs the receipt may allow: 1 unless [`max_executions`](Self::max_executions)
    /// said otherwise.
    #[must_use]
    pub fn executions_asked(&self) -> u64 {
        self.max_executions
    }

    /// Whether the receipt must carry a human approval, checked against its escalation's
    /// signed `human.review` record before the body runs.
    #[must_use]
    pub fn requires_human_approval(&self) -> bool {
        self.require_human_approval
    }

    /// The action.
    #[must_use]
    pub fn action(&self) -> &CanonicalAction {
        &self.action
    }

    /// The context.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The policy pack's name.
    #[must_use]
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// What the executor binds a receipt to: this request's action, context and manifest
    /// digests, computed here from the values themselves.
    #[must_use]
    pub fn binding(&self) -> ExecutionBinding {
        ExecutionBinding {
            action_digest: self.action.digest(),
            context_digest: context_digest(&self.context),
            expected_policy_bundle_digest: Some(self.manifest.digest()),
            require_human_approval: self.require_human_approval,
        }
    }

    pub(super) fn body(&self, binding: &ExecutionBinding) -> Value {
        let guard_action = Action::of(
            self.action.action_type(),
            Value::Object(self.action.parameters().clone()),
        );
        let mut body = json!({
            "guard": {"action": guard_action, "context": self.context, "policy": self.policy},
            "action": self.action.to_value(),
            "contextDigest": binding.context_digest,
            "policy": self.manifest,
            "evidence": self.evidence,
        });
        if let Some(reference) = &self.human_approval_reference {
            body["humanApprovalReference"] = json!(reference);
        }
        if self.max_executions != 1 {
            body["maxExecutions"] = json!(self.max_executions);
        }
        if let Some(ttl) = self.receipt_ttl {
            body["receiptTtlMs"] = json!(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        }
        body
    }
}

/// What the executor knows about the action it is about to run (the sidecar's
/// `ExecutionBinding`), matched against a receipt by `POST /v1/receipts/validate`.
///
/// ```
/// use sentinel_runtime::adjudication::{context_digest, AdjudicationRequest, CanonicalAction};
/// use sentinel_runtime::Context;
/// use serde_json::json;
///
/// let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", json!({"amount": 1}))?;
/// let binding = AdjudicationRequest::new(action, Context::new("run-42"), "fintech.payments").binding();
/// assert_eq!(binding.context_digest, context_digest(&Context::new("run-42")));
/// assert!(binding.expected_policy_bundle_digest.is_some());
/// # Ok::<(), sentinel_runtime::adjudication::ReceiptError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionBinding {
    /// Digest of the action about to run, computed by the executor.
    pub action_digest: String,
    /// Digest of the context it runs under.
    pub context_digest: String,
    /// The policy digest the receipt must carry, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_policy_bundle_digest: Option<String>,
    /// Whether the receipt must carry a human approval.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub require_human_approval: bool,
}

/// The sidecar's answer to an adjudication. A receipt is present exactly when the verdict
/// is `ALLOW`, and only after it was checked: signed under a pinned issuer key, unexpired,
/// and bound to this request's action, context, policy manifest and evidence.
///
/// Hand it to [`ReceiptClient::execute_receipt`](super::ReceiptClient::execute_receipt) to
/// run later (it serializes, to be stored with a parked job): the executor then checks the
/// signed decision record it names, so what it holds is not taken on trust.
///
/// ```no_run
/// # use sentinel_runtime::adjudication::{AdjudicationRequest, ReceiptClient};
/// # fn park(_: &str) {}
/// # fn run(receipts: &ReceiptClient, request: &AdjudicationRequest) -> Result<(), Box<dyn std::error::Error>> {
/// let adjudication = receipts.adjudicate(request)?;
/// match &adjudication.receipt {
///     Some(receipt) => println!("{}: receipt {} (record {})", adjudication.verdict, receipt.receipt_id(), adjudication.record_id),
///     None => println!("{}: {}", adjudication.verdict, adjudication.reason),
/// }
/// park(&serde_json::to_string(&adjudication)?); // run it later with execute_receipt
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Adjudication {
    /// The final verdict.
    pub verdict: Verdict,
    /// Which rule decided.
    pub reason: String,
    /// The provenance record of the wrapped guard.
    pub record_id: String,
    /// The authorization receipt, on `ALLOW`.
    pub receipt: Option<AuthorizationReceipt>,
}
