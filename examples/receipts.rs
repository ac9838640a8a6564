//! Receipts: a tool that runs only on a signed, single-use authorization bound to the very
//! arguments it runs with, and reports a signed execution receipt for the audit.
//!
//! ```text
//! cargo run --example receipts                      # against a MockSidecar
//! SENTINEL_ENDPOINT=http://127.0.0.1:4701 cargo run --example receipts
//! cargo run --release --example receipts -- cost 200   # time per call, plain guard vs receipts
//! ```
//!
//! Against a real sidecar, start it with the protocol and this example's executor key:
//! `sentinel-sidecar.sh start 4701 --protocol SENTINEL_PROTOCOL_EXECUTOR_KEYS=<printed setting>`.
//! Its issuer key is read from `SENTINEL_ISSUER_KEY` (base64), by default the key of the
//! signing seed 00 01 … 1f that the project's sidecar script uses.

use std::io::Write;
use std::time::{Duration, Instant};

use sentinel::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
use sentinel::provenance::TrustedKeys;
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Action, Context, Denied, SentinelClient};
use serde_json::json;

const DEFAULT_ISSUER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

/// The tool: the receipt is bound to `CanonicalAction` built from these arguments.
fn pay(receipts: &ReceiptClient, context: &Context, amount: u64, to: &str) -> Result<String, Denied> {
    let request = payment(context, amount, to);
    receipts.execute(&request, || {
        // The side effect goes here; it runs only on a receipt the sidecar just validated.
        Ok(format!("paid {amount} to {to}"))
    })
}

fn payment(context: &Context, amount: u64, to: &str) -> AdjudicationRequest {
    let params = json!({"amount": amount, "from": "acct_ops", "to": to});
    let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-007", params)
        .expect("a payment is a canonical action");
    AdjudicationRequest::new(action, context.clone(), "fintech.payments")
}

/// The sidecar: `SENTINEL_ENDPOINT` if set, else a mock that blocks `acct_evil` and escalates
/// large transfers.
fn sidecar(
    executor: &ExecutorKey,
) -> Result<(Option<MockSidecar>, ReceiptClient), Box<dyn std::error::Error>> {
    let (mock, endpoint, issuers) = match std::env::var("SENTINEL_ENDPOINT") {
        Ok(endpoint) => {
            let key = std::env::var("SENTINEL_ISSUER_KEY").unwrap_or_else(|_| DEFAULT_ISSUER_KEY.into());
            (None, endpoint, TrustedKeys::new().with_key_base64(&key)?)
        }
        Err(_) => {
            let mock = MockSidecar::start(|request| match request.payload["to"].as_str() {
                Some("acct_evil") => MockAnswer::block("counterparty is sanctioned"),
                _ if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 => {
                    MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
                }
                _ => MockAnswer::allow(),
            });
            mock.trust_executor(executor);
            let endpoint = mock.endpoint();
            (Some(mock), endpoint, MockSidecar::issuer_keys())
        }
    };
    let client = SentinelClient::builder(endpoint).build()?;
    Ok((mock, ReceiptClient::new(client, issuers, executor.clone())))
}

