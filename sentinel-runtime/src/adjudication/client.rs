//! [`ReceiptClient`]: the protocol routes, typed, with every receipt checked under the
//! pinned issuer keys before it is trusted.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use super::action::evidence_digest;
use super::receipt::{AuthorizationReceipt, ExecutionReceipt, ExecutorKey};
use super::ReceiptError;
use crate::client::SentinelClient;
use crate::decision::Verdict;
use crate::protocol;
use crate::provenance::TrustedKeys;
use crate::sidecar_error::SidecarError;
use crate::transport::HttpResponse;

mod audit;
mod outbox;
mod request;

pub use audit::{AuditReport, AuditViolation, Coverage};
pub use outbox::OUTBOX_CAPACITY;
pub use request::{Adjudication, AdjudicationRequest, ExecutionBinding};

/// A client of the sidecar's adjudication protocol (`--protocol`, or
/// `SENTINEL_PROTOCOL_ENABLED=1`): the executor's side. Cheap to clone; clones share the
/// connection pool and the outbox of unreported execution receipts.
///
/// It trusts authorization receipts signed by `issuers` only (pin the sidecar's key out of
/// band; a receipt never brings its own), and signs execution receipts with its
/// [`ExecutorKey`], which the sidecar must trust (`SENTINEL_PROTOCOL_EXECUTOR_KEYS`).
///
/// ```no_run
/// use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
/// use sentinel_runtime::provenance::TrustedKeys;
/// use sentinel_runtime::{Context, Denied, SentinelClient};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The sidecar's issuer key, pinned out of band; the executor's seed from a secret store.
/// let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
/// let executor = ExecutorKey::from_seed([7; 32], "payments-worker");
/// let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers, executor);
///
/// let params = serde_json::json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"});
/// let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-007", params)?;
/// let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
/// // The body runs only on a receipt the sidecar just issued for exactly this action.
/// let paid: Result<&str, Denied> = receipts.execute(&request, || Ok("paid"));
/// # let _ = paid;
/// assert_eq!(receipts.executor().identity(), "payments-worker");
/// assert_eq!(receipts.issuers().len(), 1);
/// println!("through {}", receipts.sentinel().endpoint());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReceiptClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: SentinelClient,
    issuers: TrustedKeys,
    executor: ExecutorKey,
    outbox: Mutex<VecDeque<ExecutionReceipt>>,
    /// The receipts this client ran a body on, with their expiry (after which no receipt
    /// validates anyway, so they are forgotten then).
    executed: Mutex<Vec<(String, SystemTime)>>,
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
                executed: Mutex::new(Vec::new()),
            }),
        }
    }

    /// `true` the first time this client is about to run a body on `receipt`: a receipt
    /// runs at most once per process, whatever the sidecar's validation says.
    pub(crate) fn first_execution(&self, receipt: &AuthorizationReceipt) -> bool {
        let now = SystemTime::now();
        let mut executed = self.inner.executed.lock().unwrap_or_else(|e| e.into_inner());
        executed.retain(|(_, expires)| *expires > now);
        if executed.iter().any(|(id, _)| id == receipt.receipt_id()) {
            return false;
        }
        // An unreadable expiry is kept a day (such a receipt fails its own checks anyway).
        let expires = super::time::parse_iso(receipt.expires_at())
            .unwrap_or_else(|| now + std::time::Duration::from_secs(24 * 3600));
        executed.push((receipt.receipt_id().to_owned(), expires));
        true
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
    ///
    /// ```no_run
    /// # use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    /// # use sentinel_runtime::{provenance::TrustedKeys, Context, SentinelClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
    /// # let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers,
    /// #     ExecutorKey::from_seed([7; 32], "payments-worker"));
    /// # let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", serde_json::json!({"amount": 100}))?;
    /// # let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
    /// let adjudication = receipts.adjudicate(&request)?;
    /// if let Some(receipt) = &adjudication.receipt {
    ///     // The protocol step by step (what `execute` does): consume the nonce, run, report.
    ///     let executions = receipts.validate(receipt, &request.binding())?;
    ///     println!("receipt {} validated, execution {executions}", receipt.receipt_id());
    /// }
    /// # Ok(()) }
    /// ```
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
                let keys = self
                    .issuer_keys(&receipt, &record_id, deadline)
                    .map_err(|why| ReceiptError::rejected_locally("UNTRUSTED_ISSUER", why))?;
                self.check_issued(&receipt, request, &binding, &keys)?;
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
        keys: &TrustedKeys,
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
        receipt.check(keys, SystemTime::now())
    }

    /// `POST /v1/receipts/validate`: the sidecar checks `receipt` against `binding` and, if
    /// it is valid, consumes its single-use nonce. Returns how many times it has now been
    /// executed.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Rejected`] with the validator's code; [`ReceiptError::Sidecar`]
    /// without a well-formed answer (then the nonce may or may not be spent: never run).
    ///
    /// ```no_run
    /// # use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    /// # use sentinel_runtime::{provenance::TrustedKeys, Context, SentinelClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
    /// # let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers,
    /// #     ExecutorKey::from_seed([7; 32], "payments-worker"));
    /// # let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", serde_json::json!({"amount": 100}))?;
    /// # let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
    /// let adjudication = receipts.adjudicate(&request)?;
    /// let receipt = adjudication.receipt.as_ref().ok_or("not authorized")?;
    /// match receipts.validate(receipt, &request.binding()) {
    ///     Ok(count) => println!("valid; executed {count} time(s) now"),
    ///     Err(e) => println!("refused ({}): never run", e.code()),
    /// }
    /// # Ok(()) }
    /// ```
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
                    message: self.inner.client.redact(text("/error/message")),
                })
            }
            _ => Err(malformed("validation", "no `ok`")),
        }
    }

    /// `POST /v1/receipts/revoke`: the receipt fails every later validation
    /// (`REVOKED_RECEIPT`).
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] if the sidecar did not confirm.
    ///
    /// ```no_run
    /// # use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    /// # use sentinel_runtime::{provenance::TrustedKeys, Context, SentinelClient};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
    /// # let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers,
    /// #     ExecutorKey::from_seed([7; 32], "payments-worker"));
    /// # let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", serde_json::json!({"amount": 100}))?;
    /// # let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
    /// let adjudication = receipts.adjudicate(&request)?;
    /// if let Some(receipt) = &adjudication.receipt {
    ///     receipts.revoke(receipt.receipt_id(), Some("the job was cancelled"))?;
    /// }
    /// # Ok(()) }
    /// ```
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

    fn post(&self, path: &str, body: &Value, deadline: Instant) -> Result<Value, ReceiptError> {
        // A `Value` always serializes (its keys are strings).
        self.send("POST", path, body.to_string().into_bytes(), deadline)
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
            .map_err(SidecarError::Transport)?;
        if !protocol::is_success(response.status) {
            return Err(status_error(&response, |text| self.inner.client.redact(text)));
        }
        crate::strict_json::parse(&response.body).map_err(|e| {
            ReceiptError::Sidecar(SidecarError::Malformed(format!(
                "{method} {path}: not valid JSON: {e}"
            )))
        })
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
    ReceiptError::Sidecar(SidecarError::Malformed(format!("the {what} answer: {why}")))
}

/// The error for a non-2xx answer. The sidecar's texts pass through `redact` (the
/// client's header values withheld, as on every other route: a proxy in front of the
/// sidecar may echo a rejected token) before they are cut to 200 characters, so a cut
/// cannot leave part of a secret unmatched.
fn status_error(response: &HttpResponse, redact: impl Fn(String) -> String) -> ReceiptError {
    let answer = serde_json::from_slice::<Value>(&response.body).ok();
    let raw = |key: &str| answer.as_ref().and_then(|v| v.get(key)).and_then(Value::as_str);
    let text = |key: &str| {
        raw(key)
            .map(|e| redact(e.to_owned()).chars().take(200).collect::<String>())
            .unwrap_or_default()
    };
    if response.status == 400 && raw("error") == Some("non-canonical action") {
        return ReceiptError::NonCanonicalAction(text("details"));
    }
    let message = text("error");
    ReceiptError::Sidecar(match response.status {
        404 => SidecarError::NotFound(message),
        status => SidecarError::Status { status, message },
    })
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
