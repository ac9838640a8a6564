//! An async agent with three guarded tools (a payment, a health-record update, an email),
//! one `sentinel::init` at startup, and a loop that runs the plan's tool calls.
//!
//! ```text
//! cargo run --example agent_tools
//! ```

use std::io::Write;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient, WithContextExt};
use serde::Serialize;

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

#[derive(Serialize)]
struct Patch {
    field: String,
    value: String,
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
async fn pay(amount: u64, from: &str, to: &str) -> Result<String, ToolError> {
    Ok(format!("paid {amount} from {from} to {to}"))
}

#[sentinel::guarded(
    policy = "health.records",
    kind = "record_update",
    rename(patient = "patientId")
)]
async fn update_record(patient: &str, patch: Patch) -> Result<String, ToolError> {
    Ok(format!("set {} = {} for {patient}", patch.field, patch.value))
}

#[sentinel::guarded(policy = "comms.email", kind = "email.send", skip(body))]
async fn send_email(to: &str, subject: &str, body: &str) -> Result<String, ToolError> {
    Ok(format!("sent {subject:?} to {to} ({} bytes)", body.len()))
}

/// One planned step of the agent.
enum Step {
    Pay(u64, &'static str),
    Update(&'static str, &'static str, &'static str),
    Email(&'static str, &'static str),
}

fn demo_sidecar() -> MockSidecar {
    MockSidecar::start(|request| match request.kind.as_str() {
        "payment" if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 => {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
        }
        "record_update" if request.payload["patch"]["field"] == "dosage" => {
            MockAnswer::escalate("clinically significant change requires clinician sign-off")
        }
        "email.send"
            if !request.payload["to"]
                .as_str()
                .unwrap_or("")
                .ends_with("@acme.example") =>
        {
            MockAnswer::block("external recipients are not allowed")
        }
        _ => MockAnswer::allow(),
    })
}

async fn run(out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    let mock = match std::env::var("SENTINEL_ENDPOINT") {
        Ok(_) => None,
        Err(_) => Some(demo_sidecar()),
    };
    let endpoint = match &mock {
        Some(mock) => mock.endpoint(),
        None => std::env::var("SENTINEL_ENDPOINT")?,
    };
    sentinel::init(SentinelClient::builder(endpoint).build()?)?;
    writeln!(out, "agent started; every tool call is gated by the sidecar")?;

    let plan = [
        Step::Pay(1_200, "vendor_42"),
        Step::Update("p1", "allergies", "penicillin"),
        Step::Update("p1", "dosage", "20mg"),
        Step::Email("cfo@acme.example", "Q3 payments"),
        Step::Email("someone@elsewhere.example", "our ledger"),
        Step::Pay(90_000, "vendor_42"),
    ];
    let context = Context::new("agent-tools-run")
        .with_provider("anthropic")
        .with_actor("agent-007", ["ops"]);
    for step in plan {
        let result = async {
            match step {
                Step::Pay(amount, to) => pay(amount, "acct_ops", to).await,
                Step::Update(patient, field, value) => {
                    update_record(
                        patient,
                        Patch {
                            field: field.into(),
                            value: value.into(),
                        },
                    )
                    .await
                }
                Step::Email(to, subject) => send_email(to, subject, "numbers attached").await,
            }
        }
        .with_context(context.clone())
        .await;
        match result {
            Ok(done) => writeln!(out, "ALLOW     {done}")?,
            Err(ToolError::Denied(denied)) => {
                writeln!(out, "{:<9} {}", denied.verdict().as_str(), denied.reason())?
            }
            Err(ToolError::Failed(why)) => writeln!(out, "FAILED    {why}")?,
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&mut std::io::stdout()).await
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread")]
    async fn the_agent_runs_its_plan_through_the_gate() {
        let mut out = Vec::new();
        super::run(&mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().skip(1).collect();
        assert_eq!(lines.len(), 6, "{out}");
        assert!(lines[0].starts_with("ALLOW     paid 1200"), "{out}");
        assert!(lines[1].starts_with("ALLOW     set allergies"), "{out}");
        assert!(lines[2].starts_with("ESCALATE"), "{out}");
        assert!(lines[3].starts_with("ALLOW     sent"), "{out}");
        assert!(lines[4].starts_with("BLOCK     external recipients"), "{out}");
        assert!(lines[5].starts_with("ESCALATE  transfers above 25000"), "{out}");
    }
}
