//! The relay end to end in one process: the client and the upstream are in-memory pipes the
//! test writes and reads, the sidecar is the crate's loopback `MockSidecar`. (The same with
//! real MCP servers, a real client and the real sidecar: tests/live_mcp_gate.rs.)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sentinel::testing::{MockAnswer, MockSidecar};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf};

use super::config;
use super::judge::{sidecar_client, Judge};
use super::relay::{self, UpstreamLink};

type Reader = Lines<BufReader<ReadHalf<DuplexStream>>>;

/// The two far ends of a gate under test.
struct Ends {
    /// Writes as the MCP client.
    client: WriteHalf<DuplexStream>,
    /// Reads what the client is sent.
    to_client: Reader,
    /// Reads what the upstream is sent.
    to_upstream: Reader,
    /// Writes as the upstream; dropping it ends the upstream's output.
    upstream: Option<WriteHalf<DuplexStream>>,
}

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

fn start(endpoint: &str) -> Ends {
    let text = format!("[sentinel]\nendpoint = \"{endpoint}\"\ntimeout_ms = 2000\n{RULES}");
    start_with(Path::new("gate.toml"), &text, relay::EXECUTION_BOUND)
}

/// The executor's seed (bytes 7 × 32), base64, and the mock's issuer key.
const EXECUTOR_SEED: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const ISSUER_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

/// A gate whose `write_file` runs on a receipt, the upstream given `execution` to answer it.
fn start_receipts(sidecar: &MockSidecar, dir: &Path, execution: Duration) -> Ends {
    sidecar.trust_executor(&sentinel::adjudication::ExecutorKey::from_seed([7; 32], "gate"));
    std::fs::write(dir.join("seed"), EXECUTOR_SEED).unwrap();
    let text = format!(
        "[sentinel]\nendpoint = \"{}\"\ntimeout_ms = 5000\n\
         [receipts]\nexecutor = \"gate\"\nexecutor_seed_file = \"seed\"\nissuer_keys = [\"{ISSUER_KEY}\"]\n\
         [[tools]]\nname = \"write_file\"\npolicy = \"files.write\"\nkind = \"file_write\"\nreceipt = true\n",
        sidecar.endpoint()
    );
    start_with(&dir.join("gate.toml"), &text, execution)
}

fn start_with(path: &Path, text: &str, execution: Duration) -> Ends {
    let config = config::parse(path, text).unwrap();
    let client = sidecar_client(config.sentinel.as_ref()).unwrap();
    let receipts = config.receipts.as_ref().map(|receipts| {
        (
            super::judge::receipt_client(&client, receipts).unwrap(),
            receipts.target_service.clone(),
        )
    });
    let judge = Arc::new(Judge::new(client, receipts, config.rules, config.context));
    let (client_side, gate_client_side) = tokio::io::duplex(1 << 16);
    let (upstream_side, gate_upstream_side) = tokio::io::duplex(1 << 16);
    let (gate_client_in, gate_client_out) = tokio::io::split(gate_client_side);
    let (gate_upstream_in, gate_upstream_out) = tokio::io::split(gate_upstream_side);
    let link = UpstreamLink {
        writer: Some(Box::new(gate_upstream_out)),
        reader: Some(Box::new(BufReader::new(gate_upstream_in))),
        failed: None,
    };
    let gone = async { "the upstream MCP server exited (exit status: 3)".to_owned() };
    tokio::spawn(relay::run(
        judge,
        BufReader::new(gate_client_in),
        gate_client_out,
        link,
        gone,
        relay::Bounds {
            grace: Duration::from_secs(1),
            execution,
        },
    ));
    let (client_read, client_write) = tokio::io::split(client_side);
    let (upstream_read, upstream_write) = tokio::io::split(upstream_side);
    Ends {
        client: client_write,
        to_client: BufReader::new(client_read).lines(),
        to_upstream: BufReader::new(upstream_read).lines(),
        upstream: Some(upstream_write),
    }
}

async fn send(to: &mut WriteHalf<DuplexStream>, line: &str) {
    to.write_all(format!("{line}\n").as_bytes()).await.unwrap();
}

