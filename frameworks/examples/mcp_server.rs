//! An MCP server (rmcp) with guarded tools, driven end to end by rmcp's own client over an
//! in-process transport against a mock sidecar: an `ALLOW` runs the tool; a `BLOCK` or an
//! `ESCALATE` reaches the model as a tool result with `isError: true` whose text names the
//! verdict and the sidecar's reason, and the tool's body never runs.
//!
//! ```text
//! cargo run -p sentinel-framework-examples --example mcp_server # prints what the model sees
//! cargo test -p sentinel-framework-examples --example mcp_server # the same, as #[test]s
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, IntoContents};
use rmcp::service::{RoleClient, RunningService};
use rmcp::{tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use schemars::JsonSchema;
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Denied, SentinelClient};
use serde::{Deserialize, Serialize};

/// The arguments of `pay`, as the model sends them. They are also what the sidecar judges.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct PayRequest {
    /// Amount in cents.
    amount: u64,
    /// The account paid from (the sidecar's payment schema requires it).
    #[serde(default = "operations_account")]
    from: String,
    /// The vendor's account.
    to: String,
}

fn operations_account() -> String {
    "acct_ops".to_owned()
}

/// The arguments of `send_email`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct EmailRequest {
    to: String,
    subject: String,
}

/// A tool's own failure next to a denial: both reach the model as an error result.
#[derive(Debug)]
enum EmailError {
    Denied(Denied),
    #[allow(dead_code)]
    Smtp(String),
}

impl From<Denied> for EmailError {
    fn from(denied: Denied) -> Self {
        EmailError::Denied(denied)
    }
}

// rmcp shows the model `Err(e)` as an `isError: true` result when `e` converts into content;
// `Denied` does (feature `rmcp`).
impl IntoContents for EmailError {
    fn into_contents(self) -> Vec<ContentBlock> {
        match self {
            EmailError::Denied(denied) => denied.into_contents(),
            EmailError::Smtp(error) => vec![ContentBlock::text(format!("the mail server failed: {error}"))],
        }
    }
}

/// The MCP server. Production code would use the global client (`sentinel::init`) and drop
/// the `client = …` options; each test here brings its own sidecar.
#[derive(Clone)]
struct Payments {
    sentinel: SentinelClient,
    /// How many times a tool's body ran.
    ran: Arc<AtomicUsize>,
    tool_router: ToolRouter<Self>,
}

// `#[sentinel::guarded]` goes above `#[tool]`: it must see the `async fn` as written.
#[tool_router]
impl Payments {
    /// Pays a vendor. Runs only on ALLOW.
    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = self.sentinel, payload = req)]
    #[tool(description = "Pay a vendor an amount in cents")]
    async fn pay(&self, Parameters(req): Parameters<PayRequest>) -> Result<String, Denied> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        Ok(format!("paid {} cents to {}", req.amount, req.to))
    }

    /// Sends an email. Runs only on ALLOW.
    #[sentinel::guarded(policy = "comms.email", kind = "email.send", client = self.sentinel, payload = email)]
    #[tool(description = "Send an email")]
    async fn send_email(&self, Parameters(email): Parameters<EmailRequest>) -> Result<String, EmailError> {
        self.ran.fetch_add(1, Ordering::SeqCst);
        Ok(format!("sent {:?} to {}", email.subject, email.to))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Payments {}

/// The demo policies: payments above 10 000 cents are blocked, payments to new vendors
/// wait for a human, email outside the company is blocked.
fn demo_sidecar() -> MockSidecar {
    MockSidecar::start(|request| {
        let args = &request.payload;
        match request.kind.as_str() {
            "payment" if args["amount"].as_u64().unwrap_or(u64::MAX) > 10_000 => {
                MockAnswer::block("amount above the 10000-cent limit for agent payments")
            }
            "payment" if args["to"].as_str().unwrap_or_default().starts_with("new_") => {
                MockAnswer::escalate("first payment to a new vendor")
            }
            "email.send" if !args["to"].as_str().unwrap_or_default().ends_with("@acme.example") => {
                MockAnswer::block("external recipient")
            }
            _ => MockAnswer::allow(),
        }
    })
}

/// An MCP client connected to a fresh `Payments` server through an in-process pipe: the
/// JSON-RPC messages are the ones a real transport carries.
async fn connect(
    sentinel: SentinelClient,
    ran: Arc<AtomicUsize>,
) -> Result<RunningService<RoleClient, ()>, Box<dyn std::error::Error>> {
    let (server_end, client_end) = tokio::io::duplex(64 * 1024);
    let server = Payments {
        sentinel,
        ran,
        tool_router: Payments::tool_router(),
    };
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    Ok(().serve(client_end).await?)
}

/// Calls `tool` with `arguments` the way a model's host does.
async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &'static str,
    arguments: serde_json::Value,
) -> Result<CallToolResult, Box<dyn std::error::Error>> {
    let serde_json::Value::Object(arguments) = arguments else {
        return Err("tool arguments must be a JSON object".into());
    };
    Ok(client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
        .await?)
}

