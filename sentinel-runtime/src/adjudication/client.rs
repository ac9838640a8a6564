//! [`ReceiptClient`]: the protocol routes, typed, with every receipt checked under the
//! pinned issuer keys before it is trusted.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::action::{context_digest, evidence_digest, CanonicalAction, EvidenceItem, PolicyManifest};
use super::receipt::{AuthorizationReceipt, ExecutionReceipt, ExecutorKey};
use super::ReceiptError;
use crate::action::Action;
use crate::context::Context;
use crate::decision::Verdict;
use crate::provenance::TrustedKeys;
use crate::transport::HttpResponse;
use crate::SentinelClient;

/// How many unreported execution receipts a [`ReceiptClient`] keeps for
/// [`retry_reports`](ReceiptClient::retry_reports); past it the oldest is dropped, with an
/// error logged.
pub const OUTBOX_CAPACITY: usize = 1024;

/// One action to adjudicate and, once authorized, to run: the canonical action, the
/// context and policy it is guarded under, and what the receipt must commit to.
#[derive(Debug, Clone)]
pub struct AdjudicationRequest {
    action: CanonicalAction,
    context: Context,
    policy: String,
    manifest: PolicyManifest,
    evidence: Vec<EvidenceItem>,
    human_approval_reference: Option<String>,
    require_human_approval: bool,
    receipt_ttl: Option<Duration>,
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

    fn body(&self, binding: &ExecutionBinding) -> Value {
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
        if let Some(ttl) = self.receipt_ttl {
            body["receiptTtlMs"] = json!(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        }
        body
    }
}

/// What the executor knows about the action it is about to run (the sidecar's
/// `ExecutionBinding`), matched against a receipt by `POST /v1/receipts/validate`.
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
#[derive(Debug, Clone, PartialEq)]
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

/// The sidecar's complete-mediation audit (`GET /v1/audit/verify`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditReport {
    /// No violation found.
    pub valid: bool,
    /// Executions audited (refusals are not executions).
    pub executions_checked: u64,
    /// Every violation found.
    pub violations: Vec<AuditViolation>,
    /// Fraction of executions with exactly one valid, matching authorization.
    pub coverage: f64,
}

/// One violation of complete mediation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditViolation {
    /// `ACTION_SUBSTITUTION`, `REPLAYED_AUTHORIZATION`, `EXECUTION_WITHOUT_AUTHORIZATION`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The execution concerned.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The authorization concerned.
    #[serde(default)]
    pub authorization_receipt_id: Option<String>,
    /// What is wrong.
    pub detail: String,
}

/// The audit's headline (`GET /v1/audit/coverage`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Coverage {
    /// No violation found.
    pub valid: bool,
    /// Executions audited.
    pub executions_checked: u64,
    /// Fraction of executions with exactly one valid, matching authorization.
    pub coverage: f64,
}

/// A client of the sidecar's adjudication protocol (`--protocol`, or
/// `SENTINEL_PROTOCOL_ENABLED=1`): the executor's side. Cheap to clone; clones share the
/// connection pool and the outbox of unreported execution receipts.
///
/// It trusts authorization receipts signed by `issuers` only (pin the sidecar's key out of
/// band; a receipt never brings its own), and signs execution receipts with its
/// [`ExecutorKey`], which the sidecar must trust (`SENTINEL_PROTOCOL_EXECUTOR_KEYS`).
#[derive(Clone)]
pub struct ReceiptClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: SentinelClient,
    issuers: TrustedKeys,
    executor: ExecutorKey,
    outbox: Mutex<VecDeque<ExecutionReceipt>>,
}

impl ReceiptClient {
    /// A receipt client over `client`'s endpoint, connection pool, headers and deadline.
    #[must_use]
    pub fn new(client: SentinelClient, issuers: TrustedKeys, executor: ExecutorKey) -> Self {
        ReceiptClient {
            inner: Arc::new(Inner {
                client,
                issuers,
                executor,
                outbox: Mutex::new(VecDeque::new()),
            }),
        }
    }

