//! `--listen` end to end in one process: rmcp's own streamable HTTP client against the gate's
//! HTTP server on a loopback port, the sidecar the crate's `MockSidecar`, the upstream a small
//! in-memory MCP server that records the calls it runs. (The same with the Python MCP SDK's
//! client, the npm filesystem server and the real sidecar: tests/live_mcp_gate.rs.)

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use sentinel::testing::{MockAnswer, MockSidecar};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use super::judge::sidecar_client;
use super::relay::UpstreamLink;
use super::serve_http::{may_listen_on, Server, MCP_PATH};
use super::{config, Gone, Sessions, UpstreamSpec};

const RULES: &str = r#"
[[tools]]
name = "write_file"
policy = "files.write"
kind = "file_write"

[[tools]]
name = "move_file"
deny = true

[[tools]]
name = "read_*"
allow = true
"#;

/// The calls the fake upstream ran, as `(tool, arguments)`.
type Ran = Arc<Mutex<Vec<(String, Value)>>>;

/// An MCP server on a pipe: answers `initialize`, lists four tools, runs every call it gets
/// (recording it), answers `ping`.
fn fake_upstream(ran: Ran) -> (UpstreamLink, Gone) {
    fake_upstream_saying(ran, None)
}

/// The fake upstream, saying `before_initialize` (a line) before it answers `initialize`.
fn fake_upstream_saying(ran: Ran, before_initialize: Option<&'static str>) -> (UpstreamLink, Gone) {
    let (gate_side, server_side) = tokio::io::duplex(1 << 16);
    let (gate_read, gate_write) = tokio::io::split(gate_side);
    let (server_read, mut server_write) = tokio::io::split(server_side);
    tokio::spawn(async move {
        let mut lines = BufReader::new(server_read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let message: Value = serde_json::from_str(&line).unwrap();
            let Some(id) = message.get("id").cloned() else {
                continue;
            };
            if let (Some("initialize"), Some(said)) = (message["method"].as_str(), before_initialize) {
                if server_write
                    .write_all(format!("{said}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let result = match message["method"].as_str() {
                Some("initialize") => json!({
                    // The newest version with a handshake, whatever the client asked for.
                    "protocolVersion": "2025-11-25",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "fake", "version": "1"},
                }),
                Some("tools/list") => {
                    let tools: Vec<Value> = ["write_file", "move_file", "read_file", "other"]
                        .iter()
                        .map(|name| json!({"name": name, "inputSchema": {"type": "object"}}))
                        .collect();
                    json!({ "tools": tools })
                }
                Some("tools/call") => {
                    let name = message["params"]["name"].as_str().unwrap().to_owned();
                    ran.lock()
                        .unwrap()
                        .push((name.clone(), message["params"]["arguments"].clone()));
                    json!({"content": [{"type": "text", "text": format!("ran {name}")}]})
                }
                _ => json!({}),
            };
            let answer = json!({"jsonrpc": "2.0", "id": id, "result": result});
            if server_write
                .write_all(format!("{answer}\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let link = UpstreamLink {
        writer: Some(Box::new(gate_write)),
        reader: Some(Box::new(BufReader::new(gate_read))),
        failed: None,
    };
    (link, Box::pin(async { "the fake upstream ended".to_owned() }))
}

struct Gate {
    url: String,
    ran: Ran,
    /// How many upstreams were started (one per session).
    upstreams: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start(endpoint: &str) -> Gate {
    start_with(endpoint, false).await
}

async fn start_with(endpoint: &str, any_host: bool) -> Gate {
    start_before(endpoint, any_host, None).await
}

/// An MCP server on a pipe that never answers; `closed` is set once its input ends.
fn silent_upstream(closed: Arc<AtomicBool>) -> (UpstreamLink, Gone) {
    let (gate_side, server_side) = tokio::io::duplex(1 << 16);
    let (gate_read, gate_write) = tokio::io::split(gate_side);
    let (server_read, server_write) = tokio::io::split(server_side);
    tokio::spawn(async move {
        let mut lines = BufReader::new(server_read).lines();
        while let Ok(Some(_)) = lines.next_line().await {}
        closed.store(true, Ordering::SeqCst);
        drop(server_write);
    });
    let link = UpstreamLink {
        writer: Some(Box::new(gate_write)),
        reader: Some(Box::new(BufReader::new(gate_read))),
        failed: None,
    };
    (link, Box::pin(async { "the silent upstream ended".to_owned() }))
}

/// A gate before the fake upstream, or before a silent one when `silent` is given.
async fn start_before(endpoint: &str, any_host: bool, silent: Option<Arc<AtomicBool>>) -> Gate {
    let upstream: Arc<dyn Fn(Ran) -> (UpstreamLink, Gone) + Send + Sync> = match silent {
        Some(closed) => Arc::new(move |_| silent_upstream(closed.clone())),
        None => Arc::new(fake_upstream),
    };
    start_gate(endpoint, any_host, 64, upstream).await
}

/// A gate of at most `max_sessions` sessions, each before an upstream `upstream` makes.
async fn start_gate(
    endpoint: &str,
    any_host: bool,
    max_sessions: usize,
    upstream: Arc<dyn Fn(Ran) -> (UpstreamLink, Gone) + Send + Sync>,
) -> Gate {
    let text = format!("[sentinel]\nendpoint = \"{endpoint}\"\ntimeout_ms = 2000\n{RULES}");
    let config = config::parse(Path::new("gate.toml"), &text).unwrap();
    let client = sidecar_client(config.sentinel.as_ref()).unwrap();
    let ran = Ran::default();
    let upstream_ran = ran.clone();
    let upstreams = Arc::new(AtomicUsize::new(0));
    let started = upstreams.clone();
    let sessions = Sessions {
        client,
        receipts: None,
        rules: config.rules,
        context: config.context,
        upstream: UpstreamSpec::Test(Arc::new(move || {
            started.fetch_add(1, Ordering::SeqCst);
            upstream(upstream_ran.clone())
        })),
        upstream_config: config.upstream,
    };
    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{MCP_PATH}", listener.local_addr().unwrap());
    tokio::spawn(Server::new(sessions, any_host, max_sessions, stop.clone()).serve(listener));
    Gate {
        url,
        ran,
        upstreams,
        stop,
    }
}

async fn connect(url: &str) -> RunningService<RoleClient, ()> {
    tokio::time::timeout(
        Duration::from_secs(10),
        ().serve(StreamableHttpClientTransport::from_uri(url.to_owned())),
    )
    .await
    .expect("connected within 10 s")
    .expect("the MCP session starts")
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    tokio::time::timeout(
        Duration::from_secs(10),
        client.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)),
    )
    .await
    .expect("answered within 10 s")
    .expect("a tool result")
}

fn text(result: &CallToolResult) -> String {
    let block = serde_json::to_value(&result.content[0]).unwrap();
    block["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not text: {block}"))
        .to_owned()
}

#[tokio::test]
async fn over_streamable_http_every_call_is_judged_as_on_stdio() {
    let sidecar = MockSidecar::start(|request| {
        if request.payload.get("ssn").is_some() {
            MockAnswer::block("no PII here")
        } else {
            MockAnswer::allow()
        }
    });
    let gate = start(&sidecar.endpoint()).await;
    let client = connect(&gate.url).await;

    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    assert_eq!(
        tools,
        ["write_file", "read_file", "other"],
        "the denied tool is hidden"
    );

    let allowed = call(&client, "write_file", json!({"path": "/data/a", "content": "hi"})).await;
    assert_ne!(allowed.is_error, Some(true), "{allowed:?}");
    assert_eq!(text(&allowed), "ran write_file");

    let blocked = call(
        &client,
        "write_file",
        json!({"path": "/data/b", "ssn": "078-05-1120"}),
    )
    .await;
    assert_eq!(blocked.is_error, Some(true));
    assert_eq!(
        text(&blocked),
        "BLOCK: file_write under policy files.write was not carried out. Reason: no PII here"
    );
    let denied = call(&client, "move_file", json!({})).await;
    assert_eq!(
        text(&denied),
        "BLOCK: move_file was not carried out; the gate's configuration denies this tool"
    );
    let unnamed = call(&client, "other", json!({})).await;
    assert!(
        text(&unnamed).contains("has no rule for this tool"),
        "{unnamed:?}"
    );
    let read = call(&client, "read_file", json!({"path": "/data/a"})).await;
    assert_eq!(text(&read), "ran read_file");

    let ran = gate.ran.lock().unwrap().clone();
    assert_eq!(
        ran,
        [
            (
                "write_file".to_owned(),
                json!({"path": "/data/a", "content": "hi"})
            ),
            ("read_file".to_owned(), json!({"path": "/data/a"})),
        ],
        "only the allowed calls reached the upstream, as judged"
    );
    let judged = sidecar.requests();
    assert_eq!(
        judged.len(),
        2,
        "write_file twice; deny, unnamed and allow rules ask nothing"
    );
    assert_eq!(judged[0].payload, json!({"path": "/data/a", "content": "hi"}));
    assert_eq!(judged[0].run_id, judged[1].run_id, "one runId per MCP session");
    assert_eq!(
        judged[0].context["actor"]["id"],
        json!("mcp-http-client"),
        "over HTTP the actor is never the client's own name: {}",
        judged[0].context
    );
    let _ = client.cancel().await;
}

#[tokio::test]
async fn each_mcp_session_over_http_has_its_own_run_id() {
    let sidecar = MockSidecar::allow_all();
    let gate = start(&sidecar.endpoint()).await;
    let (first, second) = (connect(&gate.url).await, connect(&gate.url).await);
    call(&first, "write_file", json!({"n": 1})).await;
    call(&second, "write_file", json!({"n": 2})).await;
    call(&first, "write_file", json!({"n": 3})).await;
    let run_of = |n: i64| {
        sidecar
            .requests()
            .into_iter()
            .find(|request| request.payload["n"] == json!(n))
            .unwrap()
            .run_id
    };
    assert_eq!(run_of(1), run_of(3));
    assert_ne!(run_of(1), run_of(2));
    assert!(run_of(1).starts_with("mcp-"), "{}", run_of(1));
    let _ = first.cancel().await;
    let _ = second.cancel().await;
}

/// One raw HTTP/1.1 exchange (`Connection: close`): the status line and the body. A `Host`
/// among `headers` replaces the real one.
fn raw_post(url: &str, path: &str, headers: &[&str], body: &str) -> (String, String) {
    let authority = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&authority).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut request = format!("POST {path} HTTP/1.1\r\n");
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("host:"))
    {
        request.push_str(&format!("Host: {authority}\r\n"));
    }
    request.push_str(&format!(
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Connection: close\r\nContent-Length: {}\r\n",
        body.len()
    ));
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or("").to_owned(), body.to_owned())
}

