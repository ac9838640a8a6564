//! The adjudication protocol's routes on [`MockSidecar`] (feature `verify` too), as the
//! reference sidecar serves them with `--protocol`: receipts signed with the key of
//! [`MockSidecar::issuer_keys`], single-use nonces, revocation, execution ingest under the
//! executor keys it was told to trust, and the complete-mediation audit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde_json::{json, Value};

use super::chain::Entry;
use super::routes::{now_iso8601, record_context};
use super::{lock, parse_guard_request, MockSidecar, Rule, Seen};
use crate::adjudication::{
    check_binding, evidence_digest, AuthorizationReceipt, CanonicalAction, EvidenceItem, ExecutionBinding,
    ExecutionReceipt, ExecutionStatus, ExecutorKey, PolicyManifest, ReceiptError, PROTOCOL_VERSION,
};
use crate::decision::Verdict;
use crate::provenance::TrustedKeys;

/// The mock's issuer seed: the reference sidecar's default in this project's scripts (bytes
/// 0..31), so one pinned key serves both.
const ISSUER_SEED: [u8; 32] = {
    let mut seed = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        seed[i] = i as u8;
        i += 1;
    }
    seed
};
const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// What the mock keeps of the protocol.
#[derive(Default)]
pub(super) struct Protocol {
    receipts: Vec<AuthorizationReceipt>,
    executions: Vec<ExecutionReceipt>,
    consumed: HashMap<String, u64>,
    revoked: BTreeSet<String>,
    executors: BTreeMap<String, [u8; 32]>,
}

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl MockSidecar {
    /// The issuer key the mock signs authorization receipts with, to pin in a
    /// [`ReceiptClient`](crate::adjudication::ReceiptClient). It is the reference sidecar's
    /// key for the signing seed 00 01 … 1f.
    ///
    /// ```
    /// use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
    /// use sentinel_runtime::testing::MockSidecar;
    /// use sentinel_runtime::{Context, Denied, SentinelClient};
    /// use serde_json::json;
    ///
    /// let sidecar = MockSidecar::allow_all();
    /// let executor = ExecutorKey::from_seed([7; 32], "payments-worker");
    /// sidecar.trust_executor(&executor);
    /// let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
    /// let receipts = ReceiptClient::new(client, MockSidecar::issuer_keys(), executor);
    ///
    /// let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", json!({"amount": 100})).unwrap();
    /// let request = AdjudicationRequest::new(action, Context::new("run-1"), "fintech.payments");
    /// let paid: Result<&str, Denied> = receipts.execute(&request, || Ok("paid"));
    /// assert_eq!(paid.unwrap(), "paid");
    /// assert_eq!(sidecar.executions().len(), 1, "the execution was reported");
    /// let issued = sidecar.receipts();
    /// assert_eq!(issued.len(), 1, "one authorization receipt issued");
    /// assert_eq!(issued[0].human_approval_reference(), None, "adjudicated without an approval");
    /// assert!(receipts.audit().unwrap().valid);
    /// ```
    #[must_use]
    pub fn issuer_keys() -> TrustedKeys {
        TrustedKeys::new().with_key_bytes(SigningKey::from_bytes(&ISSUER_SEED).verifying_key().to_bytes())
    }

    /// Accepts execution receipts signed by `executor` (the sidecar's
    /// `SENTINEL_PROTOCOL_EXECUTOR_KEYS`); others are refused at `POST /v1/executions`.
    pub fn trust_executor(&self, executor: &ExecutorKey) {
        lock(&self.seen)
            .protocol
            .executors
            .insert(executor.key_id().to_owned(), executor.public_key());
    }

    /// The execution receipts stored so far.
    #[must_use]
    pub fn executions(&self) -> Vec<ExecutionReceipt> {
        lock(&self.seen).protocol.executions.clone()
    }

    /// The authorization receipts issued so far (one per `ALLOW` adjudication), in order:
    /// a test reads what each adjudication carried, such as its
    /// [`human_approval_reference`](AuthorizationReceipt::human_approval_reference).
    #[must_use]
    pub fn receipts(&self) -> Vec<AuthorizationReceipt> {
        lock(&self.seen).protocol.receipts.clone()
    }
}

