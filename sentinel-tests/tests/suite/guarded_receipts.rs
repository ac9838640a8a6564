//! `#[guarded(…, receipt)]`: the function's body is the protocol's protected executor. It
//! runs only on a receipt validated for the digest of the arguments it was called with,
//! exactly once, and its execution is reported (against MockSidecar, which speaks the
//! protocol; tests/live_receipts.rs runs the attacks against the real sidecar).
#![cfg(feature = "verify")]

use std::sync::atomic::{AtomicUsize, Ordering};

use sentinel::adjudication::{ExecutionStatus, ExecutorKey, ReceiptClient};
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient};
use serde_json::json;

static RUNS: AtomicUsize = AtomicUsize::new(0);
static GLOBAL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug)]
enum PayError {
    Denied(Denied),
    Insufficient,
}

impl From<Denied> for PayError {
    fn from(denied: Denied) -> Self {
        PayError::Denied(denied)
    }
}

impl std::fmt::Display for PayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayError::Denied(denied) => write!(f, "{denied}"),
            PayError::Insufficient => f.write_str("insufficient funds"),
        }
    }
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", receipt = receipts, context = ctx)]
fn pay(receipts: &ReceiptClient, ctx: &Context, amount: u64, to: &str) -> Result<String, PayError> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    if amount > 1_000 {
        // `return` and `?` keep their meaning inside the executor.
        return Err(PayError::Insufficient);
    }
    Ok(format!("paid {amount} to {to}"))
}

fn setup() -> (MockSidecar, ReceiptClient) {
    let sidecar = MockSidecar::start(|request| match request.payload["to"].as_str() {
        Some("acct_evil") => MockAnswer::block("sanctioned counterparty"),
        _ => MockAnswer::allow(),
    });
    let executor = ExecutorKey::from_seed([7; 32], "guarded-receipts-test");
    sidecar.trust_executor(&executor);
    let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
    (
        sidecar,
        ReceiptClient::new(client, MockSidecar::issuer_keys(), executor),
    )
}

#[test]
fn the_body_runs_once_on_a_receipt_for_the_actual_arguments() {
    let (sidecar, receipts) = setup();
    let ctx = Context::new("run-guarded").with_actor("agent-7", ["ops"]);
    assert_eq!(
        pay(&receipts, &ctx, 100, "vendor_42").unwrap(),
        "paid 100 to vendor_42"
    );
    assert!(matches!(
        pay(&receipts, &ctx, 5_000, "vendor_42"),
        Err(PayError::Insufficient)
    ));
    let blocked = pay(&receipts, &ctx, 100, "acct_evil").unwrap_err();
    assert!(
        matches!(&blocked, PayError::Denied(d) if d.reason().contains("sanctioned")),
        "{blocked}"
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 2, "the blocked call never ran");

    // What was adjudicated: the arguments (not the receipt client or the context), under the
    // function's module path and name, for the context's actor.
    let request = &sidecar.requests()[0];
    assert_eq!(request.kind, "payment");
    assert_eq!(request.payload, json!({"amount": 100, "to": "vendor_42"}));
    let executions = sidecar.executions();
    let statuses: Vec<_> = executions.iter().map(|e| e.execution_status()).collect();
    assert_eq!(statuses, [ExecutionStatus::Succeeded, ExecutionStatus::Failed]);
    let audit = receipts.audit().unwrap();
    assert_eq!(
        (audit.valid, audit.executions_checked, audit.coverage),
        (true, 2, 1.0)
    );
    let expected = sentinel::adjudication::CanonicalAction::new(
        "payment",
        module_path!(),
        "pay",
        "agent-7",
        json!({"amount": 100, "to": "vendor_42"}),
    )
    .unwrap();
    assert_eq!(executions[0].actual_action_digest(), expected.digest());
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment", receipt)]
fn pay_global(amount: u64) -> Result<u64, Denied> {
    GLOBAL_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

#[test]
fn without_a_receipt_client_the_call_is_denied_and_never_runs() {
    // No sentinel::adjudication::init in this test binary.
    let denied = pay_global(1).unwrap_err();
    assert!(
        denied.reason().contains("no receipt client is configured"),
        "{}",
        denied.reason()
    );
    assert_eq!(GLOBAL_RUNS.load(Ordering::SeqCst), 0);
}