#[tokio::test]
async fn a_call_outside_a_session_is_refused_never_forwarded() {
    let sidecar = MockSidecar::allow_all();
    let gate = start(&sidecar.endpoint()).await;
    let url = gate.url.clone();
    let (legacy, modern, elsewhere) = tokio::task::spawn_blocking(move || {
        let call =
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{}}}"#;
        // Without a session (no initialize first): refused by rmcp's session layer.
        let legacy = raw_post(&url, MCP_PATH, &[], call);
        // The 2026-07-28 lifecycle without sessions: an unsupported version.
        let modern_call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "read_file", "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        }});
        let modern = raw_post(
            &url,
            MCP_PATH,
            &[
                "MCP-Protocol-Version: 2026-07-28",
                "Mcp-Method: tools/call",
                "Mcp-Name: read_file",
            ],
            &modern_call.to_string(),
        );
        let elsewhere = raw_post(&url, "/other", &[], call);
        (legacy, modern, elsewhere)
    })
    .await
    .unwrap();
    assert!(
        legacy.0.contains(" 400 ") && legacy.1.contains("Session ID is required"),
        "{legacy:?}"
    );
    let modern_error: Value = serde_json::from_str(&modern.1).unwrap_or_else(|e| panic!("{e}: {modern:?}"));
    assert_eq!(modern_error["error"]["code"], json!(-32022), "{modern:?}");
    assert_eq!(modern_error["id"], json!(2), "{modern:?}");
    assert!(elsewhere.0.contains(" 404 "), "{elsewhere:?}");
    assert!(
        gate.ran.lock().unwrap().is_empty(),
        "nothing reached the upstream"
    );
}