    /// The underlying client (for guards, escalations).
    #[must_use]
    pub fn sentinel(&self) -> &SentinelClient {
        &self.inner.client
    }

    /// The issuer keys receipts are checked against.
    #[must_use]
    pub fn issuers(&self) -> &TrustedKeys {
        &self.inner.issuers
    }

    /// The executor key.
    #[must_use]
    pub fn executor(&self) -> &ExecutorKey {
        &self.inner.executor
    }

    /// `POST /v1/adjudications`: runs the sidecar's guard and fail-safe rule over the
    /// request; on `ALLOW`, returns the receipt once it has been checked (see
    /// [`Adjudication`]).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] without a well-formed answer;
    /// [`ReceiptError::Rejected`] for a receipt that fails the client's check (another
    /// key, another action, expired, …).
    pub fn adjudicate(&self, request: &AdjudicationRequest) -> Result<Adjudication, ReceiptError> {
        self.adjudicate_until(request, self.inner.client.deadline())
    }

    pub(crate) fn adjudicate_until(
        &self,
        request: &AdjudicationRequest,
        deadline: Instant,
    ) -> Result<Adjudication, ReceiptError> {
        let binding = request.binding();
        let answer = self.post("/v1/adjudications", &request.body(&binding), deadline)?;
        let verdict = answer
            .get("finalVerdict")
            .and_then(Value::as_str)
            .and_then(Verdict::from_wire)
            .ok_or_else(|| malformed("adjudication", "no finalVerdict"))?;
        let reason = answer
            .pointer("/adjudication/reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let record_id = answer
            .get("recordId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let receipt = match (verdict, answer.get("receipt")) {
            (Verdict::Allow, Some(receipt)) => {
                let receipt: AuthorizationReceipt = serde_json::from_value(receipt.clone())
                    .map_err(|e| malformed("adjudication", format!("receipt: {e}")))?;
                self.check_issued(&receipt, request, &binding)?;
                Some(receipt)
            }
            (Verdict::Allow, None) => return Err(malformed("adjudication", "ALLOW without a receipt")),
            (_, Some(_)) => return Err(malformed("adjudication", format!("a receipt with {verdict}"))),
            (_, None) => None,
        };
        Ok(Adjudication {
            verdict,
            reason,
            record_id,
            receipt,
        })
    }

    /// A receipt just issued must be valid and commit to exactly what was asked.
    fn check_issued(
        &self,
        receipt: &AuthorizationReceipt,
        request: &AdjudicationRequest,
        binding: &ExecutionBinding,
    ) -> Result<(), ReceiptError> {
        // Whether a human approval is required is the executor's call, made at execution.
        let issued = ExecutionBinding {
            require_human_approval: false,
            ..binding.clone()
        };
        check_binding(receipt, &issued)?;
        if receipt.evidence_digest != evidence_digest(&request.evidence) {
            return Err(ReceiptError::rejected_locally(
                "EVIDENCE_MISMATCH",
                "the receipt commits to other evidence than was sent",
            ));
        }
        if receipt.human_approval_reference != request.human_approval_reference {
            return Err(ReceiptError::rejected_locally(
                "MISSING_HUMAN_APPROVAL",
                "the receipt does not carry the human approval that was sent",
            ));
        }
        receipt.check(&self.inner.issuers, SystemTime::now())
    }

    /// `POST /v1/receipts/validate`: the sidecar checks `receipt` against `binding` and, if
    /// it is valid, consumes its single-use nonce. Returns how many times it has now been
    /// executed.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Rejected`] with the validator's code; [`ReceiptError::Sidecar`]
    /// without a well-formed answer (then the nonce may or may not be spent: never run).
    pub fn validate(
        &self,
        receipt: &AuthorizationReceipt,
        binding: &ExecutionBinding,
    ) -> Result<u64, ReceiptError> {
        self.validate_until(receipt, binding, self.inner.client.deadline())
    }

    pub(crate) fn validate_until(
        &self,
        receipt: &AuthorizationReceipt,
        binding: &ExecutionBinding,
        deadline: Instant,
    ) -> Result<u64, ReceiptError> {
        let answer = self.post(
            "/v1/receipts/validate",
            &json!({"receipt": receipt, "binding": binding}),
            deadline,
        )?;
        match answer.get("ok") {
            Some(Value::Bool(true)) => answer
                .get("executionCount")
                .and_then(Value::as_u64)
                .ok_or_else(|| malformed("validation", "no executionCount")),
            Some(Value::Bool(false)) => {
                let text = |key: &str| {
                    answer
                        .pointer(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let code = text("/error/code");
                if code.is_empty() {
                    return Err(malformed("validation", "a failure without a code"));
                }
                Err(ReceiptError::Rejected {
                    code,
                    message: text("/error/message"),
                })
            }
            _ => Err(malformed("validation", "no `ok`")),
        }
    }

    /// `POST /v1/executions`: hands a signed execution receipt to the sidecar's audit log.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] if it was not stored (the sidecar refuses a receipt whose
    /// executor key it does not trust).
    pub fn report(&self, execution: &ExecutionReceipt) -> Result<(), ReceiptError> {
        let answer = self.post("/v1/executions", &json!(execution), self.inner.client.deadline())?;
        match answer.get("stored") {
            Some(Value::Bool(true)) => Ok(()),
            _ => Err(malformed("execution report", "not stored")),
        }
    }

    /// Reports `execution`; if that fails, logs an error and keeps it for
    /// [`retry_reports`](Self::retry_reports).
    pub(crate) fn report_or_keep(&self, execution: ExecutionReceipt) {
        if let Err(err) = self.report(&execution) {
            log::error!(
                target: "sentinel",
                "execution receipt {} (authorization {}) not reported: {err}; kept for retry_reports()",
                execution.execution_id,
                execution.authorization_receipt_id
            );
            let mut outbox = self.outbox();
            if outbox.len() >= OUTBOX_CAPACITY {
                if let Some(dropped) = outbox.pop_front() {
                    log::error!(
                        target: "sentinel",
                        "outbox full: execution receipt {} dropped unreported",
                        dropped.execution_id
                    );
                }
            }
            outbox.push_back(execution);
        }
    }

    /// The execution receipts whose report failed, oldest first.
    #[must_use]
    pub fn pending_reports(&self) -> Vec<ExecutionReceipt> {
        self.outbox().iter().cloned().collect()
    }

    /// Reports the pending execution receipts again, oldest first; returns how many are
    /// still pending (those that failed again stay, in order).
    pub fn retry_reports(&self) -> usize {
        let pending: Vec<ExecutionReceipt> = self.outbox().drain(..).collect();
        let mut failed = Vec::new();
        for execution in pending {
            if let Err(err) = self.report(&execution) {
                log::warn!(target: "sentinel", "execution receipt {} still not reported: {err}", execution.execution_id);
                failed.push(execution);
            }
        }
        let mut outbox = self.outbox();
        // Receipts kept meanwhile by other threads stay after the older ones.
        for execution in failed.into_iter().rev() {
            outbox.push_front(execution);
        }
        while outbox.len() > OUTBOX_CAPACITY {
            outbox.pop_front();
        }
        outbox.len()
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, VecDeque<ExecutionReceipt>> {
        self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `POST /v1/receipts/revoke`: the receipt fails every later validation
    /// (`REVOKED_RECEIPT`).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] if the sidecar did not confirm.
    pub fn revoke(&self, receipt_id: &str, reason: Option<&str>) -> Result<(), ReceiptError> {
        let mut body = json!({ "receiptId": receipt_id });
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        let answer = self.post("/v1/receipts/revoke", &body, self.inner.client.deadline())?;
        match answer.get("revoked") {
            Some(Value::Bool(true)) => Ok(()),
            _ => Err(malformed("revocation", "not confirmed")),
        }
    }

    /// `GET /v1/audit/verify`: the complete-mediation audit over every receipt the sidecar
    /// holds.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] without a well-formed report.
    pub fn audit(&self) -> Result<AuditReport, ReceiptError> {
        let answer = self.get("/v1/audit/verify")?;
        serde_json::from_value(answer).map_err(|e| malformed("audit", e))
    }

    /// `GET /v1/audit/coverage`: the audit's headline.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] without a well-formed answer.
    pub fn coverage(&self) -> Result<Coverage, ReceiptError> {
        let answer = self.get("/v1/audit/coverage")?;
        serde_json::from_value(answer).map_err(|e| malformed("coverage", e))
    }

    fn post(&self, path: &str, body: &Value, deadline: Instant) -> Result<Value, ReceiptError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ReceiptError::Sidecar(format!("unserializable request: {e}")))?;
        self.send("POST", path, body, deadline)
    }

    fn get(&self, path: &str) -> Result<Value, ReceiptError> {
        self.send("GET", path, Vec::new(), self.inner.client.deadline())
    }

    fn send(
        &self,
        method: &'static str,
        path: &str,
        body: Vec<u8>,
        deadline: Instant,
    ) -> Result<Value, ReceiptError> {
        let url = format!("{}{path}", self.inner.client.endpoint());
        let response = self
            .inner
            .client
            .exchange_until(method, &url, body, deadline, &mut 0)
            .map_err(|why| ReceiptError::Sidecar(format!("{method} {path}: {why}")))?;
        if !(200..300).contains(&response.status) {
            return Err(status_error(method, path, &response));
        }
        crate::strict_json::parse(&response.body)
            .map_err(|e| ReceiptError::Sidecar(format!("{method} {path}: not valid JSON: {e}")))
    }
}

/// The digests the executor computed must be the receipt's.
pub(crate) fn check_binding(
    receipt: &AuthorizationReceipt,
    binding: &ExecutionBinding,
) -> Result<(), ReceiptError> {
    if receipt.action_digest != binding.action_digest {
        return Err(ReceiptError::rejected_locally(
            "ACTION_MISMATCH",
            "action digest does not match the authorized action",
        ));
    }
    if receipt.context_digest != binding.context_digest {
        return Err(ReceiptError::rejected_locally(
            "CONTEXT_MISMATCH",
            "context digest does not match the authorized context",
        ));
    }
    if let Some(expected) = &binding.expected_policy_bundle_digest {
        if &receipt.policy_bundle_digest != expected {
            return Err(ReceiptError::rejected_locally(
                "POLICY_MISMATCH",
                "policy digest does not match the executing policy",
            ));
        }
    }
    if binding.require_human_approval && receipt.human_approval_reference.is_none() {
        return Err(ReceiptError::rejected_locally(
            "MISSING_HUMAN_APPROVAL",
            "human approval is required but absent",
        ));
    }
    Ok(())
}

fn malformed(what: &str, why: impl fmt::Display) -> ReceiptError {
    ReceiptError::Sidecar(format!("malformed {what} answer: {why}"))
}

fn status_error(method: &str, path: &str, response: &HttpResponse) -> ReceiptError {
    let answer = serde_json::from_slice::<Value>(&response.body).ok();
    let error = answer
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(Value::as_str)
        .map(|e| e.chars().take(200).collect::<String>());
    let details = answer
        .as_ref()
        .and_then(|v| v.get("details"))
        .and_then(Value::as_str)
        .map(|e| e.chars().take(200).collect::<String>());
    if response.status == 400 && error.as_deref() == Some("non-canonical action") {
        return ReceiptError::NonCanonicalAction(details.unwrap_or_default());
    }
    match error {
        Some(error) => ReceiptError::Sidecar(format!("{method} {path}: HTTP {}: {error}", response.status)),
        None => ReceiptError::Sidecar(format!("{method} {path}: HTTP {}", response.status)),
    }
}

impl fmt::Debug for ReceiptClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptClient")
            .field("client", &self.inner.client)
            .field("issuers", &self.inner.issuers)
            .field("executor", &self.inner.executor)
            .field("pending_reports", &self.outbox().len())
            .finish()
    }
}
