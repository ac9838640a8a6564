//! Guard three payments, then watch the gate fail closed when the sidecar goes away.
//!
//! ```text
//! cargo run --example quickstart                                   # embedded mock sidecar
//! SENTINEL_ENDPOINT=http://localhost:4000 cargo run --example quickstart   # a real one
//! ```

use std::error::Error;
use std::time::Duration;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient};

/// What a payment tool returns when the money moved.
#[derive(Debug)]
struct Receipt {
    amount: u64,
    to: String,
}

/// A tool of the agent. Its body runs only after the sidecar said ALLOW for exactly these
/// arguments; otherwise it returns `Err(Denied)`.
#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, Denied> {
    let _ = from;
    Ok(Receipt {
        amount,
        to: to.to_owned(),
    })
}

/// The demo rules of the embedded mock: payments above 25 000 escalate, payee `acct_evil`
/// is blocked, the rest is allowed.
fn demo_rules() -> MockSidecar {
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

fn show(result: Result<Receipt, Denied>) {
    match result {
        Ok(receipt) => println!("  ALLOW     paid {} to {}", receipt.amount, receipt.to),
        Err(denied) => {
            let record = if denied.is_fallback() {
                "none (fallback)"
            } else {
                denied.record_id()
            };
            println!(
                "  {:<9} {} [record {record}]",
                denied.verdict().as_str(),
                denied.reason()
            );
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let (endpoint, mock) = match std::env::var("SENTINEL_ENDPOINT") {
        Ok(endpoint) => {
            println!("Using the sidecar at {endpoint} (SENTINEL_ENDPOINT).");
            (endpoint, None)
        }
        Err(_) => {
            let mock = demo_rules();
            println!(
                "SENTINEL_ENDPOINT is not set: using an embedded mock sidecar at {}.",
                mock.endpoint()
            );
            (mock.endpoint(), Some(mock))
        }
    };
    sentinel::init(
        SentinelClient::builder(endpoint)
            .timeout(Duration::from_secs(2))
            .build()?,
    )?;

    let context = Context::new("quickstart-run")
        .provider("anthropic")
        .model("claude-sonnet-4-6")
        .actor("agent-007", ["ops"]);
    context.scope(|| {
        println!("pay(100, acct_ops, vendor_42):");
        show(pay(100, "acct_ops", "vendor_42"));
        println!("pay(42000, acct_ops, vendor_42):");
        show(pay(42_000, "acct_ops", "vendor_42"));
        println!("pay(100, acct_ops, acct_evil):");
        show(pay(100, "acct_ops", "acct_evil"));
    });

    if let Some(mock) = mock {
        mock.stop();
        println!("The sidecar is gone; the gate fails closed:");
        println!("pay(100, acct_ops, vendor_42):");
        context.scope(|| show(pay(100, "acct_ops", "vendor_42")));
    }
    Ok(())
}