async fn next(from: &mut Reader) -> String {
    tokio::time::timeout(Duration::from_secs(10), from.next_line())
        .await
        .expect("a message within 10 s")
        .unwrap()
        .expect("the stream is open")
}

fn call(id: u64, tool: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
        .to_string()
}

/// The text of a failed tool result, or a panic saying what came instead.
fn refusal(line: &str, id: u64) -> String {
    let message: Value = serde_json::from_str(line).unwrap();
    assert_eq!(message["id"], json!(id), "{line}");
    assert_eq!(message["result"]["isError"], json!(true), "{line}");
    assert!(
        message["result"].get("resultType").is_none(),
        "an older client does not know resultType: {line}"
    );
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A ping the upstream must see next: proves nothing else was forwarded before it.
async fn ping_reaches_upstream_next(ends: &mut Ends, id: u64) {
    let ping = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#);
    send(&mut ends.client, &ping).await;
    assert_eq!(next(&mut ends.to_upstream).await, ping);
}

#[tokio::test]
async fn an_allowed_call_is_forwarded_as_judged_and_its_answer_returned_byte_for_byte() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    let line = call(1, "write_file", json!({"path": "/data/a", "content": "hi"}));
    send(&mut ends.client, &line).await;
    let forwarded: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
    assert_eq!(forwarded, serde_json::from_str::<Value>(&line).unwrap());
    let judged = &sidecar.requests()[0];
    assert_eq!(judged.payload, json!({"path": "/data/a", "content": "hi"}));
    assert_eq!(judged.kind, "file_write");
    assert_eq!(judged.policy, "files.write");

    let answer = r#"{"jsonrpc":"2.0", "id":1, "result":{"content":[{"type":"text","text":"ok"}],"x-new":1}}"#;
    send(ends.upstream.as_mut().unwrap(), answer).await;
    assert_eq!(next(&mut ends.to_client).await, answer);
}

#[tokio::test]
async fn a_blocked_call_never_reaches_the_upstream_and_the_client_reads_why() {
    let sidecar = MockSidecar::start(|_| MockAnswer::block("not on weekends"));
    let mut ends = start(&sidecar.endpoint());
    send(
        &mut ends.client,
        &call(1, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    assert_eq!(
        refusal(&next(&mut ends.to_client).await, 1),
        "BLOCK: file_write under policy files.write was not carried out. Reason: not on weekends"
    );
    ping_reaches_upstream_next(&mut ends, 2).await;
}

#[tokio::test]
async fn an_escalation_gives_its_id_and_is_not_forwarded() {
    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("needs a second pair of eyes"));
    let mut ends = start(&sidecar.endpoint());
    send(
        &mut ends.client,
        &call(1, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    let text = refusal(&next(&mut ends.to_client).await, 1);
    assert!(
        text.starts_with("ESCALATE: file_write under policy files.write was not carried out; it awaits human approval (escalation "),
        "{text}"
    );
    ping_reaches_upstream_next(&mut ends, 2).await;
}

#[tokio::test]
async fn with_the_sidecar_unreachable_a_call_is_refused_not_forwarded() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut ends = start(&closed);
    send(
        &mut ends.client,
        &call(1, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    let text = refusal(&next(&mut ends.to_client).await, 1);
    assert!(text.contains("it could not be checked"), "{text}");
    ping_reaches_upstream_next(&mut ends, 2).await;
}

#[tokio::test]
async fn denied_and_unnamed_tools_are_refused_without_asking_and_allowed_ones_pass_unasked() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    send(&mut ends.client, &call(1, "move_file", json!({}))).await;
    assert_eq!(
        refusal(&next(&mut ends.to_client).await, 1),
        "BLOCK: move_file was not carried out; the gate's configuration denies this tool"
    );
    send(&mut ends.client, &call(2, "delete_everything", json!({}))).await;
    assert!(refusal(&next(&mut ends.to_client).await, 2).contains("has no rule for this tool"));
    let read = call(3, "read_file", json!({"path": "/data/a"}));
    send(&mut ends.client, &read).await;
    assert_eq!(next(&mut ends.to_upstream).await, read);
    assert!(sidecar.requests().is_empty(), "none of these asked the sidecar");
}

#[tokio::test]
async fn a_call_without_an_id_or_with_unreadable_parameters_is_never_forwarded() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    send(
        &mut ends.client,
        r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"write_file","arguments":{}}}"#,
    )
    .await;
    send(
        &mut ends.client,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":[1]}}"#,
    )
    .await;
    let error: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(error["id"], json!(1));
    assert_eq!(error["error"]["code"], json!(-32602));
    ping_reaches_upstream_next(&mut ends, 2).await;
}

