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

use sentinel::adjudication::{
    AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient, ReceiptError,
};
use sentinel::provenance::TrustedKeys;
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Action, Context, Denied, SentinelClient, SidecarError};
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

/// The sidecar: `endpoint` (`SENTINEL_ENDPOINT`) if set, else a mock that blocks `acct_evil`
/// and escalates large transfers.
fn sidecar(
    executor: &ExecutorKey,
    endpoint: Option<String>,
) -> Result<(Option<MockSidecar>, ReceiptClient), Box<dyn std::error::Error>> {
    let (mock, endpoint, issuers) = match endpoint {
        Some(endpoint) => {
            let key = std::env::var("SENTINEL_ISSUER_KEY").unwrap_or_else(|_| DEFAULT_ISSUER_KEY.into());
            (None, endpoint, TrustedKeys::new().with_key_base64(&key)?)
        }
        None => {
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

/// What a real sidecar needs for this example: the adjudication protocol, and this example's
/// executor key among those it trusts.
fn needs(executor: &ExecutorKey) -> String {
    format!(
        "start the sidecar with --protocol and SENTINEL_PROTOCOL_EXECUTOR_KEYS={} \
         (the project's script: sentinel-sidecar.sh start 4701 --protocol SENTINEL_PROTOCOL_EXECUTOR_KEYS=…)",
        executor.sidecar_setting()
    )
}

fn run(out: &mut impl Write, endpoint: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    // In production, load the seed from a secret store; the sidecar trusts its public half.
    let executor = ExecutorKey::from_seed([7; 32], "payments-worker");
    match &endpoint {
        Some(endpoint) => writeln!(
            out,
            "Talking to the sidecar at {endpoint} (SENTINEL_ENDPOINT); receipt mode needs its \
             adjudication protocol and this executor key: {}.",
            needs(&executor)
        )?,
        None => writeln!(
            out,
            "SENTINEL_ENDPOINT is not set: talking to an embedded mock sidecar (demo rules, not a real policy)."
        )?,
    }
    let (_mock, receipts) = sidecar(&executor, endpoint)?;
    let context = Context::new("receipts-demo").with_actor("agent-007", ["ops"]);

    // A sidecar without the protocol answers 404 to the first adjudication: say what it needs.
    if let Err(ReceiptError::Sidecar(why @ SidecarError::NotFound(_))) =
        receipts.adjudicate(&payment(&context, 1, "vendor_42"))
    {
        return Err(format!(
            "this sidecar does not speak the adjudication protocol ({why}): {}",
            needs(&executor)
        )
        .into());
    }

    match pay(&receipts, &context, 100, "vendor_42") {
        Ok(done) => writeln!(out, "pay 100: {done}")?,
        Err(denied) => writeln!(out, "pay 100: denied: {denied}")?,
    }
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
        Ok(done) => writeln!(out, "pay 60000: {done}")?,
        Err(denied) => writeln!(out, "pay 60000: denied: {denied}")?,
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
    let pending = receipts.pending_reports().len();
    writeln!(
        out,
        "audit: valid {}, {} executions, coverage {}, {pending} reports pending",
        audit.valid, audit.executions_checked, audit.coverage,
    )?;
    if pending > 0 {
        writeln!(
            out,
            "{pending} execution reports were refused: the sidecar does not trust this executor key; {}",
            needs(&executor)
        )?;
    }
    Ok(())
}

/// Times `calls` plain guards and `calls` receipt-mode calls on the same sidecar.
fn cost(calls: u32, out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    let executor = ExecutorKey::from_seed([7; 32], "payments-worker");
    let (_mock, receipts) = sidecar(&executor, std::env::var("SENTINEL_ENDPOINT").ok())?;
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

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("cost") => {
            let calls = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200u32).max(1);
            cost(calls, &mut std::io::stdout())
        }
        _ => run(&mut std::io::stdout(), std::env::var("SENTINEL_ENDPOINT").ok()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The error's sentence, not its Debug form.
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Each example uses part of it.
#[cfg(test)]
#[allow(dead_code)]
#[path = "support/live.rs"]
mod live;

#[cfg(test)]
mod tests {
    use super::live;

    #[test]
    fn runs_only_on_valid_receipts_and_the_audit_covers_every_execution() {
        let mut out = Vec::new();
        super::run(&mut out, None).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("SENTINEL_ENDPOINT is not set: talking to an embedded mock"),
            "{out}"
        );
        assert!(out.contains("pay 100: paid 100 to vendor_42"), "{out}");
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
            out.contains("replayed: denied: the decision record rec_")
                && out.contains("already backed an execution"),
            "{out}"
        );
        assert!(
            out.contains("audit: valid true, 2 executions, coverage 1, 0 reports pending"),
            "{out}"
        );
    }

    /// A real sidecar of this test's own (`SENTINEL_SIDECAR_SCRIPT`), started with `args`;
    /// stopped when dropped.
    struct OwnSidecar {
        script: String,
        pid: String,
        endpoint: String,
    }

    impl OwnSidecar {
        fn start(args: &[String]) -> Option<OwnSidecar> {
            let Ok(script) = std::env::var("SENTINEL_SIDECAR_SCRIPT") else {
                println!("skipped: SENTINEL_SIDECAR_SCRIPT not set");
                return None;
            };
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let output = std::process::Command::new(&script)
                .arg("start")
                .arg(port.to_string())
                .args(args)
                .output()
                .expect("run the sidecar script");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let pid = String::from_utf8_lossy(&output.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned();
            Some(OwnSidecar {
                script,
                pid,
                endpoint: format!("http://127.0.0.1:{port}"),
            })
        }
    }

    impl Drop for OwnSidecar {
        fn drop(&mut self) {
            let _ = std::process::Command::new(&self.script)
                .arg("stop")
                .arg(&self.pid)
                .status();
        }
    }

    /// Against a real `--protocol` sidecar trusting the example's executor key: the same
    /// story, every execution reported and audited, and the records it names are the
    /// sidecar's, with the verdict the story gives them.
    #[test]
    #[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
    fn against_a_real_protocol_sidecar() {
        let executor = sentinel::adjudication::ExecutorKey::from_seed([7; 32], "payments-worker");
        let Some(sidecar) = OwnSidecar::start(&[
            "--protocol".into(),
            format!("SENTINEL_PROTOCOL_EXECUTOR_KEYS={}", executor.sidecar_setting()),
        ]) else {
            return;
        };
        let mut out = Vec::new();
        super::run(&mut out, Some(sidecar.endpoint.clone())).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(&format!("Talking to the sidecar at {}", sidecar.endpoint)),
            "{out}"
        );
        assert!(out.contains("pay 100: paid 100 to vendor_42"), "{out}");
        assert!(out.contains("pay 60000: parked, escalation esc_"), "{out}");
        assert!(out.contains("swapped: denied: no valid receipt"), "{out}");
        assert!(out.contains("genuine: the side effect ran"), "{out}");
        assert!(out.contains("replayed: denied: "), "{out}");
        assert!(
            out.contains("audit: valid true, 2 executions, coverage 1, 0 reports pending"),
            "{out}"
        );
        // The record it names is the decision the replayed receipt was issued on: an ALLOW.
        for line in out.lines().filter(|line| line.contains("rec_")) {
            assert!(line.contains("the decision record rec_"), "{line}");
        }
        let claims: Vec<_> = live::record_ids(&out)
            .into_iter()
            .map(|id| (id, sentinel::Verdict::Allow))
            .collect();
        live::assert_printed_records_hold(&sidecar.endpoint, &out, &claims);
    }

    /// A sidecar without the protocol: the example says what it needs, as a sentence.
    #[test]
    #[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
    fn a_sidecar_without_the_protocol_is_told_what_it_needs() {
        let Ok(endpoint) = std::env::var("SENTINEL_LIVE_ENDPOINT") else {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            return;
        };
        let error = super::run(&mut Vec::new(), Some(endpoint))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("this sidecar does not speak the adjudication protocol"),
            "{error}"
        );
        assert!(
            error.contains("--protocol") && error.contains("SENTINEL_PROTOCOL_EXECUTOR_KEYS="),
            "{error}"
        );
    }
}