/// Answers a protocol route, or `None` for any other path.
pub(super) async fn route(
    method: &hyper::Method,
    path: &str,
    body: &[u8],
    seen: &Arc<Mutex<Seen>>,
    rule: &Arc<Rule>,
) -> Option<(u16, Value)> {
    let parsed = || serde_json::from_slice::<Value>(body).ok();
    Some(match (method.as_str(), path) {
        ("POST", "/v1/adjudications") => match parsed() {
            Some(request) => adjudicate(request, seen, Arc::clone(rule)).await,
            None => bad("invalid adjudication request"),
        },
        ("POST", "/v1/receipts/validate") => validate(parsed(), &mut lock(seen).protocol),
        ("POST", "/v1/executions") => ingest(parsed(), &mut lock(seen).protocol),
        ("POST", "/v1/receipts/revoke") => {
            match parsed().and_then(|v| v["receiptId"].as_str().map(str::to_owned)) {
                Some(id) => {
                    lock(seen).protocol.revoked.insert(id.clone());
                    (200, json!({"revoked": true, "receiptId": id}))
                }
                None => bad("invalid revoke request"),
            }
        }
        ("GET", "/v1/audit/verify") => (200, audit(&lock(seen).protocol)),
        ("GET", "/v1/audit/coverage") => {
            let report = audit(&lock(seen).protocol);
            (
                200,
                json!({"valid": report["valid"], "executionsChecked": report["executionsChecked"], "coverage": report["coverage"]}),
            )
        }
        _ => return None,
    })
}

fn bad(message: &str) -> (u16, Value) {
    (400, json!({ "error": message }))
}