#[tokio::test]
async fn other_traffic_passes_byte_for_byte_and_tools_list_loses_only_denied_tools() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    for line in [
        r#"{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"},"x-extra":[1, 2]}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}"#,
        r#"{"jsonrpc":"2.0","id":5,"result":{"roots":[]}}"#,
    ] {
        send(&mut ends.client, line).await;
        assert_eq!(next(&mut ends.to_upstream).await, line);
    }
    send(
        &mut ends.client,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"#,
    )
    .await;
    next(&mut ends.to_upstream).await;
    let listed = r#"{"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"read_file","inputSchema":{},"x":1},{"name":"move_file","inputSchema":{}}],"nextCursor":"c2"}}"#;
    send(ends.upstream.as_mut().unwrap(), listed).await;
    let filtered: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(
        filtered,
        json!({"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"read_file","inputSchema":{},"x":1}],"nextCursor":"c2"}})
    );
    send(&mut ends.client, r#"{"jsonrpc":"2.0","id":10,"method":"x/y"}"#).await;
    next(&mut ends.to_upstream).await;
    let upstream_error = r#"{"jsonrpc":"2.0","id":10,"error":{"code":-32601,"message":"Method not found"}}"#;
    send(ends.upstream.as_mut().unwrap(), upstream_error).await;
    assert_eq!(next(&mut ends.to_client).await, upstream_error);
}

#[tokio::test]
async fn when_the_upstream_exits_owed_and_later_requests_get_errors() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    let owed = r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#;
    send(&mut ends.client, owed).await;
    assert_eq!(next(&mut ends.to_upstream).await, owed);
    // Both halves: the pipe ends only when the whole of the upstream's side is gone.
    let Ends {
        mut client,
        mut to_client,
        to_upstream,
        upstream,
    } = ends;
    drop((to_upstream, upstream));
    let error: Value = serde_json::from_str(&next(&mut to_client).await).unwrap();
    assert_eq!(error["id"], json!(1));
    assert_eq!(
        error["error"]["message"],
        json!("the upstream MCP server exited (exit status: 3)")
    );
    send(&mut client, &call(2, "read_file", json!({}))).await;
    let error: Value = serde_json::from_str(&next(&mut to_client).await).unwrap();
    assert_eq!(error["id"], json!(2));
    assert_eq!(error["error"]["code"], json!(-32603));
}

#[tokio::test]
async fn calls_are_judged_side_by_side() {
    // The sidecar holds every guard until 8 are waiting at once: judged one after another,
    // the first would time out (and be refused) before the eighth arrived.
    let waiting = Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
    let seen = waiting.clone();
    let sidecar = MockSidecar::start(move |_| {
        let (count, arrived) = &*seen;
        let mut count = count.lock().unwrap();
        *count += 1;
        arrived.notify_all();
        let _ = arrived
            .wait_timeout_while(count, Duration::from_secs(5), |n| *n < 8)
            .unwrap();
        MockAnswer::allow()
    });
    let mut ends = start(&sidecar.endpoint());
    for id in 0..8 {
        send(&mut ends.client, &call(id, "write_file", json!({"n": id}))).await;
    }
    let mut forwarded = Vec::new();
    for _ in 0..8 {
        let line: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
        forwarded.push(line["id"].as_u64().unwrap());
    }
    forwarded.sort_unstable();
    assert_eq!(forwarded, (0..8).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_call_cancelled_while_it_is_judged_is_neither_forwarded_nor_answered() {
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let sidecar = MockSidecar::start(move |_| {
        // Answers ALLOW once the test has sent the cancellation (or after 5 s).
        let _ = released.lock().unwrap().recv_timeout(Duration::from_secs(5));
        MockAnswer::allow()
    });
    let mut ends = start(&sidecar.endpoint());
    send(
        &mut ends.client,
        &call(1, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    let cancel =
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"user"}}"#;
    send(&mut ends.client, cancel).await;
    // The cancellation itself passes through.
    assert_eq!(next(&mut ends.to_upstream).await, cancel);
    release.send(()).unwrap();
    // Wait until the sidecar was asked and answered, then show nothing else was forwarded.
    let asked = std::time::Instant::now();
    while sidecar.requests().is_empty() && asked.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    ping_reaches_upstream_next(&mut ends, 2).await;
    let answer = r#"{"jsonrpc":"2.0","id":2,"result":{}}"#;
    send(ends.upstream.as_mut().unwrap(), answer).await;
    assert_eq!(
        next(&mut ends.to_client).await,
        answer,
        "nothing was answered for the cancelled call"
    );
}

#[tokio::test]
async fn a_line_the_gate_cannot_read_strictly_is_answered_never_forwarded() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"write_file","arguments":{{"path":"/data/x","content":{}1{}}}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    for line in [
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"/data/x","content":"pwned \ud800"}}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"/data/x","n":1e400}}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_file","name":"write_file","arguments":{"path":"/data/x"}}}"#,
        &deep,
        "not json",
    ] {
        send(&mut ends.client, line).await;
        let error: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
        assert_eq!(error["id"], Value::Null, "{line}");
        assert_eq!(error["error"]["code"], json!(-32700), "{line}");
    }
    ping_reaches_upstream_next(&mut ends, 2).await;
    assert!(
        sidecar.requests().is_empty(),
        "nothing was judged, so nothing ran"
    );
}