fn run(out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    // In production, load the seed from a secret store; the sidecar trusts its public half.
    let executor = ExecutorKey::from_seed([7; 32], "payments-worker");
    writeln!(
        out,
        "executor key: SENTINEL_PROTOCOL_EXECUTOR_KEYS={}",
        executor.sidecar_setting()
    )?;
    let (_mock, receipts) = sidecar(&executor)?;
    let context = Context::new("receipts-demo").with_actor("agent-007", ["ops"]);

    writeln!(out, "pay 100: {:?}", pay(&receipts, &context, 100, "vendor_42"))?;
    match pay(&receipts, &context, 100, "acct_evil") {
        Ok(done) => writeln!(out, "pay acct_evil: {done}")?,
        Err(denied) => writeln!(out, "pay acct_evil: denied: {}", denied.reason())?,
    }
    match pay(&receipts, &context, 60_000, "vendor_42") {
        Err(denied) if denied.is_escalated() => writeln!(
            out,
            "pay 60000: parked, escalation {}",
            denied.escalation_id().unwrap_or_default()
        )?,
        other => writeln!(out, "pay 60000: {other:?}")?,
    }

    // An attacker holding a receipt for one payment tries it on another, then replays it.
    let genuine = payment(&context, 100, "vendor_42");
    let adjudication = receipts.adjudicate(&genuine)?;
    if adjudication.receipt.is_none() {
        return Err("expected an ALLOW with a receipt".into());
    }
    let swapped = payment(&context, 100, "acct_attacker");
    let body = || Ok::<_, Denied>("the side effect ran");
    for (what, request) in [
        ("swapped", &swapped),
        ("genuine", &genuine),
        ("replayed", &genuine),
    ] {
        match receipts.execute_receipt(&adjudication, request, body) {
            Ok(done) => writeln!(out, "{what}: {done}")?,
            Err(denied) => writeln!(out, "{what}: denied: {}", denied.reason())?,
        }
    }

    let audit = receipts.audit()?;
    writeln!(
        out,
        "audit: valid {}, {} executions, coverage {}, {} reports pending",
        audit.valid,
        audit.executions_checked,
        audit.coverage,
        receipts.pending_reports().len()
    )?;
    Ok(())
}

/// Times `calls` plain guards and `calls` receipt-mode calls on the same sidecar.
fn cost(calls: u32, out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    let executor = ExecutorKey::from_seed([7; 32], "payments-worker");
    let (_mock, receipts) = sidecar(&executor)?;
    let context = Context::new("receipts-cost");
    let action = Action::payment(json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"}));
    let request = payment(&context, 100, "vendor_42");
    for _ in 0..calls.min(20) {
        // Warm the connections and the sidecar.
        let _ = receipts.sentinel().guard(&action, &context, "fintech.payments");
        let _: Result<(), Denied> = receipts.execute(&request, || Ok(()));
    }
    let opened = || receipts.sentinel().connections_opened().unwrap_or(0);
    let before = opened();
    let started = Instant::now();
    for _ in 0..calls {
        let decision = receipts.sentinel().guard(&action, &context, "fintech.payments");
        assert!(decision.allowed(), "{:?}", decision.reason());
    }
    let guard = started.elapsed() / calls;
    let guard_connections = opened() - before;
    let before = opened();
    let started = Instant::now();
    for _ in 0..calls {
        let result: Result<(), Denied> = receipts.execute(&request, || Ok(()));
        result?;
    }
    let receipt = started.elapsed() / calls;
    let receipt_connections = opened() - before;
    let per = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    writeln!(
        out,
        "plain guard:   1 request  per call, {} per call, {guard_connections} connections opened ({calls} calls)",
        per(guard)
    )?;
    writeln!(
        out,
        "receipt mode:  3 requests per call, {} per call, {receipt_connections} connections opened ({calls} calls)",
        per(receipt)
    )?;
    writeln!(
        out,
        "audit coverage after the run: {}",
        receipts.coverage()?.coverage
    )?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("cost") => {
            let calls = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200u32).max(1);
            cost(calls, &mut std::io::stdout())
        }
        _ => run(&mut std::io::stdout()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_only_on_valid_receipts_and_the_audit_covers_every_execution() {
        if std::env::var_os("SENTINEL_ENDPOINT").is_some() {
            println!("skipped: the example's test uses the mock; unset SENTINEL_ENDPOINT");
            return;
        }
        let mut out = Vec::new();
        super::run(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("pay 100: Ok(\"paid 100 to vendor_42\")"), "{out}");
        assert!(
            out.contains("pay acct_evil: denied: no valid receipt: adjudication returned BLOCK"),
            "{out}"
        );
        assert!(out.contains("pay 60000: parked, escalation esc_"), "{out}");
        assert!(
            out.contains("swapped: denied: no valid receipt: receipt rejected (ACTION_MISMATCH)"),
            "{out}"
        );
        assert!(out.contains("genuine: the side effect ran"), "{out}");
        assert!(
            out.contains("replayed: denied: no valid receipt: receipt rejected (REPLAY_DETECTED)"),
            "{out}"
        );
        assert!(
            out.contains("audit: valid true, 2 executions, coverage 1, 0 reports pending"),
            "{out}"
        );
    }
}
