//! Guard three payments, then watch the gate fail closed when the sidecar goes away.
//!
//! ```text
//! cargo run --example quickstart                                          # embedded mock sidecar
//! SENTINEL_ENDPOINT=http://localhost:4000 cargo run --example quickstart  # a real one
//! ```

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient};

/// What a payment tool returns when the money moved.
#[derive(Debug)]
struct Payment {
    amount: u64,
    to: String,
}

/// A tool of the agent. Its body runs only after the sidecar said ALLOW for exactly these
/// arguments; otherwise it returns `Err(Denied)`.
#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64, from: &str, to: &str) -> Result<Payment, Denied> {
    let _ = from;
    Ok(Payment {
        amount,
        to: to.to_owned(),
    })
}

/// The demo rules of the embedded mock: payments above 25 000 escalate, payee `acct_evil`
/// is blocked, the rest is allowed.
fn demo_sidecar() -> MockSidecar {
    MockSidecar::start(|request| {
        let amount = request.payload["amount"].as_f64().unwrap_or(0.0);
        if request.payload["to"] == "acct_evil" {
            MockAnswer::block("counterparty is on the sanctions list")
        } else if amount > 25_000.0 {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
        } else {
            MockAnswer::allow()
        }
    })
}

fn show(out: &mut impl Write, call: &str, result: Result<Payment, Denied>) -> std::io::Result<()> {
    writeln!(out, "{call}:")?;
    match result {
        Ok(payment) => writeln!(out, "  ALLOW     paid {} to {}", payment.amount, payment.to),
        Err(denied) => {
            let record = denied.record_id().unwrap_or("none (fallback)");
            writeln!(
                out,
                "  {:<9} {} [record {record}]",
                denied.verdict().as_str(),
                denied.reason()
            )
        }
    }
}

/// Runs the demo against `endpoint` (`SENTINEL_ENDPOINT`), or an embedded mock sidecar.
fn run(out: &mut impl Write, endpoint: Option<String>) -> Result<(), Box<dyn Error>> {
    let (endpoint, mock) = match endpoint {
        Some(endpoint) => {
            writeln!(
                out,
                "Talking to the sidecar at {endpoint} (SENTINEL_ENDPOINT); its fintech.payments policy decides."
            )?;
            (endpoint, None)
        }
        None => {
            let mock = demo_sidecar();
            writeln!(
                out,
                "SENTINEL_ENDPOINT is not set: talking to an embedded mock sidecar at {} (demo rules, not a real policy).",
                mock.endpoint()
            )?;
            (mock.endpoint(), Some(mock))
        }
    };
    sentinel::init(
        SentinelClient::builder(endpoint)
            .timeout(Duration::from_secs(2))
            .build()?,
    )?;

    let context = Context::new("quickstart-run")
        .with_provider("anthropic")
        .with_model("claude-sonnet-4-6")
        .with_actor("agent-007", ["ops"]);
    context.scope(|| -> std::io::Result<()> {
        show(
            out,
            "pay(100, acct_ops, vendor_42)",
            pay(100, "acct_ops", "vendor_42"),
        )?;
        show(
            out,
            "pay(42000, acct_ops, vendor_42)",
            pay(42_000, "acct_ops", "vendor_42"),
        )?;
        show(
            out,
            "pay(100, acct_ops, acct_evil)",
            pay(100, "acct_ops", "acct_evil"),
        )
    })?;

    let Some(mock) = mock else {
        writeln!(
            out,
            "(Stop your sidecar and run again to see the gate fail closed.)"
        )?;
        return Ok(());
    };
    mock.stop();
    writeln!(out, "The sidecar is gone; the gate fails closed:")?;
    context.scope(|| {
        show(
            out,
            "pay(100, acct_ops, vendor_42)",
            pay(100, "acct_ops", "vendor_42"),
        )
    })?;
    Ok(())
}

fn main() -> ExitCode {
    match run(&mut std::io::stdout(), std::env::var("SENTINEL_ENDPOINT").ok()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The error's sentence, not its Debug form.
            eprintln!("error: {e}");
            ExitCode::FAILURE
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
    fn prints_allow_escalate_block_then_fails_closed() {
        // `run` installs the global client: one test per process.
        if live::ran_in_a_child("tests::prints_allow_escalate_block_then_fails_closed") {
            return;
        }
        let mut out = Vec::new();
        super::run(&mut out, None).unwrap();
        let out = String::from_utf8(out).unwrap();
        let verdicts: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("  "))
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(verdicts, ["ALLOW", "ESCALATE", "BLOCK", "BLOCK"], "{out}");
        assert!(out.contains("failing closed [record none (fallback)]"), "{out}");
        assert_eq!(
            out.lines().filter(|l| l.contains("[record rec_")).count(),
            2,
            "{out}"
        );
    }

    #[test]
    fn a_bad_endpoint_is_reported_as_a_sentence() {
        let error = super::run(&mut Vec::new(), Some("localhost:4000".into())).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("invalid Sentinel endpoint"), "{message}");
        assert!(!message.contains("InvalidEndpoint"), "{message}");
    }

    /// Against the real sidecar: it decides, and every record id printed is one it holds,
    /// with the verdict printed beside it.
    #[test]
    #[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
    fn against_the_real_sidecar() {
        let Ok(endpoint) = std::env::var("SENTINEL_LIVE_ENDPOINT") else {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            return;
        };
        if live::ran_in_a_child("tests::against_the_real_sidecar") {
            return;
        }
        let mut out = Vec::new();
        super::run(&mut out, Some(endpoint.clone())).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(&format!("Talking to the sidecar at {endpoint}")),
            "{out}"
        );
        assert!(out.contains("  ESCALATE  "), "42000 needs dual control: {out}");
        let claims: Vec<_> = out.lines().filter_map(live::verdict_line_claim).collect();
        assert_eq!(
            claims.len(),
            2,
            "the ESCALATE and the BLOCK name their records: {out}"
        );
        live::assert_printed_records_hold(&endpoint, &out, &claims);
    }
}