#[tokio::test]
async fn a_batch_element_that_is_not_an_object_is_an_invalid_request_never_forwarded() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    let inner = call(7, "write_file", json!({"path": "/data/x", "content": "pwned"}));
    for line in [
        format!("[[{inner}]]"),
        "[]".to_owned(),
        "[1]".to_owned(),
        "5".to_owned(),
    ] {
        send(&mut ends.client, &line).await;
        let error: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
        assert_eq!(error["id"], Value::Null, "{line}");
        assert_eq!(error["error"]["code"], json!(-32600), "{line}");
    }
    ping_reaches_upstream_next(&mut ends, 2).await;
    assert!(
        sidecar.requests().is_empty(),
        "nothing was judged, so nothing ran"
    );
}

#[tokio::test]
async fn a_request_reusing_a_pending_id_is_refused_not_forwarded() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    let first = r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#;
    send(&mut ends.client, first).await;
    assert_eq!(next(&mut ends.to_upstream).await, first);
    for again in [
        call(1, "write_file", json!({"path": "/data/a"})),
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#.to_owned(),
    ] {
        send(&mut ends.client, &again).await;
        let error: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
        assert_eq!(error["id"], json!(1), "{again}");
        assert_eq!(error["error"]["code"], json!(-32600), "{again}");
    }
    ping_reaches_upstream_next(&mut ends, 2).await;
    assert!(sidecar.requests().is_empty(), "the reused call was not judged");
    // The first request still gets its own answer.
    let answer = r#"{"jsonrpc":"2.0","id":1,"result":{"resources":[]}}"#;
    send(ends.upstream.as_mut().unwrap(), answer).await;
    assert_eq!(next(&mut ends.to_client).await, answer);
}

#[tokio::test]
async fn a_line_from_the_upstream_that_is_not_json_rpc_is_dropped_never_passed_on() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    ping_reaches_upstream_next(&mut ends, 1).await;
    let upstream = ends.upstream.as_mut().unwrap();
    for line in [
        "Server listening on stdio",
        "5",
        "\"text\"",
        "{\"jsonrpc\":\"2.0\",\"id\":1,",
        // JSON, but not JSON-RPC: a pino log line, another version, neither id nor method.
        r#"{"level":30,"time":1,"msg":"listening"}"#,
        r#"{"jsonrpc":"1.0","id":1,"result":{}}"#,
        r#"{"jsonrpc":"2.0","result":{}}"#,
    ] {
        send(upstream, line).await;
    }
    let answer = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
    send(upstream, answer).await;
    assert_eq!(
        next(&mut ends.to_client).await,
        answer,
        "the client reads the answer, none of the lines before it"
    );
}

