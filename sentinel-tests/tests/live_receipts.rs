//! Receipt mode against the real sidecar with the adjudication protocol (`--protocol`): the
//! guarded body runs exactly once per receipt, every attack of the protocol's threat model
//! leaves it unrun, and the sidecar's audit covers every execution.
//!
//! Each test starts its own sidecar with the script named by `SENTINEL_SIDECAR_SCRIPT`
//! (`start PORT --protocol ENV=V…` prints a PID; `stop PID`), trusting this test's executor
//! key, and stops it at the end, also on panic. Unset: the test prints one line and returns.
#![cfg(feature = "verify")]

use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sentinel::adjudication::{
    Adjudication, AdjudicationRequest, AuthorizationReceipt, CanonicalAction, ExecutorKey, ReceiptClient,
};
use sentinel::provenance::TrustedKeys;
use sentinel::{Context, Denied, Resolution, SentinelClient, Verdict};
use serde_json::json;

/// The sidecar's issuer key with the script's default signing seed (bytes 0..31).
const ISSUER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
const POLICY: &str = "fintech.payments";

/// A sidecar started for one test, stopped when dropped.
struct LiveSidecar {
    script: String,
    pid: String,
    endpoint: String,
}

impl LiveSidecar {
    fn start(settings: &[String]) -> Option<LiveSidecar> {
        let Ok(script) = std::env::var("SENTINEL_SIDECAR_SCRIPT") else {
            println!("skipped: SENTINEL_SIDECAR_SCRIPT not set");
            return None;
        };
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let output = Command::new(&script)
            .arg("start")
            .arg(port.to_string())
            .arg("--protocol")
            .args(settings)
            .output()
            .expect("run the sidecar script");
        assert!(
            output.status.success(),
            "the sidecar did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let pid = String::from_utf8_lossy(&output.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned();
        assert!(!pid.is_empty(), "the script printed no PID");
        Some(LiveSidecar {
            script,
            pid,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for LiveSidecar {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).arg("stop").arg(&self.pid).status();
    }
}

/// A protocol sidecar trusting `executor`, and a receipt client pinned to its issuer key.
fn start(executor: &ExecutorKey) -> Option<(LiveSidecar, ReceiptClient)> {
    let sidecar = LiveSidecar::start(&[format!(
        "SENTINEL_PROTOCOL_EXECUTOR_KEYS={}",
        executor.sidecar_setting()
    )])?;
    let client = SentinelClient::builder(&sidecar.endpoint)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let issuers = TrustedKeys::new().with_key_base64(ISSUER_KEY).unwrap();
    Some((sidecar, ReceiptClient::new(client, issuers, executor.clone())))
}

fn executor() -> ExecutorKey {
    ExecutorKey::from_seed([7; 32], "live-receipts-test")
}

fn payment(amount: u64, to: &str) -> AdjudicationRequest {
    let action = CanonicalAction::new(
        "payment",
        "core-banking",
        "transfer",
        "agent-7",
        json!({"amount": amount, "from": "acct_ops", "to": to}),
    )
    .unwrap();
    AdjudicationRequest::new(
        action,
        Context::new("run-live-receipts").with_actor("agent-7", ["ops"]),
        POLICY,
    )
}

fn receipt_for(client: &ReceiptClient, request: &AdjudicationRequest) -> Adjudication {
    let adjudication = client.adjudicate(request).unwrap();
    assert_eq!(adjudication.verdict, Verdict::Allow, "{}", adjudication.reason);
    assert!(adjudication.receipt.is_some(), "an ALLOW carries a receipt");
    adjudication
}

/// The receipt of an `ALLOW` adjudication.
fn receipt(adjudication: &Adjudication) -> &AuthorizationReceipt {
    adjudication.receipt.as_ref().unwrap()
}

/// `adjudication` with `receipt` in place of its own, as an attacker hands it over.
fn with_receipt(adjudication: &Adjudication, receipt: AuthorizationReceipt) -> Adjudication {
    let mut wire = serde_json::to_value(adjudication).unwrap();
    wire["receipt"] = serde_json::to_value(receipt).unwrap();
    serde_json::from_value(wire).unwrap()
}

/// Runs the receipt of `adjudication` for `request` with a body that counts its runs.
fn run(
    client: &ReceiptClient,
    adjudication: &Adjudication,
    request: &AdjudicationRequest,
    runs: &AtomicUsize,
) -> Result<String, Denied> {
    client.execute_receipt(adjudication, request, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Denied>("tx_ok".to_owned())
    })
}

fn assert_denied_with(result: Result<String, Denied>, code: &str) {
    let denied = result.expect_err("must be denied");
    assert!(
        denied.reason().contains(code),
        "expected {code}: {}",
        denied.reason()
    );
}

fn forge(genuine: &AuthorizationReceipt, key: &SigningKey, key_id: String) -> AuthorizationReceipt {
    // A receipt cannot be changed in place: forge it as an attacker would, on the wire.
    let mut wire = serde_json::to_value(genuine).unwrap();
    wire["keyId"] = json!(key_id);
    let unsigned: AuthorizationReceipt = serde_json::from_value(wire.clone()).unwrap();
    wire["signature"] = json!(
        base64::engine::general_purpose::STANDARD.encode(key.sign(&unsigned.signing_input()).to_bytes())
    );
    serde_json::from_value(wire).unwrap()
}

static GUARDED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Receipt mode of the attribute: the body is the protected executor.
#[sentinel::guarded(policy = "fintech.payments", kind = "payment", receipt = receipts, context = ctx)]
fn pay(receipts: &ReceiptClient, ctx: &Context, amount: u64, from: &str, to: &str) -> Result<String, Denied> {
    GUARDED_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(format!("paid {amount} from {from} to {to}"))
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn every_guarded_call_runs_once_and_the_audit_covers_all_of_them() {
    let Some((_sidecar, client)) = start(&executor()) else {
        return;
    };
    const N: usize = 5;
    let ctx = Context::new("run-live-guarded").with_actor("agent-7", ["ops"]);
    for i in 0..N {
        let amount = 100 + i as u64;
        assert_eq!(
            pay(&client, &ctx, amount, "acct_ops", "vendor_42").unwrap(),
            format!("paid {amount} from acct_ops to vendor_42")
        );
    }
    // A call the policy blocks (a sanctioned counterparty) never runs.
    let blocked = pay(&client, &ctx, 100, "acct_ops", "acct_evil").unwrap_err();
    assert!(blocked.reason().contains("BLOCK"), "{}", blocked.reason());
    assert_eq!(GUARDED_RUNS.load(Ordering::SeqCst), N);
    assert!(
        client.pending_reports().is_empty(),
        "every execution was reported"
    );

    let coverage = client.coverage().unwrap();
    assert!(coverage.valid);
    assert_eq!(coverage.executions_checked, N as u64);
    assert_eq!(coverage.coverage, 1.0);
    let audit = client.audit().unwrap();
    assert!(audit.violations.is_empty(), "{:?}", audit.violations);
    println!(
        "audit: {N} guarded calls, {} executions, coverage {}",
        audit.executions_checked, audit.coverage
    );
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn a_blocked_action_gets_no_receipt_and_never_runs() {
    let Some((_sidecar, client)) = start(&executor()) else {
        return;
    };
    let runs = AtomicUsize::new(0);
    let blocked = payment(100, "vendor_42");
    // An extra field breaks fintech.payments' schema: a hard BLOCK.
    let action = CanonicalAction::new(
        "payment",
        "core-banking",
        "transfer",
        "agent-7",
        json!({"amount": 100, "from": "acct_ops", "to": "vendor_42", "bogus": true}),
    )
    .unwrap();
    let blocked = AdjudicationRequest::new(action, blocked.context().clone(), POLICY);
    let result: Result<String, Denied> = client.execute(&blocked, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok("tx".into())
    });
    let denied = result.unwrap_err();
    assert!(denied.reason().contains("BLOCK"), "{}", denied.reason());
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    assert_eq!(client.coverage().unwrap().executions_checked, 0);
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn substitution_replay_forgery_expiry_and_revocation_never_run_the_body() {
    let Some((_sidecar, client)) = start(&executor()) else {
        return;
    };
    let runs = AtomicUsize::new(0);

    // Action substitution: a receipt for A, run with B. The client refuses before asking,
    // and the sidecar's validator refuses too; the receipt is not spent by either.
    let a = payment(100, "vendor_42");
    let b = payment(100, "acct_attacker");
    let receipt_a = receipt_for(&client, &a);
    assert_denied_with(run(&client, &receipt_a, &b, &runs), "ACTION_MISMATCH");
    let by_sidecar = client.validate(receipt(&receipt_a), &b.binding()).unwrap_err();
    assert_eq!(by_sidecar.code(), "ACTION_MISMATCH", "{by_sidecar}");
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    // The genuine action still runs on it, once; the same receipt again is a replay, which
    // this client refuses itself, and the sidecar too.
    assert_eq!(run(&client, &receipt_a, &a, &runs).unwrap(), "tx_ok");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_denied_with(run(&client, &receipt_a, &a, &runs), "already backed an execution");
    assert_eq!(
        client
            .validate(receipt(&receipt_a), &a.binding())
            .unwrap_err()
            .code(),
        "REPLAY_DETECTED"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // Replay race: eight threads present one receipt at once; exactly one body runs.
    let c = payment(101, "vendor_42");
    let receipt_c = receipt_for(&client, &c);
    let raced = AtomicUsize::new(0);
    let barrier = Arc::new(Barrier::new(8));
    let results: Vec<Result<String, Denied>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                let (client, receipt_c, c, raced) = (&client, &receipt_c, &c, &raced);
                scope.spawn(move || {
                    barrier.wait();
                    run(client, receipt_c, c, raced)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(raced.load(Ordering::SeqCst), 1, "exactly one racing body runs");
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for denied in results.into_iter().filter_map(Result::err) {
        assert!(
            denied.reason().contains("already backed an execution")
                || denied.reason().contains("REPLAY_DETECTED"),
            "{}",
            denied.reason()
        );
    }

    // Forgery: a receipt signed by another key, under its own key id or under the
    // sidecar's. Refused by the client and by the sidecar.
    let d = payment(102, "vendor_42");
    let genuine_d = receipt_for(&client, &d);
    let attacker = SigningKey::from_bytes(&[9; 32]);
    let own_id = TrustedKeys::key_id_of(attacker.verifying_key().as_bytes());
    let forged_own = forge(receipt(&genuine_d), &attacker, own_id);
    let forged_pinned = forge(
        receipt(&genuine_d),
        &attacker,
        receipt(&genuine_d).key_id().to_owned(),
    );
    assert_denied_with(
        run(&client, &with_receipt(&genuine_d, forged_own.clone()), &d, &runs),
        "UNTRUSTED_ISSUER",
    );
    assert_denied_with(
        run(
            &client,
            &with_receipt(&genuine_d, forged_pinned.clone()),
            &d,
            &runs,
        ),
        "INVALID_SIGNATURE",
    );
    assert_eq!(
        client.validate(&forged_own, &d.binding()).unwrap_err().code(),
        "UNTRUSTED_ISSUER"
    );
    assert_eq!(
        client.validate(&forged_pinned, &d.binding()).unwrap_err().code(),
        "INVALID_SIGNATURE"
    );

    // Expiry: a receipt valid for 300 ms, presented after it.
    let e = payment(103, "vendor_42").receipt_ttl(Duration::from_millis(300));
    let receipt_e = receipt_for(&client, &e);
    let expires = Instant::now() + Duration::from_millis(400);
    while Instant::now() < expires {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_denied_with(run(&client, &receipt_e, &e, &runs), "EXPIRED_RECEIPT");
    assert_eq!(
        client
            .validate(receipt(&receipt_e), &e.binding())
            .unwrap_err()
            .code(),
        "EXPIRED_RECEIPT"
    );

    // Revocation: only the sidecar knows; it refuses, and the refusal is reported.
    let f = payment(104, "vendor_42");
    let receipt_f = receipt_for(&client, &f);
    client
        .revoke(receipt(&receipt_f).receipt_id(), Some("operator pulled it"))
        .unwrap();
    assert_denied_with(run(&client, &receipt_f, &f, &runs), "REVOKED_RECEIPT");

    assert_eq!(runs.load(Ordering::SeqCst), 1, "no attack ran a body");
    // Two executions ran (A and the race's winner), both fully mediated; refusals are
    // reported but are not executions.
    let audit = client.audit().unwrap();
    assert!(audit.valid, "{:?}", audit.violations);
    assert_eq!(audit.executions_checked, 2);
    assert_eq!(audit.coverage, 1.0);
    assert!(client.pending_reports().is_empty());
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn an_untrusted_executor_key_keeps_the_result_and_the_report_for_retry() {
    // The sidecar trusts another executor: reports are refused at ingest.
    let Some((_sidecar, client)) = start(&ExecutorKey::from_seed([8; 32], "someone-else")) else {
        return;
    };
    let untrusted = ReceiptClient::new(client.sentinel().clone(), client.issuers().clone(), executor());
    let result: Result<String, Denied> =
        untrusted.execute(&payment(100, "vendor_42"), || Ok("tx_kept".into()));
    assert_eq!(result.unwrap(), "tx_kept", "the result survives a failed report");
    let pending = untrusted.pending_reports();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].executor_identity(), "live-receipts-test");
    assert_eq!(untrusted.retry_reports(), 1, "still refused, still kept");
    assert_eq!(untrusted.coverage().unwrap().executions_checked, 0);
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn an_escalated_action_parks_and_an_approval_does_not_buy_a_receipt() {
    let Some((_sidecar, client)) = start(&executor()) else {
        return;
    };
    let runs = AtomicUsize::new(0);
    let big = payment(60_000, "vendor_42"); // above 25000: dual control, ESCALATE
    let result: Result<String, Denied> = client.execute(&big, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok("tx".into())
    });
    let denied = result.unwrap_err();
    assert!(denied.is_escalated(), "{}", denied.reason());
    let escalation_id = denied
        .escalation_id()
        .expect("parked with an escalation id")
        .to_owned();

    // Resuming before a human answered is refused.
    let early: Result<String, Denied> = client.execute_approved(&escalation_id, &big, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok("tx".into())
    });
    assert!(early.unwrap_err().reason().contains("not approved"));

    client
        .sentinel()
        .resolve(&escalation_id, Resolution::Approve, "treasury_ops")
        .unwrap();

    // The approval names another action: refused.
    let other: Result<String, Denied> =
        client.execute_approved(&escalation_id, &payment(60_001, "vendor_42"), || {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok("tx".into())
        });
    assert!(other.unwrap_err().reason().contains("another action"));

    // The very action, approved: the request goes to the adjudicator with
    // humanApprovalReference, and the reference sidecar re-runs its policy, which escalates
    // again, so it issues no receipt and the body still does not run.
    let resumed: Result<String, Denied> = client.execute_approved(&escalation_id, &big, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok("tx".into())
    });
    let denied = resumed.unwrap_err();
    assert!(
        denied
            .reason()
            .contains("is approved, but the sidecar's adjudication is ESCALATE"),
        "{}",
        denied.reason()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn a_human_approval_reference_is_signed_into_the_receipt_and_can_be_required() {
    let Some((_sidecar, client)) = start(&executor()) else {
        return;
    };
    let runs = AtomicUsize::new(0);
    // Required but absent: refused by the client and by the sidecar, never run.
    let required = payment(100, "vendor_42").require_human_approval();
    let adjudication = receipt_for(&client, &required);
    assert_denied_with(
        run(&client, &adjudication, &required, &runs),
        "MISSING_HUMAN_APPROVAL",
    );
    assert_eq!(
        client
            .validate(receipt(&adjudication), &required.binding())
            .unwrap_err()
            .code(),
        "MISSING_HUMAN_APPROVAL"
    );

    // A made-up reference is stamped on the signed receipt (the sidecar checks only that
    // one is there), and refused: no escalation approves this action.
    let made_up = payment(100, "vendor_42")
        .human_approval("esc_nobody_approved_this")
        .require_human_approval();
    let adjudication = receipt_for(&client, &made_up);
    assert_eq!(
        receipt(&adjudication).human_approval_reference(),
        Some("esc_nobody_approved_this")
    );
    assert_denied_with(run(&client, &adjudication, &made_up, &runs), "no such escalation");
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    // A real escalation, approved by a human, of this very payment: fintech.payments
    // escalates 30 000; healthcare.record_write (no payment rules) allows it, so a receipt
    // can be had under that policy, and it carries the approval.
    let guarded = client.sentinel().guard(
        &sentinel::Action::payment(json!({"amount": 30_000, "from": "acct_ops", "to": "vendor_42"})),
        &Context::new("run-live-receipts"),
        POLICY,
    );
    let escalation_id = guarded.escalation_id().expect("30 000 escalates").to_owned();
    client
        .sentinel()
        .resolve(&escalation_id, Resolution::Approve, "treasury_ops")
        .unwrap();
    let approved = |amount: u64| {
        let action = CanonicalAction::new(
            "payment",
            "core-banking",
            "transfer",
            "agent-7",
            json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}),
        )
        .unwrap();
        AdjudicationRequest::new(
            action,
            Context::new("run-live-receipts").with_actor("agent-7", ["ops"]),
            "healthcare.record_write",
        )
        .human_approval(&escalation_id)
        .require_human_approval()
    };
    // The approval is of 30 000, not of 31 000.
    let other = approved(31_000);
    let adjudication = receipt_for(&client, &other);
    assert_denied_with(run(&client, &adjudication, &other, &runs), "another action");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let this = approved(30_000);
    let adjudication = receipt_for(&client, &this);
    assert_eq!(run(&client, &adjudication, &this, &runs).unwrap(), "tx_ok");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}
