//! The protected executor: a body runs only on a receipt the sidecar has just validated
//! for the action actually run, exactly once, and its execution is signed and reported.

use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{json, Value};

use super::client::{check_binding, Adjudication, AdjudicationRequest, ReceiptClient};
use super::receipt::{error_digest, result_digest, AuthorizationReceipt, Execution, ExecutionStatus};
use super::CanonicalAction;
use super::{time, ReceiptError};
use crate::action::Action;
use crate::canonical::canonical_json;
use crate::decision::{GuardDecision, Verdict};
use crate::denied::Denied;
use crate::escalation::ReviewStatus;
use crate::sidecar_error::SidecarError;

impl ReceiptClient {
    /// Runs `body` as the protocol's protected executor: adjudicate `request` → check the
    /// receipt → have the sidecar validate it for the digests of `request`'s own action
    /// and context (consuming its nonce) → run `body` exactly once → sign and report the
    /// execution receipt (status `SUCCEEDED` or `FAILED`, and the digest of the result, of
    /// the error's text, or of the panic's message).
    ///
    /// Anything short of a validated receipt returns a [`Denied`] and `body` never runs:
    /// `BLOCK`, `ESCALATE` (then the sidecar is asked to open an escalation through
    /// `/v1/guard` in the time left, and the `Denied` carries its id, to park and [resume];
    /// without time left, none is opened), an unreachable
    /// sidecar, a receipt under another key or for another action, replay, expiry,
    /// revocation. Once `body` has run its result is returned whatever happens to the
    /// report: a report that fails is logged and kept for
    /// [`retry_reports`](Self::retry_reports). A panic in `body` is reported as `FAILED`
    /// and then resumed.
    ///
    /// `body` should compute its side effect from `request.action()` (or from the same
    /// values): the receipt is bound to that action, not to whatever `body` captures.
    ///
    /// [resume]: Self::execute_approved
    ///
    /// # Errors
    ///
    /// `body`'s error, or a [`Denied`] converted into `E`.
    pub fn execute<T, E, F>(&self, request: &AdjudicationRequest, body: F) -> Result<T, E>
    where
        T: Serialize,
        E: From<Denied> + fmt::Display,
        F: FnOnce() -> Result<T, E>,
    {
        // One deadline for everything before the body: adjudicate and validate together.
        let deadline = self.sentinel().deadline();
        let adjudication = match self.adjudicate_until(request, deadline) {
            Ok(adjudication) => adjudication,
            Err(err) => return Err(denied(request, err).into()),
        };
        match &adjudication.receipt {
            Some(receipt) => self.run(receipt, &adjudication.record_id, request, deadline, body),
            None if adjudication.verdict == Verdict::Escalate => {
                Err(self.escalate(request, &adjudication.reason, deadline).into())
            }
            None => Err(denied(
                request,
                ReceiptError::NotAuthorized {
                    verdict: adjudication.verdict,
                    reason: adjudication.reason,
                },
            )
            .into()),
        }
    }