#[tokio::test]
async fn a_late_answer_after_a_receipt_call_timed_out_is_dropped_not_a_second_answer() {
    let sidecar = MockSidecar::allow_all();
    let dir = tempfile::tempdir().unwrap();
    let mut ends = start_receipts(&sidecar, dir.path(), Duration::from_millis(300));
    let line = call(1, "write_file", json!({"path": "/data/a"}));
    send(&mut ends.client, &line).await;
    let forwarded: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
    assert_eq!(forwarded["id"], json!(1), "forwarded on a receipt");
    // The upstream does not answer within the bound: the client gets an error for id 1.
    let error: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(error["id"], json!(1));
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not answer within"),
        "{error}"
    );
    // Its late answer, then the answer to a ping: the client reads only the ping's.
    ping_reaches_upstream_next(&mut ends, 2).await;
    let upstream = ends.upstream.as_mut().unwrap();
    send(upstream, r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#).await;
    let pong = r#"{"jsonrpc":"2.0","id":2,"result":{}}"#;
    send(upstream, pong).await;
    assert_eq!(next(&mut ends.to_client).await, pong);
}

#[tokio::test]
async fn a_request_reusing_the_id_of_a_call_still_being_adjudicated_is_refused_not_forwarded() {
    // The sidecar holds the adjudication until the test has sent the reused id.
    let (arrived_tx, arrived) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (arrived_tx, released) = (std::sync::Mutex::new(arrived_tx), std::sync::Mutex::new(released));
    let sidecar = MockSidecar::start(move |_| {
        let _ = arrived_tx.lock().unwrap().send(());
        let _ = released.lock().unwrap().recv_timeout(Duration::from_secs(5));
        MockAnswer::allow()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut ends = start_receipts(&sidecar, dir.path(), relay::EXECUTION_BOUND);
    send(
        &mut ends.client,
        &call(1, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    tokio::task::spawn_blocking(move || arrived.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("the sidecar was asked");
    let reused = r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#;
    send(&mut ends.client, reused).await;
    let error: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(error["id"], json!(1), "{error}");
    assert_eq!(error["error"]["code"], json!(-32600), "{error}");
    release.send(()).unwrap();
    let forwarded: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
    assert_eq!(
        forwarded["method"],
        json!("tools/call"),
        "the reused request was never forwarded"
    );
}

/// A receipt gate before a sidecar that escalates every adjudication until `approved` is set
/// (then allows when `honours` says so); the escalation's id after a first call, and a second
/// identical call refused on that same escalation, never forwarded.
async fn parked_receipt_call(sidecar: &MockSidecar, dir: &Path) -> (Ends, String) {
    let mut ends = start_receipts(sidecar, dir, relay::EXECUTION_BOUND);
    let line = call(1, "write_file", json!({"path": "/data/chart", "clinical": true}));
    send(&mut ends.client, &line).await;
    let parked = refusal(&next(&mut ends.to_client).await, 1);
    assert!(parked.starts_with("ESCALATE: "), "{parked}");
    let escalation = parked
        .split("(escalation ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no escalation id in {parked}"))
        .to_owned();
    send(
        &mut ends.client,
        &call(2, "write_file", json!({"path": "/data/chart", "clinical": true})),
    )
    .await;
    let again = refusal(&next(&mut ends.to_client).await, 2);
    assert!(
        again.contains(&format!("(escalation {escalation}). Reason: still pending")),
        "the same escalation, not another, refused from its status (a resume could use up an \
         approval given meanwhile): {again}"
    );
    ping_reaches_upstream_next(&mut ends, 3).await;
    (ends, escalation)
}

fn approve(endpoint: String, escalation: String) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_blocking(move || {
        sentinel::SentinelClient::builder(endpoint)
            .build()
            .unwrap()
            .resolve(&escalation, sentinel::Resolution::Approve, "attending_physician")
            .unwrap();
    })
}

#[tokio::test]
async fn in_receipt_mode_the_identical_call_after_approval_resumes_the_escalation_and_runs_once() {
    let approved = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = approved.clone();
    let sidecar = MockSidecar::start(move |_| {
        if seen.load(std::sync::atomic::Ordering::SeqCst) {
            MockAnswer::allow()
        } else {
            MockAnswer::escalate("needs a clinician")
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (mut ends, escalation) = parked_receipt_call(&sidecar, dir.path()).await;
    approve(sidecar.endpoint(), escalation.clone()).await.unwrap();
    approved.store(true, std::sync::atomic::Ordering::SeqCst);

    let line = call(4, "write_file", json!({"path": "/data/chart", "clinical": true}));
    send(&mut ends.client, &line).await;
    let forwarded: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
    assert_eq!(forwarded["id"], json!(4), "{forwarded}");
    let answer = r#"{"jsonrpc":"2.0","id":4,"result":{"content":[{"type":"text","text":"written"}]}}"#;
    send(ends.upstream.as_mut().unwrap(), answer).await;
    assert_eq!(next(&mut ends.to_client).await, answer);
    // Reported after the answer was passed on.
    let answered = std::time::Instant::now();
    while sidecar.executions().is_empty() && answered.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sidecar.executions().len(), 1, "one execution reported");
    let receipts = sidecar.receipts();
    assert_eq!(receipts.len(), 1, "only the resumed call was allowed so far");
    assert_eq!(
        receipts[0].human_approval_reference(),
        Some(escalation.as_str()),
        "the 4th call was adjudicated with the approval, not afresh"
    );

    // The approval was used: the identical call again is adjudicated afresh, without it.
    let line = call(5, "write_file", json!({"path": "/data/chart", "clinical": true}));
    send(&mut ends.client, &line).await;
    let forwarded: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
    assert_eq!(forwarded["id"], json!(5), "{forwarded}");
    let receipts = sidecar.receipts();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[1].human_approval_reference(), None);
}

#[tokio::test]
async fn in_receipt_mode_an_approval_the_sidecar_does_not_honour_is_refused_with_why_not_escalated_again() {
    // Escalates every adjudication, approved or not (as the reference sidecar does).
    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("needs a clinician"));
    let dir = tempfile::tempdir().unwrap();
    let (mut ends, escalation) = parked_receipt_call(&sidecar, dir.path()).await;
    approve(sidecar.endpoint(), escalation.clone()).await.unwrap();

    send(
        &mut ends.client,
        &call(4, "write_file", json!({"path": "/data/chart", "clinical": true})),
    )
    .await;
    let refused = refusal(&next(&mut ends.to_client).await, 4);
    assert!(
        refused.contains(&format!(
            "escalation {escalation} is approved, but the sidecar's adjudication is ESCALATE"
        )),
        "{refused}"
    );
    ping_reaches_upstream_next(&mut ends, 5).await;
}

#[tokio::test]
async fn in_receipt_mode_a_parked_call_stays_parked_when_its_status_cannot_be_read() {
    let sidecar = MockSidecar::start(|_| MockAnswer::escalate("needs a clinician"));
    let dir = tempfile::tempdir().unwrap();
    let (mut ends, escalation) = parked_receipt_call(&sidecar, dir.path()).await;
    sidecar.stop();
    send(
        &mut ends.client,
        &call(4, "write_file", json!({"path": "/data/chart", "clinical": true})),
    )
    .await;
    let refused = refusal(&next(&mut ends.to_client).await, 4);
    assert!(
        refused.contains(&format!(
            "the status of escalation {escalation} could not be read"
        )),
        "refused on the parked escalation, not forgotten: {refused}"
    );
    ping_reaches_upstream_next(&mut ends, 5).await;
}

#[tokio::test]
async fn an_upstream_that_outlives_the_client_by_the_grace_is_dropped_and_what_it_owed_answered() {
    let sidecar = MockSidecar::allow_all();
    let Ends {
        mut client,
        mut to_client,
        mut to_upstream,
        upstream,
    } = start(&sidecar.endpoint());
    let owed = r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#;
    send(&mut client, owed).await;
    assert_eq!(next(&mut to_upstream).await, owed);
    // The client closes its side; the upstream neither answers nor exits (1 s grace).
    client.shutdown().await.unwrap();
    let error: Value = serde_json::from_str(&next(&mut to_client).await).unwrap();
    assert_eq!(error["id"], json!(1), "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not exit"),
        "{error}"
    );
    drop(upstream);
}

#[tokio::test]
async fn on_stdio_the_actor_is_the_name_of_the_first_initialize_only() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    for (id, name) in [(1, "desktop-app"), (2, "admin")] {
        let initialize = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": name, "version": "1"}}});
        send(&mut ends.client, &initialize.to_string()).await;
        next(&mut ends.to_upstream).await;
    }
    send(
        &mut ends.client,
        &call(3, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    next(&mut ends.to_upstream).await;
    let judged = sidecar.requests();
    assert_eq!(judged.len(), 1);
    assert_eq!(
        judged[0].context["actor"]["id"],
        json!("desktop-app"),
        "a second initialize does not rename the actor: {}",
        judged[0].context
    );
}

#[tokio::test]
async fn a_cancelled_forwarded_request_frees_its_id_and_a_late_answer_to_it_is_dropped() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    for id in [1, 3] {
        let request = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"resources/list"}}"#);
        send(&mut ends.client, &request).await;
        assert_eq!(next(&mut ends.to_upstream).await, request);
        let cancel = format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{id}}}}}"#
        );
        send(&mut ends.client, &cancel).await;
        assert_eq!(
            next(&mut ends.to_upstream).await,
            cancel,
            "the cancel is forwarded"
        );
    }
    // The server will not answer id 1: the gate no longer holds it (the entry is gone).
    let again = r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#;
    send(&mut ends.client, again).await;
    assert_eq!(next(&mut ends.to_upstream).await, again, "id 1 is free again");
    // A server that answers id 3 anyway: the answer is dropped, the client reads the pong.
    ping_reaches_upstream_next(&mut ends, 2).await;
    let upstream = ends.upstream.as_mut().unwrap();
    send(upstream, r#"{"jsonrpc":"2.0","id":3,"result":{"resources":[]}}"#).await;
    let pong = r#"{"jsonrpc":"2.0","id":2,"result":{}}"#;
    send(upstream, pong).await;
    assert_eq!(next(&mut ends.to_client).await, pong);
}