async fn adjudicate(request: Value, seen: &Mutex<Seen>, rule: Arc<Rule>) -> (u16, Value) {
    let action = match CanonicalAction::from_json(&request["action"]) {
        Ok(action) => action,
        Err(err) => {
            return (
                400,
                json!({"error": "non-canonical action", "details": err.to_string()}),
            )
        }
    };
    let manifest = serde_json::from_value::<PolicyManifest>(request["policy"].clone());
    let evidence = serde_json::from_value::<Vec<EvidenceItem>>(request["evidence"].clone());
    let guard = parse_guard_request(request["guard"].clone(), Vec::new());
    let context_digest = request["contextDigest"]
        .as_str()
        .filter(|d| is_hex64(d))
        .map(str::to_owned);
    let (Ok(manifest), Ok(evidence), Some(guard), Some(context_digest)) =
        (manifest, evidence, guard, context_digest)
    else {
        return bad("invalid adjudication request");
    };
    let Ok((guard, answer)) = tokio::task::spawn_blocking(move || {
        let answer = rule(&guard);
        (guard, answer)
    })
    .await
    else {
        return (500, json!({"error": "internal error"}));
    };
    let verdict = answer.verdict;
    let reason = answer
        .reason
        .clone()
        .unwrap_or_else(|| "all signals allow".into());
    let mut reply = json!({
        "finalVerdict": verdict.as_str(),
        "adjudication": {"deterministicVerdict": verdict.as_str(), "finalVerdict": verdict.as_str(), "reason": reason},
        "policy": {"policyVersion": manifest.policy_version(), "policyBundleDigest": manifest.digest()},
        "evidence": {"evidenceDigest": evidence_digest(&evidence), "count": evidence.len()},
        "independenceWarnings": [],
    });
    let mut seen = lock(seen);
    // The wrapped guard's signed record, as the reference adjudicator's engine writes it.
    let record_id = seen.chain.append(
        Entry {
            tenant: guard.context["tenant"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
            action: guard.body["action"].clone(),
            context: record_context(&guard.context),
            checks: answer.checks(&guard.policy),
            verdict: answer.verdict.as_str(),
            reason: answer.reason.clone(),
        },
        now_iso8601(),
    );
    reply["recordId"] = json!(record_id);
    seen.requests.push(guard);
    if verdict == Verdict::Allow {
        let ttl = request["receiptTtlMs"]
            .as_u64()
            .map_or(DEFAULT_TTL, Duration::from_millis);
        let now = SystemTime::now();
        let mut receipt = AuthorizationReceipt {
            receipt_id: format!("rcpt_{}", uuid::Uuid::new_v4()),
            protocol_version: PROTOCOL_VERSION.to_owned(),
            action_digest: action.digest(),
            context_digest,
            policy_bundle_digest: manifest.digest(),
            policy_version: manifest.policy_version().to_owned(),
            evidence_digest: evidence_digest(&evidence),
            deterministic_verdict: "ALLOW".into(),
            model_verdict: None,
            final_verdict: "ALLOW".into(),
            human_approval_reference: request["humanApprovalReference"].as_str().map(str::to_owned),
            issued_at: crate::adjudication::format_iso(now),
            expires_at: crate::adjudication::format_iso(now + ttl),
            nonce: STANDARD.encode(uuid::Uuid::new_v4().as_bytes()),
            max_executions: request["maxExecutions"].as_u64().unwrap_or(1),
            issuer: "sentinel-mock".into(),
            key_id: TrustedKeys::key_id_of(SigningKey::from_bytes(&ISSUER_SEED).verifying_key().as_bytes()),
            signature: String::new(),
        };
        receipt.signature = STANDARD.encode(
            SigningKey::from_bytes(&ISSUER_SEED)
                .sign(&receipt.signing_input())
                .to_bytes(),
        );
        reply["receipt"] = json!(receipt);
        seen.protocol.receipts.push(receipt);
    }
    (200, reply)
}

/// The reference validator's checks, in its order; the nonce is consumed last.
fn validate(request: Option<Value>, protocol: &mut Protocol) -> (u16, Value) {
    let Some(request) = request else {
        return bad("invalid validation request");
    };
    let receipt = serde_json::from_value::<AuthorizationReceipt>(request["receipt"].clone());
    let binding = &request["binding"];
    let (Ok(receipt), Some(action_digest), Some(context_digest)) = (
        receipt,
        binding["actionDigest"].as_str().filter(|d| is_hex64(d)),
        binding["contextDigest"].as_str().filter(|d| is_hex64(d)),
    ) else {
        return bad("invalid validation request");
    };
    let binding = ExecutionBinding {
        action_digest: action_digest.to_owned(),
        context_digest: context_digest.to_owned(),
        expected_policy_bundle_digest: binding["expectedPolicyBundleDigest"].as_str().map(str::to_owned),
        require_human_approval: binding["requireHumanApproval"].as_bool().unwrap_or(false),
    };
    let checked = receipt
        .check(&MockSidecar::issuer_keys(), SystemTime::now())
        .and_then(|()| check_binding(&receipt, &binding));
    let failure = |err: ReceiptError| match err {
        ReceiptError::Rejected { code, message } => {
            let message = message.trim_end_matches(" (checked by the client)").to_owned();
            (
                200,
                json!({"ok": false, "error": {"code": code, "message": message}}),
            )
        }
        other => (
            200,
            json!({"ok": false, "error": {"code": "MALFORMED_RECEIPT", "message": other.to_string()}}),
        ),
    };
    if let Err(err) = checked {
        return failure(err);
    }
    if protocol.revoked.contains(&receipt.receipt_id) {
        return (
            200,
            json!({"ok": false, "error": {"code": "REVOKED_RECEIPT", "message": "receipt has been revoked"}}),
        );
    }
    let count = protocol.consumed.entry(receipt.receipt_id.clone()).or_default();
    if *count >= receipt.max_executions {
        return (
            200,
            json!({"ok": false, "error": {"code": "REPLAY_DETECTED", "message": "receipt nonce already consumed (replay)"}}),
        );
    }
    *count += 1;
    (200, json!({"ok": true, "executionCount": *count}))
}

fn ingest(request: Option<Value>, protocol: &mut Protocol) -> (u16, Value) {
    let Some(execution) = request.and_then(|r| serde_json::from_value::<ExecutionReceipt>(r).ok()) else {
        return bad("invalid execution receipt");
    };
    let trusted = protocol
        .executors
        .get(&execution.key_id)
        .is_some_and(|key| execution.verify_with(key));
    if !trusted {
        return bad("untrusted or invalid execution receipt signature");
    }
    let id = execution.execution_id.clone();
    protocol.executions.push(execution);
    (200, json!({"stored": true, "executionId": id}))
}

/// The reference `auditCompleteMediation`, over what the mock holds.
fn audit(protocol: &Protocol) -> Value {
    let issuers = MockSidecar::issuer_keys();
    let executions: Vec<&ExecutionReceipt> = protocol
        .executions
        .iter()
        .filter(|e| e.execution_status != ExecutionStatus::Rejected)
        .collect();
    let mut runs: HashMap<&str, u64> = HashMap::new();
    for execution in &executions {
        *runs
            .entry(execution.authorization_receipt_id.as_str())
            .or_default() += 1;
    }
    let mut violations = Vec::new();
    let mut clean = 0;
    for execution in &executions {
        let before = violations.len();
        let mut add = |kind: &str, detail: &str| {
            violations.push(json!({
                "type": kind,
                "executionId": execution.execution_id,
                "authorizationReceiptId": execution.authorization_receipt_id,
                "detail": detail,
            }));
        };
        if !protocol
            .executors
            .get(&execution.key_id)
            .is_some_and(|key| execution.verify_with(key))
        {
            add(
                "INVALID_EXECUTION_SIGNATURE",
                "invalid or untrusted execution signature",
            );
        }
        let authorizations: Vec<&AuthorizationReceipt> = protocol
            .receipts
            .iter()
            .filter(|r| r.receipt_id == execution.authorization_receipt_id)
            .collect();
        match authorizations.as_slice() {
            [] => add("EXECUTION_WITHOUT_AUTHORIZATION", "no such authorization"),
            [auth] => {
                if auth.verify_signature(&issuers).is_err() {
                    add(
                        "INVALID_AUTHORIZATION_SIGNATURE",
                        "invalid or untrusted authorization signature",
                    );
                }
                if auth.final_verdict != "ALLOW" {
                    add("NON_ALLOW_AUTHORIZATION", "authorization is not ALLOW");
                }
                if auth.digest() != execution.authorization_receipt_digest {
                    add(
                        "AUTHORIZATION_DIGEST_MISMATCH",
                        "execution links another authorization digest",
                    );
                }
                if auth.action_digest != execution.actual_action_digest {
                    add(
                        "ACTION_SUBSTITUTION",
                        "executed action digest != authorized action digest",
                    );
                }
                let window = (
                    crate::adjudication::parse_iso(&execution.started_at),
                    crate::adjudication::parse_iso(&auth.issued_at),
                    crate::adjudication::parse_iso(&auth.expires_at),
                );
                if let (Some(started), Some(issued), Some(expires)) = window {
                    if started < issued || started >= expires {
                        add(
                            "EXPIRED_AUTHORIZATION",
                            "execution ran outside the validity window",
                        );
                    }
                }
                if runs.get(auth.receipt_id.as_str()).copied().unwrap_or(0) > auth.max_executions {
                    add("REPLAYED_AUTHORIZATION", "executed more than maxExecutions");
                }
            }
            _ => add("MULTIPLE_AUTHORIZATIONS", "several authorizations share this id"),
        }
        if violations.len() == before {
            clean += 1;
        }
    }
    let checked = executions.len();
    let coverage = if checked == 0 {
        1.0
    } else {
        f64::from(clean) / checked as f64
    };
    json!({"valid": violations.is_empty(), "executionsChecked": checked, "violations": violations, "coverage": coverage})
}

fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