#[test]
fn listening_beyond_loopback_needs_the_flag() {
    assert!(may_listen_on("127.0.0.1:0".parse().unwrap(), false).is_ok());
    assert!(may_listen_on("[::1]:8931".parse().unwrap(), false).is_ok());
    let refused = may_listen_on("0.0.0.0:8931".parse().unwrap(), false).unwrap_err();
    assert!(refused.contains("--listen-beyond-loopback"), "{refused}");
    assert!(may_listen_on("0.0.0.0:8931".parse().unwrap(), true).is_ok());
}

/// An `initialize` as a client would POST it first.
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;

/// DNS rebinding and cross-origin requests: a web page's request carries an `Origin` (and,
/// rebound, a `Host` naming the attacker's domain); neither may start a session.
#[tokio::test]
async fn a_web_page_cannot_drive_the_gate_by_host_or_origin() {
    let sidecar = MockSidecar::allow_all();
    for any_host in [false, true] {
        let gate = start_with(&sidecar.endpoint(), any_host).await;
        let url = gate.url.clone();
        let (rebound, cross_origin, loopback_origin, plain) = tokio::task::spawn_blocking(move || {
            (
                raw_post(&url, MCP_PATH, &["Host: evil.example"], INITIALIZE),
                raw_post(&url, MCP_PATH, &["Origin: http://evil.example"], INITIALIZE),
                raw_post(&url, MCP_PATH, &["Origin: http://localhost:3000"], INITIALIZE),
                raw_post(&url, MCP_PATH, &[], INITIALIZE),
            )
        })
        .await
        .unwrap();
        if any_host {
            assert!(
                !rebound.0.contains(" 403 "),
                "beyond loopback any Host: {rebound:?}"
            );
        } else {
            assert!(rebound.0.contains(" 403 "), "on loopback: {rebound:?}");
        }
        assert!(
            cross_origin.0.contains(" 403 "),
            "any_host {any_host}: {cross_origin:?}"
        );
        assert!(
            loopback_origin.0.contains(" 403 "),
            "a page served from localhost is a web page too: {loopback_origin:?}"
        );
        assert!(
            plain.0.contains(" 200 "),
            "a client without Origin is served: {plain:?}"
        );
        let expected = if any_host { 2 } else { 1 };
        assert_eq!(
            gate.upstreams.load(Ordering::SeqCst),
            expected,
            "only the requests without Origin (and an allowed Host) started an upstream"
        );
        assert!(gate.ran.lock().unwrap().is_empty(), "the upstream ran nothing");
    }
}