#[tokio::test]
async fn a_batch_from_the_upstream_is_split_and_its_tools_list_loses_denied_tools() {
    let sidecar = MockSidecar::allow_all();
    let mut ends = start(&sidecar.endpoint());
    for id in [9, 10] {
        let request = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
        send(&mut ends.client, &request).await;
        next(&mut ends.to_upstream).await;
    }
    let batch = r#"[{"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"read_file","inputSchema":{}},{"name":"move_file","inputSchema":{}}]}},{"level":30,"msg":"log"},{"jsonrpc":"2.0","id":10,"result":{"tools":[{"name":"move_file","inputSchema":{}}]}}]"#;
    send(ends.upstream.as_mut().unwrap(), batch).await;
    let first: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(
        first,
        json!({"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"read_file","inputSchema":{}}]}})
    );
    let second: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(second, json!({"jsonrpc":"2.0","id":10,"result":{"tools":[]}}));
}

#[tokio::test]
async fn a_receipt_call_answered_inside_a_batch_is_answered_once_not_timed_out() {
    let sidecar = MockSidecar::allow_all();
    let dir = tempfile::tempdir().unwrap();
    let mut ends = start_receipts(&sidecar, dir.path(), Duration::from_millis(300));
    send(
        &mut ends.client,
        &call(1, "write_file", json!({"path": "/data/a"})),
    )
    .await;
    let forwarded: Value = serde_json::from_str(&next(&mut ends.to_upstream).await).unwrap();
    assert_eq!(forwarded["id"], json!(1), "forwarded on a receipt");
    let answer = json!({"jsonrpc":"2.0","id":1,"result":{"content":[]}});
    send(ends.upstream.as_mut().unwrap(), &json!([answer]).to_string()).await;
    let got: Value = serde_json::from_str(&next(&mut ends.to_client).await).unwrap();
    assert_eq!(got, answer);
    // Past the bound, no second answer (an error) for id 1: the client reads the pong next.
    tokio::time::sleep(Duration::from_millis(600)).await;
    ping_reaches_upstream_next(&mut ends, 2).await;
    let pong = r#"{"jsonrpc":"2.0","id":2,"result":{}}"#;
    send(ends.upstream.as_mut().unwrap(), pong).await;
    assert_eq!(next(&mut ends.to_client).await, pong);
}