    /// Runs `body` on an adjudication obtained earlier (see [`execute`](Self::execute)), as
    /// [`execute`](Self::execute) does after adjudicating. Nothing in `adjudication` is
    /// taken on trust: before `body` runs, within the client's one timeout,
    ///
    /// - the receipt must match `request`'s action, context and policy manifest as they are
    ///   now, and allow exactly the runs `request` asked for
    ///   ([`max_executions`](AdjudicationRequest::max_executions), 1 by default);
    /// - the signed decision record the adjudication names (`recordId`) must verify under
    ///   the pinned keys and say `ALLOW` for this very action (`actionFingerprint`), under
    ///   `request`'s policy (its `policy:<name>` check), run and tenant, written within the
    ///   receipt's lifetime of its issue: the sidecar binds a receipt to the `action` it is
    ///   sent but runs the policy on the `guard` it is sent, and never checks that they
    ///   agree;
    /// - the receipt's signature must verify under the pinned issuer key;
    /// - with [`require_human_approval`](AdjudicationRequest::require_human_approval), the
    ///   receipt's `humanApprovalReference` must name an escalation whose signed
    ///   `human.review` record approves this very action (the sidecar checks only that the
    ///   reference is there);
    /// - this client must not have run a body on this receipt, or on this decision record,
    ///   before (whatever the sidecar's validation says);
    /// - the sidecar must validate the receipt (consuming its nonce), with an
    ///   `executionCount` no higher than `maxExecutions`.
    ///
    /// Anything else is a [`Denied`], and `body` never runs; a receipt the sidecar refuses is
    /// also reported as a `REJECTED` execution.
    ///
    /// # Errors
    ///
    /// `body`'s error, or a [`Denied`] converted into `E`.
    ///
    /// ```no_run
    /// # use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    /// # use sentinel_runtime::{provenance::TrustedKeys, Context, Denied, SentinelClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
    /// # let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers,
    /// #     ExecutorKey::from_seed([7; 32], "payments-worker"));
    /// # let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", serde_json::json!({"amount": 100}))?;
    /// # let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
    /// // Adjudicated earlier, stored with the parked job (the adjudication serializes):
    /// let adjudication = receipts.adjudicate(&request)?;
    /// let paid: Result<&str, Denied> = receipts.execute_receipt(&adjudication, &request, || Ok("paid"));
    /// # Ok(()) }
    /// ```
    pub fn execute_receipt<T, E, F>(
        &self,
        adjudication: &Adjudication,
        request: &AdjudicationRequest,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize,
        E: From<Denied> + fmt::Display,
        F: FnOnce() -> Result<T, E>,
    {
        let Some(receipt) = &adjudication.receipt else {
            return Err(refused(
                request,
                format!("the adjudication ({}) carries no receipt", adjudication.verdict),
            )
            .into());
        };
        self.run(
            receipt,
            &adjudication.record_id,
            request,
            self.sentinel().deadline(),
            body,
        )
    }

    /// [`execute_receipt`](Self::execute_receipt), everything before `body` by `deadline`.
    fn run<T, E, F>(
        &self,
        receipt: &AuthorizationReceipt,
        record_id: &str,
        request: &AdjudicationRequest,
        deadline: Instant,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize,
        E: From<Denied> + fmt::Display,
        F: FnOnce() -> Result<T, E>,
    {
        let started_at = time::now_iso();
        let binding = request.binding();
        if let Err(err) = check_binding(receipt, &binding) {
            return Err(denied(request, err).into());
        }
        if receipt.max_executions() != request.executions_asked() {
            return Err(refused(
                request,
                format!(
                    "the receipt allows {} runs, this request asked for {}",
                    receipt.max_executions(),
                    request.executions_asked()
                ),
            )
            .into());
        }
        let keys = match self.judgement(receipt, record_id, request, deadline) {
            Ok(keys) => keys,
            Err(why) => {
                return Err(refused(
                    request,
                    format!("receipt not bound to what the policy judged: {why}"),
                )
                .into())
            }
        };
        if let Err(err) = receipt.check(&keys, SystemTime::now()) {
            return Err(denied(request, err).into());
        }
        if request.requires_human_approval() {
            let reference = receipt.human_approval_reference().unwrap_or_default();
            let action = Action::of(
                request.action().action_type(),
                Value::Object(request.action().parameters().clone()),
            );
            if let Err(why) = self.sentinel().approval_of(
                reference,
                &action,
                request.context(),
                // The receipt's policy is bound by its verified decision record above.
                None,
                Some(self.issuers()),
                deadline,
            ) {
                return Err(refused(
                    request,
                    format!("the receipt's human approval {reference:?}: {why}"),
                )
                .into());
            }
        }
        // Last, so a receipt refused for another reason is not used up here.
        if !self.sentinel().first_use_of_record(record_id) {
            return Err(refused(
                request,
                format!("the decision record {record_id} already backed an execution by this client"),
            )
            .into());
        }
        if !self.first_execution(receipt) {
            return Err(refused(
                request,
                format!(
                    "receipt {} was already executed by this client",
                    receipt.receipt_id()
                ),
            )
            .into());
        }
        let count = match self.validate_until(receipt, &binding, deadline) {
            Ok(count) => count,
            Err(err) => {
                if let ReceiptError::Rejected { code, .. } = &err {
                    self.report_or_keep(self.executor().sign(Execution {
                        authorization: receipt,
                        actual_action_digest: &binding.action_digest,
                        started_at,
                        result_digest: result_digest(&json!({ "rejected": code })),
                        status: ExecutionStatus::Rejected,
                        external_reference: None,
                    }));
                }
                return Err(denied(request, err).into());
            }
        };
        if count == 0 || count > receipt.max_executions() {
            return Err(refused(
                request,
                format!(
                    "the validation answered execution {count} of a receipt allowing {}",
                    receipt.max_executions()
                ),
            )
            .into());
        }

        let outcome = catch_unwind(AssertUnwindSafe(body));
        let (status, digest) = match &outcome {
            Ok(Ok(value)) => (
                ExecutionStatus::Succeeded,
                result_digest(
                    &serde_json::to_value(value)
                        .unwrap_or_else(|e| json!({ "unserializable": e.to_string() })),
                ),
            ),
            Ok(Err(error)) => (ExecutionStatus::Failed, error_digest(&error.to_string())),
            Err(panic) => (
                ExecutionStatus::Failed,
                error_digest(&format!("panic: {}", panic_message(panic.as_ref()))),
            ),
        };
        self.report_or_keep(self.executor().sign(Execution {
            authorization: receipt,
            actual_action_digest: &binding.action_digest,
            started_at,
            result_digest: digest,
            status,
            external_reference: None,
        }));
        outcome.unwrap_or_else(|panic| resume_unwind(panic))
    }

    /// Resumes a parked call once a human approved `escalation_id`: the escalation must be
    /// approved and hold this very action (same type and parameters); the request is then
    /// adjudicated with the approval stamped on the receipt, which the executor requires.
    ///
    /// The sidecar still decides: its adjudicator re-runs the policy, and the reference
    /// sidecar does not consult approvals there, so an action its policy escalates is
    /// escalated again and stays denied (no receipt can be had for it); the approval is
    /// then recorded only in its `human.review` provenance record.
    ///
    /// Everything before `body` (finding the approval, adjudicating, validating) shares
    /// the client's one timeout.
    ///
    /// # Errors
    ///
    /// `body`'s error, or a [`Denied`] converted into `E`.
    ///
    /// ```no_run
    /// # use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    /// # use sentinel_runtime::{provenance::TrustedKeys, Context, Denied, SentinelClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
    /// # let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers,
    /// #     ExecutorKey::from_seed([7; 32], "payments-worker"));
    /// # let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", serde_json::json!({"amount": 100}))?;
    /// # let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
    /// // The same request that escalated, once esc_6f1c is approved:
    /// let paid: Result<&str, Denied> = receipts.execute_approved("esc_6f1c", &request, || Ok("paid"));
    /// # Ok(()) }
    /// ```
    pub fn execute_approved<T, E, F>(
        &self,
        escalation_id: &str,
        request: &AdjudicationRequest,
        body: F,
    ) -> Result<T, E>
    where
        T: Serialize,
        E: From<Denied> + fmt::Display,
        F: FnOnce() -> Result<T, E>,
    {
        // One deadline for everything before the body: the approval, adjudication, validation.
        let deadline = self.sentinel().deadline();
        if let Err(why) = self.approved_for(escalation_id, request, deadline) {
            return Err(refused(request, why).into());
        }
        let request = request
            .clone()
            .human_approval(escalation_id)
            .require_human_approval();
        let adjudication = match self.adjudicate_until(&request, deadline) {
            Ok(adjudication) => adjudication,
            Err(err) => return Err(denied(&request, err).into()),
        };
        match &adjudication.receipt {
            Some(receipt) => self.run(receipt, &adjudication.record_id, &request, deadline, body),
            None => Err(refused(
                &request,
                format!(
                    "escalation {escalation_id} is approved, but the sidecar's adjudication is {} ({}): \
                     it issues no receipt for this action",
                    adjudication.verdict, adjudication.reason
                ),
            )
            .into()),
        }
    }

    /// Whether `escalation_id` is approved, with its human-review record, and holds
    /// `request`'s action.
    fn approved_for(
        &self,
        escalation_id: &str,
        request: &AdjudicationRequest,
        deadline: Instant,
    ) -> Result<(), String> {
        let not_approved = || format!("escalation {escalation_id} is not approved");
        let (escalation, status) = match self.sentinel().poll(escalation_id, deadline) {
            Ok(found) => found,
            Err(SidecarError::NotFound(_)) => return Err(not_approved()),
            Err(e) => return Err(format!("escalation {escalation_id}: {e}")),
        };
        match status {
            ReviewStatus::Approved { record_id } if !record_id.is_empty() => {}
            ReviewStatus::Approved { .. } => {
                return Err(format!(
                    "escalation {escalation_id} is approved, but no human.review record was found"
                ))
            }
            ReviewStatus::Pending | ReviewStatus::Denied { .. } => return Err(not_approved()),
        }
        if !holds_action(escalation.action(), request.action()) {
            return Err(format!("escalation {escalation_id} holds another action"));
        }
        Ok(())
    }

    /// Opens an escalation for an adjudication that escalated, so the caller can park the
    /// call: `/v1/adjudications` records none, `/v1/guard` does.
    fn escalate(&self, request: &AdjudicationRequest, reason: &str, deadline: Instant) -> Denied {
        if Instant::now() >= deadline {
            return refused(
                request,
                format!(
                    "adjudication escalated ({reason}) and used up the timeout: no escalation was opened"
                ),
            );
        }
        let action = Action::of(
            request.action().action_type(),
            Value::Object(request.action().parameters().clone()),
        );
        let decision = self
            .sentinel()
            .guard_until(&action, request.context(), request.policy(), deadline);
        if decision.verdict() == Verdict::Escalate && decision.escalation_id().is_some() {
            return Denied::of(decision, request.action().action_type(), request.policy());
        }
        // A fallback is no answer (when failing open its verdict is ALLOW): say what went wrong.
        let guard_said = match decision.reason() {
            Some(why) if decision.is_fallback() => why.to_owned(),
            _ => format!("the guard said {}", decision.verdict()),
        };
        refused(
            request,
            format!("adjudication escalated ({reason}) but no escalation could be opened: {guard_said}"),
        )
    }
}

fn denied(request: &AdjudicationRequest, err: ReceiptError) -> Denied {
    refused(request, format!("no valid receipt: {err}"))
}

fn refused(request: &AdjudicationRequest, why: String) -> Denied {
    Denied::of(
        GuardDecision::refused(why),
        request.action().action_type(),
        request.policy(),
    )
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Whether an escalation's action (as the sidecar holds it) is `action`: the same type, and
/// the same parameters in the canonical form the sidecar's fingerprints are taken over (the
/// sidecar writes `42000.0` back as `42000`), as resuming a guard compares them.
fn holds_action(held: &Value, action: &CanonicalAction) -> bool {
    let same_type = held.get("type").and_then(Value::as_str) == Some(action.action_type());
    let same_payload = held
        .get("payload")
        .filter(|payload| payload.is_object())
        .is_some_and(|payload| {
            canonical_json(payload) == canonical_json(&Value::Object(action.parameters().clone()))
        });
    same_type && same_payload
}

#[cfg(test)]
mod holds_action_tests {
    use super::*;

    #[test]
    fn an_escalation_holds_the_action_whatever_the_form_of_its_numbers() {
        let action = CanonicalAction::new(
            "payment",
            "core-banking",
            "transfer",
            "agent-7",
            json!({"amount": 42000.0, "to": "v"}),
        )
        .unwrap();
        // As the sidecar (JavaScript) writes the payload back.
        let held = json!({"type": "payment", "payload": {"to": "v", "amount": 42000}});
        assert_ne!(
            held["payload"].as_object(),
            Some(action.parameters()),
            "not equal as serde_json values"
        );
        assert!(holds_action(&held, &action));
        let other = json!({"type": "payment", "payload": {"to": "v", "amount": 42001}});
        assert!(!holds_action(&other, &action));
        let other_type = json!({"type": "refund", "payload": {"to": "v", "amount": 42000}});
        assert!(!holds_action(&other_type, &action));
        assert!(!holds_action(&json!({"type": "payment"}), &action));
    }
}
