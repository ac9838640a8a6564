//! Live: a guarded rmcp tool and a guarded rig tool against the real sidecar
//! (`SENTINEL_LIVE_ENDPOINT`, e.g. http://127.0.0.1:4500, default configuration), its real
//! `fintech.payments` policy: a payment within limits is allowed and runs, one above the
//! balance is blocked, one above the dual-control threshold is escalated; the model reads
//! each denial as a failed tool result.
//!
//! ```text
//! SENTINEL_LIVE_ENDPOINT=http://127.0.0.1:4500 cargo test -p sentinel-tests --all-features --test live_frameworks
//! ```
#![cfg(all(feature = "rmcp", feature = "rig"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rig_core::effect::{EffectKind, Outcome};
use rig_core::serve::adapters::ToolAdapter;
use rig_core::serve::{serve_inline, ErasedHandler};
use rig_core::tool::{Tool, ToolContext, ToolExecutionError, ToolResult};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::{tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use sentinel::{Denied, Resolution, ReviewStatus, SentinelClient};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The real sidecar, or `None` after printing that the test is skipped.
fn live_client() -> Option<SentinelClient> {
    match std::env::var("SENTINEL_LIVE_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(SentinelClient::builder(endpoint).build().unwrap()),
        _ => {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            None
        }
    }
}

/// A payment exactly as the real `fintech.payments` schema wants it (no other members).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct Payment {
    amount: u64,
    from: String,
    to: String,
}

// The default sidecar's ledger holds 250000 in every account; above 25000 needs two people.
const ALLOWED: u64 = 4_200;
const ESCALATED: u64 = 50_000;
const BLOCKED: u64 = 300_000;

fn payment(amount: u64) -> serde_json::Value {
    json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"})
}

/// What the model reads for each of the three payments, checked the same way for both
/// frameworks: `(is_error, text)` per amount, in the order allowed, blocked, escalated.
fn check_transcript(client: &SentinelClient, seen: &[(bool, String)], ran: usize) {
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0],
        (false, format!("paid {ALLOWED} from acct_ops to vendor_42"))
    );
    assert_eq!(
        seen[1],
        (
            true,
            "BLOCK: payment under policy fintech.payments was not carried out. \
             Reason: insufficient funds: amount exceeds available balance"
                .to_owned()
        )
    );
    let (is_error, text) = &seen[2];
    assert!(is_error);
    let prefix = "ESCALATE: payment under policy fintech.payments was not carried out; \
                  it awaits human approval (escalation ";
    let suffix = "). Reason: transfers above 25000 require dual-control sign-off";
    assert!(text.starts_with(prefix) && text.ends_with(suffix), "{text}");
    assert_eq!(ran, 1, "only the allowed payment ran");
    // The id is the real sidecar's, pending; deny it so nothing is left waiting.
    let id = &text[prefix.len()..text.len() - suffix.len()];
    assert_eq!(client.escalation_status(id).unwrap(), ReviewStatus::Pending);
    let _ = client.resolve(id, Resolution::Deny, "treasury_ops");
}

#[derive(Clone)]
struct McpPayments {
    sentinel: SentinelClient,
    ran: Arc<AtomicUsize>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl McpPayments {
    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = self.sentinel, payload = payment)]
    #[tool(description = "Pay a vendor")]
    async fn pay(&self, Parameters(payment): Parameters<Payment>) -> Result<String, Denied> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        Ok(format!(
            "paid {} from {} to {}",
            payment.amount, payment.from, payment.to
        ))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpPayments {}

fn text_of(result: &CallToolResult) -> String {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect();
    texts.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
async fn rmcp_tool_against_the_real_sidecar() {
    let Some(sentinel) = live_client() else { return };
    let ran = Arc::new(AtomicUsize::new(0));
    let server = McpPayments {
        sentinel: sentinel.clone(),
        ran: ran.clone(),
        tool_router: McpPayments::tool_router(),
    };
    let (server_end, client_end) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_end).await.unwrap();
    let mut seen = Vec::new();
    for amount in [ALLOWED, BLOCKED, ESCALATED] {
        let serde_json::Value::Object(arguments) = payment(amount) else {
            unreachable!()
        };
        let result = client
            .call_tool(CallToolRequestParams::new("pay").with_arguments(arguments))
            .await
            .unwrap();
        seen.push((result.is_error == Some(true), text_of(&result)));
        // What the model reads, for `--nocapture`.
        println!(
            "pay {amount}: isError {:?}, text {:?}",
            result.is_error,
            text_of(&result)
        );
    }
    client.cancel().await.unwrap();
    server.await.unwrap();
    tokio::task::spawn_blocking(move || check_transcript(&sentinel, &seen, ran.load(Ordering::SeqCst)))
        .await
        .unwrap();
}

struct RigPay {
    sentinel: SentinelClient,
    ran: Arc<AtomicUsize>,
}

impl Tool for RigPay {
    const NAME: &'static str = "pay";
    type Args = Payment;
    type Output = String;
    type Error = ToolExecutionError;

    fn description(&self) -> String {
        "Pay a vendor".to_owned()
    }

    fn parameters(&self) -> serde_json::Value {
        json!({"type": "object"})
    }

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = self.sentinel, skip(_context), payload = args)]
    async fn call(&self, _context: &mut ToolContext, args: Payment) -> Result<String, ToolExecutionError> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        Ok(format!("paid {} from {} to {}", args.amount, args.from, args.to))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
async fn rig_tool_against_the_real_sidecar() {
    let Some(sentinel) = live_client() else { return };
    let ran = Arc::new(AtomicUsize::new(0));
    let handler = ErasedHandler::new(ToolAdapter::new(RigPay {
        sentinel: sentinel.clone(),
        ran: ran.clone(),
    }));
    let mut seen = Vec::new();
    for amount in [ALLOWED, BLOCKED, ESCALATED] {
        let call = EffectKind::ToolCall {
            name: "pay".to_owned(),
            args: payment(amount).to_string(),
        };
        let Ok(Outcome::ToolResult { result }) = serve_inline(&handler, call).await else {
            panic!("rig did not answer with a tool result");
        };
        let result: ToolResult = result;
        let text = result.output().as_text().unwrap_or_default().to_owned();
        seen.push((!result.is_success(), text));
    }
    tokio::task::spawn_blocking(move || check_transcript(&sentinel, &seen, ran.load(Ordering::SeqCst)))
        .await
        .unwrap();
}
