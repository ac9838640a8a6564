//! A guarded function as a tool of an LLM agent loop. A fake model emits tool calls as
//! JSON; the loop dispatches them to `#[guarded]` tools and feeds each result (or the
//! sidecar's refusal) back, so the model can adapt.
//!
//! ```text
//! cargo run --example llm_agent_loop                                          # embedded mock sidecar
//! SENTINEL_ENDPOINT=http://localhost:4000 cargo run --example llm_agent_loop  # a real one
//! ```

use std::io::Write;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient};
use serde::Deserialize;
use serde_json::{json, Value};

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64, from: String, to: String) -> Result<Value, Denied> {
    Ok(json!({"status": "paid", "amount": amount, "to": to, "from": from}))
}

/// What the model asks for: a tool call, or a final answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ModelTurn {
    ToolCall { name: String, arguments: Value },
    Final { text: String },
}

/// A stand-in for an LLM: it reads the transcript and decides the next turn. It tries the
/// large payment; when a human must sign off it moves on to the small invoice, whose payee is
/// sanctioned (blocked), and reports both.
fn fake_model(transcript: &[Value]) -> ModelTurn {
    let last = transcript.last().cloned().unwrap_or(Value::Null);
    let turn = match (transcript.len(), last["error"].as_str()) {
        (1, _) => json!({"type": "tool_call", "name": "pay",
                         "arguments": {"amount": 40000, "from": "acct_ops", "to": "vendor_42"}}),
        (2, Some(error)) if error.contains("ESCALATE") => json!({"type": "tool_call", "name": "pay",
                         "arguments": {"amount": 500, "from": "acct_ops", "to": "acct_evil"}}),
        (3, Some(error)) if error.contains("BLOCK") => json!({"type": "final",
                         "text": "The payment of 40000 to vendor_42 is waiting for a human's sign-off. I may not pay acct_evil."}),
        _ => json!({"type": "final", "text": "I am not sure what happened."}),
    };
    serde_json::from_value(turn).unwrap_or(ModelTurn::Final {
        text: "I am confused".into(),
    })
}

/// Runs one tool call: arguments are deserialized, then the guarded function decides.
fn dispatch(name: &str, arguments: Value) -> Value {
    #[derive(Deserialize)]
    struct PayArgs {
        amount: u64,
        from: String,
        to: String,
    }
    let outcome = match name {
        "pay" => serde_json::from_value::<PayArgs>(arguments)
            .map_err(|e| e.to_string())
            .map(|a| pay(a.amount, a.from, a.to)),
        other => Err(format!("unknown tool {other}")),
    };
    match outcome {
        Ok(Ok(result)) => json!({"role": "tool", "name": name, "result": result}),
        // The denial's sentence for the model, and its signed record for the audit trail.
        Ok(Err(denied)) => {
            json!({"role": "tool", "name": name, "error": denied.to_string(), "record": denied.record_id()})
        }
        Err(bad_call) => json!({"role": "tool", "name": name, "error": bad_call}),
    }
}

/// The embedded mock's demo rules, shaped like the reference sidecar's `fintech.payments`.
fn demo_sidecar() -> MockSidecar {
    MockSidecar::start(|request| {
        if request.payload["to"] == "acct_evil" {
            MockAnswer::block("counterparty is sanctioned")
        } else if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
        } else {
            MockAnswer::allow()
        }
    })
}

/// Runs the loop against `endpoint` (`SENTINEL_ENDPOINT`), or an embedded mock sidecar.
fn run(out: &mut impl Write, endpoint: Option<String>) -> Result<String, Box<dyn std::error::Error>> {
    let (endpoint, _mock) = match endpoint {
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
    sentinel::init(SentinelClient::builder(endpoint).build()?)?;
    let context = Context::new("llm-loop-run")
        .with_provider("fake")
        .with_model("scripted-1");
    let mut transcript =
        vec![json!({"role": "user", "content": "Pay vendor_42 40000 and acct_evil's invoice of 500."})];
    // A bounded loop: an agent that never finishes must not run forever.
    for _ in 0..8 {
        match fake_model(&transcript) {
            ModelTurn::Final { text } => {
                writeln!(out, "model: {text}")?;
                return Ok(text);
            }
            ModelTurn::ToolCall { name, arguments } => {
                writeln!(out, "model calls {name}({arguments})")?;
                let result = context.scope(|| dispatch(&name, arguments));
                writeln!(out, "  -> {result}")?;
                transcript.push(result);
            }
        }
    }
    Err("the model did not finish in 8 turns".into())
}

fn main() -> std::process::ExitCode {
    match run(&mut std::io::stdout(), std::env::var("SENTINEL_ENDPOINT").ok()) {
        Ok(_) => std::process::ExitCode::SUCCESS,
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

    fn check(out: &str, answer: &str) {
        assert!(
            answer.starts_with("The payment of 40000 to vendor_42 is waiting"),
            "{out}"
        );
        assert!(
            out.contains("sentinel ESCALATE payment under fintech.payments"),
            "{out}"
        );
        assert!(
            out.contains("sentinel BLOCK payment under fintech.payments: counterparty is sanctioned"),
            "{out}"
        );
        assert!(!out.contains(r#""status":"paid""#), "no payment ran: {out}");
    }

    #[test]
    fn the_model_adapts_to_the_gate_and_finishes() {
        // `run` installs the global client: one test per process.
        if live::ran_in_a_child("tests::the_model_adapts_to_the_gate_and_finishes") {
            return;
        }
        let mut out = Vec::new();
        let answer = super::run(&mut out, None).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("SENTINEL_ENDPOINT is not set: talking to an embedded mock"),
            "{out}"
        );
        check(&out, &answer);
    }

    /// Against the real sidecar: the same turns; the refusals the model reads name records
    /// the sidecar holds, with the verdict the refusal states.
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
        let answer = super::run(&mut out, Some(endpoint.clone())).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with(&format!("Talking to the sidecar at {endpoint}")),
            "{out}"
        );
        check(&out, &answer);
        // Each tool result the model reads: `-> {"error": "sentinel BLOCK …", "record": "rec_…", …}`.
        let claims: Vec<_> = out
            .lines()
            .filter_map(|line| line.trim().strip_prefix("-> "))
            .filter_map(|result| serde_json::from_str::<serde_json::Value>(result).ok())
            .filter_map(|result| {
                let verdict = result["error"]
                    .as_str()?
                    .strip_prefix("sentinel ")?
                    .split(' ')
                    .next()?;
                Some((
                    result["record"].as_str()?.to_owned(),
                    sentinel::Verdict::from_wire(verdict)?,
                ))
            })
            .collect();
        assert_eq!(claims.len(), 2, "{out}");
        live::assert_printed_records_hold(&endpoint, &out, &claims);
    }
}