#[tokio::test]
async fn an_upstream_that_never_answers_initialize_fails_the_post_and_is_stopped() {
    let sidecar = MockSidecar::allow_all();
    let closed = Arc::new(AtomicBool::new(false));
    let gate = start_before(&sidecar.endpoint(), false, Some(closed.clone())).await;
    let url = gate.url.clone();
    // raw_post gives up after 10 s; the gate's bound under test is 2 s.
    let (status, body) = tokio::task::spawn_blocking(move || raw_post(&url, MCP_PATH, &[], INITIALIZE))
        .await
        .unwrap();
    assert!(status.contains(" 500 "), "{status} {body}");
    let since = std::time::Instant::now();
    while !closed.load(Ordering::SeqCst) && since.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        closed.load(Ordering::SeqCst),
        "the session was closed, and with it the upstream's input"
    );
}

#[tokio::test]
async fn past_max_sessions_a_new_session_gets_503_and_starts_no_upstream() {
    let sidecar = MockSidecar::allow_all();
    let gate = start_gate(&sidecar.endpoint(), false, 1, Arc::new(fake_upstream)).await;
    let first = connect(&gate.url).await;
    let url = gate.url.clone();
    let (status, body) = tokio::task::spawn_blocking(move || raw_post(&url, MCP_PATH, &[], INITIALIZE))
        .await
        .unwrap();
    assert!(status.contains(" 503 "), "{status} {body}");
    assert!(body.contains("--max-sessions"), "{body}");
    assert_eq!(
        gate.upstreams.load(Ordering::SeqCst),
        1,
        "no upstream for the refused one"
    );
    // The open session still works; once it ends, a new one may start.
    call(&first, "read_file", json!({})).await;
    let _ = first.cancel().await;
    let since = std::time::Instant::now();
    let second = loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            ().serve(StreamableHttpClientTransport::from_uri(gate.url.clone())),
        )
        .await;
        match attempt {
            Ok(Ok(client)) => break client,
            _ if since.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("no session within 10 s of the first ending: {:?}", other.is_ok()),
        }
    };
    assert_eq!(gate.upstreams.load(Ordering::SeqCst), 2);
    let _ = second.cancel().await;
}

#[tokio::test]
async fn the_answer_to_initialize_is_the_one_with_its_id_not_an_earlier_error() {
    let sidecar = MockSidecar::allow_all();
    let upstream = Arc::new(|ran| {
        fake_upstream_saying(
            ran,
            Some(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"stray"}}"#),
        )
    });
    let gate = start_gate(&sidecar.endpoint(), false, 64, upstream).await;
    let client = connect(&gate.url).await;
    assert_eq!(
        client
            .peer_info()
            .and_then(|info| info.server_info.as_ref().map(|server| server.name.clone())),
        Some("fake".to_owned()),
        "initialize got the server's answer"
    );
    call(&client, "read_file", json!({})).await;
    let _ = client.cancel().await;
}
