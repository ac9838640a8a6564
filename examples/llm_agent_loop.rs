//! A guarded function as a tool of an LLM agent loop. A fake model emits tool calls as
//! JSON; the loop dispatches them to `#[guarded]` tools and feeds each result (or the
//! sidecar's refusal) back, so the model can adapt.
//!
//! ```text
//! cargo run --example llm_agent_loop
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

#[sentinel::guarded(policy = "comms.email", kind = "email.send")]
fn send_email(to: String, subject: String) -> Result<Value, Denied> {
    Ok(json!({"status": "sent", "to": to, "subject": subject}))
}

/// What the model asks for: a tool call, or a final answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ModelTurn {
    ToolCall { name: String, arguments: Value },
    Final { text: String },
}

/// A stand-in for an LLM: it reads the transcript and decides the next turn. It tries the
/// payment; when a human must sign off it asks the CFO by email, tries to tell the vendor
/// (external email is blocked), and reports that the payment is pending.
fn fake_model(transcript: &[Value]) -> ModelTurn {
    let last = transcript.last().cloned().unwrap_or(Value::Null);
    let turn = match (transcript.len(), last["error"].as_str()) {
        (1, _) => json!({"type": "tool_call", "name": "pay",
                         "arguments": {"amount": 40000, "from": "acct_ops", "to": "vendor_42"}}),
        (_, Some(error)) if error.contains("ESCALATE") => json!({"type": "tool_call", "name": "send_email",
                         "arguments": {"to": "cfo@acme.example", "subject": "Please approve: 40000 to vendor_42"}}),
        _ if last["result"]["status"] == "sent" => json!({"type": "tool_call", "name": "send_email",
                         "arguments": {"to": "billing@vendor42.example", "subject": "Your payment is on its way"}}),
        (_, Some(error)) if error.contains("BLOCK") => json!({"type": "final",
                         "text": "The payment of 40000 to vendor_42 is waiting for a human's sign-off; I asked the CFO. I may not email the vendor."}),
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
    #[derive(Deserialize)]
    struct EmailArgs {
        to: String,
        subject: String,
    }
    let outcome = match name {
        "pay" => serde_json::from_value::<PayArgs>(arguments)
            .map_err(|e| e.to_string())
            .map(|a| pay(a.amount, a.from, a.to).map_err(|d| d.to_string())),
        "send_email" => serde_json::from_value::<EmailArgs>(arguments)
            .map_err(|e| e.to_string())
            .map(|a| send_email(a.to, a.subject).map_err(|d| d.to_string())),
        other => Err(format!("unknown tool {other}")),
    };
    match outcome {
        Ok(Ok(result)) => json!({"role": "tool", "name": name, "result": result}),
        Ok(Err(refusal)) => json!({"role": "tool", "name": name, "error": refusal}),
        Err(bad_call) => json!({"role": "tool", "name": name, "error": bad_call}),
    }
}

fn run(out: &mut impl Write) -> Result<String, Box<dyn std::error::Error>> {
    let sidecar = MockSidecar::start(|request| match request.kind.as_str() {
        "payment" if request.payload["amount"].as_u64().unwrap_or(0) > 25_000 => {
            MockAnswer::escalate("transfers above 25000 require dual-control sign-off")
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
    });
    sentinel::init(SentinelClient::builder(sidecar.endpoint()).build()?)?;

    let context = Context::new("llm-loop-run")
        .with_provider("fake")
        .with_model("scripted-1");
    let mut transcript = vec![json!({"role": "user", "content": "Pay vendor_42 40000."})];
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(&mut std::io::stdout()).map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_model_adapts_to_the_gate_and_finishes() {
        let mut out = Vec::new();
        let answer = super::run(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            answer.starts_with("The payment of 40000 to vendor_42 is waiting"),
            "{out}"
        );
        assert!(
            out.contains("sentinel ESCALATE payment under fintech.payments"),
            "{out}"
        );
        assert!(out.contains(r#""status":"sent""#), "{out}");
        assert!(
            out.contains("sentinel BLOCK email.send under comms.email: external recipients"),
            "{out}"
        );
        assert!(
            !out.contains(r#""status":"paid""#),
            "the payment never ran: {out}"
        );
    }
}
