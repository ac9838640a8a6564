//! How to test your own guarded tools: point them at a `sentinel::testing::MockSidecar`
//! (a real loopback sidecar answering from your rule) and assert on what it received and
//! on whether the body ran.
//!
//! ```text
//! cargo run --example testing        # runs the checks below and prints what they saw
//! cargo test --example testing       # the same, as #[test]s
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient, Verdict};

/// The tool under test: refunds a customer. `client = …` lets each test bring its own
/// sidecar; production code would rather use the global client from `sentinel::init`.
#[sentinel::guarded(policy = "fintech.refunds", kind = "refund", client = client, skip(ledger))]
fn refund(client: &SentinelClient, ledger: &AtomicUsize, customer: &str, cents: u64) -> Result<u64, Denied> {
    ledger.fetch_add(1, Ordering::SeqCst);
    Ok(cents)
}

/// A sidecar that refuses refunds over 100 dollars.
fn sidecar() -> MockSidecar {
    MockSidecar::start(|request| {
        if request.payload["cents"].as_u64().unwrap_or(u64::MAX) > 10_000 {
            MockAnswer::block("refunds above 100 USD need a supervisor")
        } else {
            MockAnswer::allow()
        }
    })
}

/// An allowed refund runs once and the sidecar saw exactly its arguments.
fn allowed_refund_runs_once() -> Result<String, String> {
    let sidecar = sidecar();
    let client = SentinelClient::builder(sidecar.endpoint())
        .build()
        .map_err(|e| e.to_string())?;
    let ledger = AtomicUsize::new(0);
    let refunded = Context::new("test-run").scope(|| refund(&client, &ledger, "cus_1", 2_500));
    check(refunded == Ok(2_500), "the refund is allowed")?;
    check(ledger.load(Ordering::SeqCst) == 1, "the body ran once")?;
    let requests = sidecar.requests();
    check(requests.len() == 1, "one guard request")?;
    check(
        requests[0].payload == serde_json::json!({"customer": "cus_1", "cents": 2500}),
        "the payload holds the arguments by name, `ledger` skipped",
    )?;
    check(
        requests[0].kind == "refund" && requests[0].policy == "fintech.refunds",
        "kind and policy",
    )?;
    check(requests[0].run_id == "test-run", "the scoped context's run id")?;
    Ok("allowed refund: body ran once, sidecar saw {customer, cents}".into())
}

/// A blocked refund never runs its body, and the error says why.
fn blocked_refund_never_runs() -> Result<String, String> {
    let sidecar = sidecar();
    let client = SentinelClient::builder(sidecar.endpoint())
        .build()
        .map_err(|e| e.to_string())?;
    let ledger = AtomicUsize::new(0);
    let denied = refund(&client, &ledger, "cus_2", 50_000)
        .err()
        .ok_or("expected a denial")?;
    check(denied.verdict() == Verdict::Block, "BLOCK")?;
    check(
        denied.reason() == "refunds above 100 USD need a supervisor",
        "the sidecar's reason",
    )?;
    check(ledger.load(Ordering::SeqCst) == 0, "the body never ran")?;
    Ok(format!("blocked refund: body never ran ({denied})"))
}

/// With the sidecar gone, the tool fails closed.
fn sidecar_down_fails_closed() -> Result<String, String> {
    let sidecar = sidecar();
    let client = SentinelClient::builder(sidecar.endpoint())
        .build()
        .map_err(|e| e.to_string())?;
    drop(sidecar);
    let ledger = AtomicUsize::new(0);
    let denied = refund(&client, &ledger, "cus_3", 100)
        .err()
        .ok_or("expected a denial")?;
    check(
        denied.is_fallback() && denied.record_id().is_none(),
        "a client-side fallback",
    )?;
    check(ledger.load(Ordering::SeqCst) == 0, "the body never ran")?;
    Ok("sidecar down: denied as a fallback, body never ran".into())
}

fn check(condition: bool, what: &str) -> Result<(), String> {
    condition
        .then_some(())
        .ok_or_else(|| format!("check failed: {what}"))
}

fn main() -> std::process::ExitCode {
    println!(
        "Testing tools against an embedded MockSidecar: this example never talks to a real sidecar \
         (SENTINEL_ENDPOINT is not used), and its policy `fintech.refunds` is a name only the \
         mock answers (the reference sidecar ships fintech.payments and healthcare.record_write)."
    );
    for test in [
        allowed_refund_runs_once,
        blocked_refund_never_runs,
        sidecar_down_fails_closed,
    ] {
        match test() {
            Ok(what) => println!("ok  {what}"),
            Err(why) => {
                eprintln!("error: {why}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #[test]
    fn allowed_refund_runs_once() {
        super::allowed_refund_runs_once().unwrap();
    }

    #[test]
    fn blocked_refund_never_runs() {
        super::blocked_refund_never_runs().unwrap();
    }

    #[test]
    fn sidecar_down_fails_closed() {
        super::sidecar_down_fails_closed().unwrap();
    }
}