/// The text a model reads from a tool result.
fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|text| text.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Three payments as a model would ask for them: what it reads back, one line each.
/// The sidecar: `endpoint` (`SENTINEL_ENDPOINT`), or an embedded mock with the demo rules.
/// The first line says which.
async fn run(endpoint: Option<String>) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let (endpoint, _sidecar, first) = match endpoint {
        Some(endpoint) => {
            let first = format!("Talking to the sidecar at {endpoint} (SENTINEL_ENDPOINT); its fintech.payments policy decides (the send_email tool's policy, comms.email, is a demo name the reference sidecar does not ship: this run calls only pay).");
            (endpoint, None, first)
        }
        None => {
            let sidecar = demo_sidecar();
            let first = format!(
                "SENTINEL_ENDPOINT is not set: talking to an embedded mock sidecar at {} (demo rules, not a real policy).",
                sidecar.endpoint()
            );
            (sidecar.endpoint(), Some(sidecar), first)
        }
    };
    let sentinel = SentinelClient::builder(endpoint).build()?;
    let client = connect(sentinel, Arc::new(AtomicUsize::new(0))).await?;
    let mut lines = vec![first];
    for (amount, to) in [(4_200, "vendor_42"), (50_000, "vendor_42"), (900, "new_vendor_7")] {
        let result = call(&client, "pay", serde_json::json!({"amount": amount, "to": to})).await?;
        let is_error = result.is_error.unwrap_or(false);
        lines.push(format!(
            "pay {amount} to {to} -> isError: {is_error}, text: {}",
            text(&result)
        ));
    }
    client.cancel().await?;
    Ok(lines)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(std::env::var("SENTINEL_ENDPOINT").ok()).await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client, a mock sidecar and the count of tool bodies run.
    async fn setup() -> (
        RunningService<RoleClient, ()>,
        MockSidecar,
        Arc<AtomicUsize>,
        SentinelClient,
    ) {
        let sidecar = demo_sidecar();
        let sentinel = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let client = connect(sentinel.clone(), ran.clone()).await.unwrap();
        (client, sidecar, ran, sentinel)
    }

    #[tokio::test]
    async fn allow_runs_the_tool_and_the_sidecar_judged_its_arguments() {
        let (client, sidecar, ran, _) = setup().await;
        let result = call(
            &client,
            "pay",
            serde_json::json!({"amount": 4200, "to": "vendor_42"}),
        )
        .await
        .unwrap();
        assert_ne!(result.is_error, Some(true));
        assert_eq!(text(&result), "paid 4200 cents to vendor_42");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        let requests = sidecar.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].kind, "payment");
        assert_eq!(requests[0].policy, "fintech.payments");
        // The arguments struct is the payload: its fields at the top level.
        assert_eq!(
            requests[0].payload,
            serde_json::json!({"amount": 4200, "from": "acct_ops", "to": "vendor_42"})
        );
        client.cancel().await.unwrap();
    }

    #[tokio::test]
    async fn block_is_an_error_result_with_the_reason_and_the_body_never_runs() {
        let (client, _sidecar, ran, _) = setup().await;
        let result = call(
            &client,
            "pay",
            serde_json::json!({"amount": 50000, "to": "vendor_42"}),
        )
        .await
        .unwrap();
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            text(&result),
            "BLOCK: payment under policy fintech.payments was not carried out. \
             Reason: amount above the 10000-cent limit for agent payments"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        client.cancel().await.unwrap();
    }

    #[tokio::test]
    async fn escalate_says_the_call_awaits_approval_and_gives_the_escalation_id() {
        let (client, _sidecar, ran, sentinel) = setup().await;
        let result = call(
            &client,
            "pay",
            serde_json::json!({"amount": 900, "to": "new_vendor_7"}),
        )
        .await
        .unwrap();
        assert_eq!(result.is_error, Some(true));
        let text = text(&result);
        let prefix = "ESCALATE: payment under policy fintech.payments was not carried out; \
                      it awaits human approval (escalation ";
        let suffix = "). Reason: first payment to a new vendor";
        assert!(text.starts_with(prefix) && text.ends_with(suffix), "{text}");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // The id is the sidecar's: a human (or the host) can look it up and resolve it.
        let id = text[prefix.len()..text.len() - suffix.len()].to_owned();
        let status = tokio::task::spawn_blocking(move || sentinel.escalation_status(&id))
            .await
            .unwrap();
        assert_eq!(status.unwrap(), sentinel::ReviewStatus::Pending);
        client.cancel().await.unwrap();
    }

    #[tokio::test]
    async fn a_tool_with_its_own_error_type_shows_the_denial_too() {
        let (client, _sidecar, ran, _) = setup().await;
        let external = serde_json::json!({"to": "ceo@elsewhere.example", "subject": "numbers"});
        let result = call(&client, "send_email", external).await.unwrap();
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            text(&result),
            "BLOCK: email.send under policy comms.email was not carried out. Reason: external recipient"
        );
        let internal = serde_json::json!({"to": "team@acme.example", "subject": "numbers"});
        let result = call(&client, "send_email", internal).await.unwrap();
        assert_eq!(text(&result), "sent \"numbers\" to team@acme.example");
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        client.cancel().await.unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_sidecar_fails_closed_as_an_error_result() {
        // Bind a port, then free it: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sentinel = SentinelClient::builder(format!("http://127.0.0.1:{port}"))
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let client = connect(sentinel, ran.clone()).await.unwrap();
        let result = call(
            &client,
            "pay",
            serde_json::json!({"amount": 1, "to": "vendor_42"}),
        )
        .await
        .unwrap();
        assert_eq!(result.is_error, Some(true));
        let text = text(&result);
        assert!(
            text.starts_with(
                "BLOCK: payment under policy fintech.payments was not carried out; it could not be checked. Reason: "
            ),
            "{text}"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        client.cancel().await.unwrap();
    }

    #[tokio::test]
    async fn the_demo_prints_allow_block_escalate() {
        let lines = run(None).await.unwrap();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("SENTINEL_ENDPOINT is not set: talking to an embedded mock"));
        let lines = &lines[1..];
        assert_eq!(
            lines[0],
            "pay 4200 to vendor_42 -> isError: false, text: paid 4200 cents to vendor_42"
        );
        assert!(
            lines[1].starts_with("pay 50000 to vendor_42 -> isError: true, text: BLOCK: "),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("pay 900 to new_vendor_7 -> isError: true, text: ESCALATE: "),
            "{lines:?}"
        );
    }

    /// Against the real sidecar: its fintech.payments policy decides each call (no call
    /// falls back), the model reads its refusal as a failed tool result, and the escalation
    /// it names is one the sidecar holds, pending.
    #[tokio::test]
    #[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
    async fn against_the_real_sidecar() {
        let Ok(endpoint) = std::env::var("SENTINEL_LIVE_ENDPOINT") else {
            println!("skipped: SENTINEL_LIVE_ENDPOINT not set");
            return;
        };
        let lines = run(Some(endpoint.clone())).await.unwrap();
        assert!(
            lines[0].starts_with(&format!("Talking to the sidecar at {endpoint}")),
            "{lines:?}"
        );
        assert_eq!(
            lines[1],
            "pay 4200 to vendor_42 -> isError: false, text: paid 4200 cents to vendor_42"
        );
        assert!(
            lines[2].starts_with("pay 50000 to vendor_42 -> isError: true, text: ESCALATE: "),
            "dual control above 25000: {lines:?}"
        );
        assert!(
            lines.iter().all(|l| !l.contains("could not be checked")),
            "{lines:?}"
        );
        // The escalation the refusal names is the sidecar's, still waiting for a human.
        let ids: Vec<String> = lines
            .iter()
            .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')))
            .filter(|word| word.starts_with("esc_"))
            .map(str::to_owned)
            .collect();
        assert_eq!(ids.len(), 1, "{lines:?}");
        tokio::task::spawn_blocking(move || {
            let client = SentinelClient::builder(&endpoint).build().unwrap();
            let escalation = client
                .escalation(&ids[0])
                .unwrap()
                .unwrap_or_else(|| panic!("{} is not an escalation of the sidecar", ids[0]));
            assert_eq!(escalation.status(), sentinel::EscalationState::Pending);
        })
        .await
        .unwrap();
    }
}
