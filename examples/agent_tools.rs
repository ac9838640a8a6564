//! An async agent with two guarded tools (a payment, a health-record update) under the two
//! policy packs the reference sidecar ships (`fintech.payments`, `healthcare.record_write`),
//! one `sentinel::init` at startup, and a loop that runs the plan's tool calls.
//!
//! ```text
//! cargo run --example agent_tools                                          # embedded mock sidecar
//! SENTINEL_ENDPOINT=http://localhost:4000 cargo run --example agent_tools  # a real one
//! ```

use std::io::Write;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient, WithContextExt};

/// Errors of the agent's tools: a denial by the gate, or the tool's own failure.
#[derive(Debug)]
enum ToolError {
    Denied(Denied),
    #[allow(dead_code)]
    Failed(String),
}

impl From<Denied> for ToolError {
    fn from(denied: Denied) -> Self {
        ToolError::Denied(denied)
    }
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
async fn pay(amount: u64, from: &str, to: &str) -> Result<String, ToolError> {
    Ok(format!("paid {amount} from {from} to {to}"))
}

#[sentinel::guarded(
    policy = "healthcare.record_write",
    kind = "record_update",
    rename(patient = "patientId", clinical = "clinicalSignificant")
)]
async fn update_record(patient: &str, field: &str, value: &str, clinical: bool) -> Result<String, ToolError> {
    Ok(format!("set {field} = {value} for {patient}"))
}

/// One planned step of the agent.
enum Step {
    Pay(u64, &'static str),
    Update(&'static str, &'static str, &'static str, bool),
}

/// The embedded mock's demo rules, shaped like the reference sidecar's packs.
fn demo_sidecar() -> MockSidecar {
    MockSidecar::start(|request| match request.kind.as_str() {
        "payment" if request.payload["to"] == "acct_evil" => MockAnswer::block("counterparty is sanctioned"),
        "payment" if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 => {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
        }
        "record_update" if request.payload["clinicalSignificant"] == true => {
            MockAnswer::escalate("clinically-significant change requires clinician sign-off")
        }
        _ => MockAnswer::allow(),
    })
}

/// Runs the plan against `endpoint` (`SENTINEL_ENDPOINT`), or an embedded mock sidecar.
async fn run(out: &mut impl Write, endpoint: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let (endpoint, _mock) = match endpoint {
        Some(endpoint) => {
            writeln!(
                out,
                "Talking to the sidecar at {endpoint} (SENTINEL_ENDPOINT); its policies decide."
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
    sentinel::init(SentinelClient::builder(endpoint).build()?)?;
    writeln!(out, "agent started; every tool call is gated by the sidecar")?;

    let plan = [
        Step::Pay(1_200, "vendor_42"),
        Step::Update("p1", "allergies", "penicillin", false),
        Step::Update("p1", "dosage", "20mg", true),
        Step::Pay(100, "acct_evil"),
        Step::Pay(90_000, "vendor_42"),
    ];
    let context = Context::new("agent-tools-run")
        .with_provider("anthropic")
        .with_actor("agent-007", ["ops"]);
    for step in plan {
        let result = async {
            match step {
                Step::Pay(amount, to) => pay(amount, "acct_ops", to).await,
                Step::Update(patient, field, value, clinical) => {
                    update_record(patient, field, value, clinical).await
                }
            }
        }
        .with_context(context.clone())
        .await;
        match result {
            Ok(done) => writeln!(out, "ALLOW     {done}")?,
            Err(ToolError::Denied(denied)) => writeln!(
                out,
                "{:<9} {} [record {}]",
                denied.verdict().as_str(),
                denied.reason(),
                denied.record_id().unwrap_or("none (fallback)")
            )?,
            Err(ToolError::Failed(why)) => writeln!(out, "FAILED    {why}")?,
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(&mut std::io::stdout(), std::env::var("SENTINEL_ENDPOINT").ok()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
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

    #[tokio::test(flavor = "multi_thread")]
    async fn the_agent_runs_its_plan_through_the_gate() {
        // `run` installs the global client: one test per process.
        if live::ran_in_a_child("tests::the_agent_runs_its_plan_through_the_gate") {
            return;
        }
        let mut out = Vec::new();
        super::run(&mut out, None).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("SENTINEL_ENDPOINT is not set: talking to an embedded mock"),
            "{out}"
        );
        let lines: Vec<&str> = out.lines().skip(2).collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(lines[0].starts_with("ALLOW     paid 1200"), "{out}");
        assert!(lines[1].starts_with("ALLOW     set allergies"), "{out}");
        assert!(lines[2].starts_with("ESCALATE  clinically-significant"), "{out}");
        assert!(
            lines[3].starts_with("BLOCK     counterparty is sanctioned"),
            "{out}"
        );
        assert!(lines[4].starts_with("ESCALATE  transfers above 25000"), "{out}");
        assert!(lines[2..].iter().all(|l| l.contains("[record rec_")), "{out}");
    }

    /// Against the real sidecar: its packs decide every call (none is refused as unknown),
    /// and every record id printed is one it holds, with the verdict printed beside it.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
    async fn against_the_real_sidecar() {
        let Ok(endpoint) = std::env::var("SENTINEL_LIVE_ENDPOINT") else {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            return;
        };
        if live::ran_in_a_child("tests::against_the_real_sidecar") {
            return;
        }
        let mut out = Vec::new();
        super::run(&mut out, Some(endpoint.clone())).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(&format!("Talking to the sidecar at {endpoint}")),
            "{out}"
        );
        let lines: Vec<&str> = out.lines().skip(2).collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(
            !out.contains("fallback"),
            "every call decided by a shipped pack: {out}"
        );
        assert!(lines[0].starts_with("ALLOW     paid 1200"), "{out}");
        assert!(lines[2].starts_with("ESCALATE"), "{out}");
        assert!(lines[3].starts_with("BLOCK"), "{out}");
        assert!(lines[4].starts_with("ESCALATE"), "{out}");
        let claims: Vec<_> = lines.iter().filter_map(|l| live::verdict_line_claim(l)).collect();
        assert_eq!(claims.len(), 3, "each denial names its record: {out}");
        tokio::task::spawn_blocking(move || live::assert_printed_records_hold(&endpoint, &out, &claims))
            .await
            .unwrap();
    }
}
