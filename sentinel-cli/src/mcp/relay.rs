//! The relay between the MCP client and the upstream server: JSON-RPC messages, one a line,
//! passed through byte for byte, except
//!
//! - `tools/call` requests, judged first (each on its own, side by side) and forwarded only
//!   when allowed, else answered here with a failed tool result;
//! - responses to `tools/list`, from which denied tools are removed;
//! - everything addressed to an upstream that is gone, answered here with a JSON-RPC error.
//!
//! Messages are not decoded into rmcp's types and encoded again: what the two sides say
//! reaches the other unchanged, fields this version does not know included. rmcp's model
//! types are used for what the gate reads (`tools/call` parameters) and writes (tool results,
//! errors).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ErrorCode, ErrorData};
use sentinel::Denied;
use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::judge::{denial, Execution, Judge, Judgement};

/// How long a call run on a receipt may wait for the upstream's answer; after it the
/// execution is reported FAILED and the client gets an error (a late answer is dropped).
pub const EXECUTION_BOUND: Duration = Duration::from_secs(300);

/// How long the relay waits.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// For the upstream to exit, and for calls still being judged, once the client is gone.
    pub grace: Duration,
    /// For the upstream's answer to a call run on a receipt ([`EXECUTION_BOUND`]).
    pub execution: Duration,
}

/// The protocol version from which a tool result carries `resultType`.
const RESULT_TYPE_SINCE: &str = "2026-07-28";

/// What a forwarded request awaits, to treat its response.
#[derive(Debug)]
enum Awaiting {
    ToolsList,
    Initialize,
    Other,
    /// A call run on a receipt: its executor waits for the answer to report the execution.
    Executed(oneshot::Sender<Value>),
    /// A call the client already has its answer to (a receipt call that timed out): the
    /// upstream's late answer is dropped, never a second answer to the id.
    Abandoned,
}

/// Why a call run on a receipt did not succeed.
#[derive(Debug)]
enum Executed {
    /// Never forwarded: no validated receipt.
    Denied(Denied),
    /// Forwarded; the upstream failed it or went away (the client has its answer).
    Upstream(String),
    /// Forwarded; the upstream did not answer in time (the client has no answer yet).
    Unanswered(String),
    /// Never forwarded, for this reason (the client has no answer yet).
    Refused(String),
}

impl From<Denied> for Executed {
    fn from(denied: Denied) -> Self {
        Executed::Denied(denied)
    }
}

impl std::fmt::Display for Executed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Executed::Denied(denied) => write!(f, "{denied}"),
            Executed::Upstream(why) | Executed::Unanswered(why) | Executed::Refused(why) => f.write_str(why),
        }
    }
}

#[derive(Default)]
struct State {
    /// Why the upstream cannot be reached; `None` while it runs.
    down: Option<String>,
    to_upstream: Option<mpsc::UnboundedSender<String>>,
    /// Requests forwarded upstream and not answered yet, by id.
    pending: HashMap<String, Awaiting>,
    /// `tools/call` requests being judged, and those of them the client cancelled.
    judging: HashSet<String>,
    cancelled: HashSet<String>,
    protocol_version: Option<String>,
}

/// One MCP session through the gate.
pub struct Relay {
    judge: Arc<Judge>,
    to_client: mpsc::UnboundedSender<String>,
    state: Mutex<State>,
    execution_bound: Duration,
}

/// The upstream's side of the relay: where to write it and what it answered.
pub struct UpstreamLink {
    /// Lines to the upstream server; `None` when it could not be started.
    pub writer: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Lines from it.
    pub reader: Option<Box<dyn AsyncBufRead + Send + Unpin>>,
    /// Why it is unreachable from the start (it could not be started).
    pub failed: Option<String>,
}

/// Relays one session until the client closes its side; then returns, once the upstream's
/// last answers have been passed on (or the upstream went away). `upstream_gone` resolves
/// to why the upstream stopped, once its output ends.
pub async fn run<R, W, F>(
    judge: Arc<Judge>,
    client_in: R,
    client_out: W,
    upstream: UpstreamLink,
    upstream_gone: F,
    bounds: Bounds,
) where
    R: AsyncBufRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
    F: std::future::Future<Output = String> + Send + 'static,
{
    let (to_client, from_relay) = mpsc::unbounded_channel::<String>();
    let client_writer = tokio::spawn(write_lines(client_out, from_relay));
    let relay = Arc::new(Relay {
        judge,
        to_client,
        state: Mutex::new(State::default()),
        execution_bound: bounds.execution,
    });
    let upstream_reader = match (upstream.writer, upstream.reader, upstream.failed) {
        (Some(writer), Some(reader), None) => {
            let (to_upstream, lines) = mpsc::unbounded_channel::<String>();
            relay.lock().to_upstream = Some(to_upstream);
            tokio::spawn(write_lines(writer, lines));
            let relay = relay.clone();
            Some(tokio::spawn(async move {
                relay.read_upstream(reader).await;
                let why = upstream_gone.await;
                relay.upstream_down(why);
            }))
        }
        (_, _, failed) => {
            relay.upstream_down(failed.unwrap_or_else(|| "the upstream MCP server is not connected".into()));
            None
        }
    };

    relay.clone().read_client(client_in).await;

    // The client is done: closing the upstream's input asks it to exit; its last answers
    // still reach the client.
    relay.lock().to_upstream = None;
    if let Some(mut reader) = upstream_reader {
        // An upstream that does not exit in time is dropped, which kills it.
        if tokio::time::timeout(bounds.grace, &mut reader).await.is_err() {
            reader.abort();
            relay.upstream_down(format!(
                "the upstream MCP server did not exit within {} s of the client closing; stopped",
                bounds.grace.as_secs_f32()
            ));
        }
    }
    drop(relay);
    // Calls still being judged (a guard up to its timeout, a wait for a human) hold the
    // writer open; the client is gone, so they get the grace period, not their full time.
    let _ = tokio::time::timeout(bounds.grace, client_writer).await;
}

async fn write_lines<W: AsyncWrite + Unpin>(mut out: W, mut lines: mpsc::UnboundedReceiver<String>) {
    while let Some(line) = lines.recv().await {
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        if out.write_all(&bytes).await.is_err() || out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.shutdown().await;
}

/// A JSON-RPC id as a map key (a number and a string that look alike stay apart).
fn id_key(id: &Value) -> String {
    id.to_string()
}

impl Relay {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send_client(&self, message: &Value) {
        let _ = self.to_client.send(message.to_string());
    }

    fn send_error(&self, id: &Value, code: ErrorCode, message: String) {
        let error = ErrorData::new(code, message, None);
        self.send_client(&json!({"jsonrpc": "2.0", "id": id, "error": error}));
    }

    async fn read_client<R: AsyncBufRead + Unpin>(self: Arc<Self>, mut input: R) {
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            // Read strictly: a line the gate cannot read as the server would is answered
            // here, never forwarded unjudged (it might be a `tools/call`).
            match super::strict_json::parse(text) {
                // A batch (MCP before 2025-06-18): each message on its own.
                Ok(Value::Array(batch)) if !batch.is_empty() => {
                    for message in batch {
                        self.clone().on_client_value(message, None);
                    }
                }
                Ok(message) => self.clone().on_client_value(message, Some(text)),
                Err(e) => self.send_error(
                    &Value::Null,
                    ErrorCode::PARSE_ERROR,
                    format!("the gate could not read this message as strict JSON: {e}"),
                ),
            }
        }
    }

    /// One message from the client: an object is relayed (from `text`, its line, when it
    /// was alone on it); anything else (an empty batch, a nested one, a bare value) is an
    /// invalid request, answered here.
    fn on_client_value(self: Arc<Self>, message: Value, text: Option<&str>) {
        if !message.is_object() {
            return self.send_error(
                &Value::Null,
                ErrorCode::INVALID_REQUEST,
                "a JSON-RPC message must be an object".into(),
            );
        }
        let raw = text.map_or_else(|| message.to_string(), str::to_owned);
        self.on_client_message(message, raw);
    }

    fn on_client_message(self: Arc<Self>, message: Value, raw: String) {
        let method = message.get("method").and_then(Value::as_str);
        let id = message.get("id").cloned();
        if let (Some(_), Some(id)) = (method, &id) {
            let key = id_key(id);
            let in_use = {
                let state = self.lock();
                state.pending.contains_key(&key) || state.judging.contains(&key)
            };
            if in_use {
                // Its answer could not be told from the earlier request's: refused, never
                // forwarded (and the earlier one keeps its entry).
                return self.send_error(
                    id,
                    ErrorCode::INVALID_REQUEST,
                    format!("request id {id} is already in use by a request not answered yet"),
                );
            }
        }
        match (method, id) {
            (Some("tools/call"), Some(id)) => self.judge_call(id, &message),
            (Some(method), Some(id)) => {
                let awaiting = match method {
                    "tools/list" => Awaiting::ToolsList,
                    "initialize" => {
                        let name = message.pointer("/params/clientInfo/name").and_then(Value::as_str);
                        self.judge.client_initialized(name);
                        Awaiting::Initialize
                    }
                    _ => Awaiting::Other,
                };
                self.forward_request(&id, awaiting, raw);
            }
            // A call without an id expects no answer, so it cannot be refused visibly; it is
            // dropped, never forwarded unjudged (a server might run it).
            (Some("tools/call"), None) => {
                eprintln!("sentinelctl mcp: dropped a tools/call without an id (a call must be a request)");
            }
            (Some("notifications/cancelled"), None) => {
                if let Some(request) = message.pointer("/params/requestId") {
                    let key = id_key(request);
                    let mut state = self.lock();
                    if state.judging.contains(&key) {
                        state.cancelled.insert(key);
                    } else {
                        // A server SHOULD NOT answer a cancelled request, so its entry is
                        // dropped now (else the id would be held, and the entry kept,
                        // forever). An answer that comes anyway matches no pending request
                        // and is dropped (`on_upstream_message`). A receipt call's executor
                        // stops waiting (its sender dropped) and reports the execution FAILED.
                        state.pending.remove(&key);
                    }
                }
                self.forward_raw(raw);
            }
            // Notifications, and answers to the upstream's own requests.
            _ => self.forward_raw(raw),
        }
    }

    /// Forwards a request, or answers it with an error when the upstream is gone (and
    /// returns `false`). A judged call leaves `judging` in the same step: its id is never
    /// free, for a request reusing it, before its answer is on its way.
    fn forward_request(&self, id: &Value, awaiting: Awaiting, raw: String) -> bool {
        let key = id_key(id);
        let mut state = self.lock();
        state.judging.remove(&key);
        if state.cancelled.remove(&key) {
            // Cancelled while it was judged (a receipt call's adjudication): not run, and
            // not answered.
            return false;
        }
        let sent = match (&state.down, &state.to_upstream) {
            (None, Some(upstream)) => upstream.send(raw).is_ok(),
            _ => false,
        };
        if sent {
            state.pending.insert(key, awaiting);
            return true;
        }
        let why = state
            .down
            .clone()
            .unwrap_or_else(|| "the upstream MCP server is not connected".into());
        // Queued while the id is still held.
        self.send_error(id, ErrorCode::INTERNAL_ERROR, why);
        false
    }

    /// A judged call that was answered here (or needs no answer): its id is free again.
    /// Called after the answer is queued, so a request reusing the id comes after it.
    fn done_judging(&self, key: &str) {
        let mut state = self.lock();
        state.judging.remove(key);
        state.cancelled.remove(key);
    }

    /// Forwards a call run on a receipt and waits for the upstream's answer, which also
    /// goes to the client as it is: a result that is not an error is the execution's
    /// result; anything else fails it.
    async fn forward_and_wait(&self, id: &Value, raw: String) -> Result<Value, Executed> {
        let (answered, answer) = oneshot::channel();
        if !self.forward_request(id, Awaiting::Executed(answered), raw) {
            return Err(Executed::Upstream(
                "the upstream MCP server is gone (or the client cancelled the call)".into(),
            ));
        }
        let answer = match await_answer(answer, self.execution_bound).await {
            Err(Executed::Unanswered(why)) => {
                // The client gets an error for this id now; the upstream's late answer, if
                // it comes, is dropped (the id stays in use until then).
                let key = id_key(id);
                let mut state = self.lock();
                if matches!(state.pending.get(&key), Some(Awaiting::Executed(_))) {
                    state.pending.insert(key, Awaiting::Abandoned);
                }
                return Err(Executed::Unanswered(why));
            }
            answer => answer?,
        };
        match answer.get("result") {
            Some(result) if result.get("isError") != Some(&Value::Bool(true)) => Ok(result.clone()),
            _ => Err(Executed::Upstream(
                "the upstream MCP server answered with an error".into(),
            )),
        }
    }

    /// Runs a call as the protected executor: forwarded only on a receipt the sidecar
    /// validated for it (for a call resuming an approved escalation, a receipt adjudicated
    /// with that approval), its execution reported after the upstream answered. An
    /// escalation parks the call; a resumed one is forgotten, whatever came of it.
    async fn execute(self: Arc<Self>, id: Value, raw: String, execution: Execution) {
        let relay = self.clone();
        let handle = tokio::runtime::Handle::current();
        let call_id = id.clone();
        let Execution {
            request,
            resuming,
            fingerprint,
        } = execution;
        let resumed = resuming.is_some();
        let outcome = tokio::task::spawn_blocking(move || match relay.judge.receipts() {
            Some(receipts) => {
                let forward = || handle.block_on(relay.forward_and_wait(&call_id, raw));
                match &resuming {
                    Some(escalation_id) => receipts.execute_approved(escalation_id, &request, forward),
                    None => receipts.execute(&request, forward),
                }
            }
            None => Err(Executed::Refused(
                "BLOCK: the call was not carried out; its rule needs receipts, and the gate has no [receipts] table"
                    .into(),
            )),
        })
        .await;
        let key = id_key(&id);
        if resumed {
            self.judge.unpark(&fingerprint);
        } else if let Ok(Err(Executed::Denied(denied))) = &outcome {
            if let Some(escalation_id) = denied.escalation_id() {
                self.judge.park(fingerprint, escalation_id);
            }
        }
        match outcome {
            // Forwarded: the client has the upstream's answer (or the error the relay sent
            // when it could not forward), and the id has left `judging`.
            Ok(Ok(_)) | Ok(Err(Executed::Upstream(_))) => {}
            Ok(Err(Executed::Unanswered(why))) => self.send_error(&id, ErrorCode::INTERNAL_ERROR, why),
            // Never forwarded: answered here, then the id is free.
            Ok(Err(Executed::Denied(denied))) => {
                self.send_result(&id, denial(denied));
                self.done_judging(&key);
            }
            Ok(Err(Executed::Refused(why))) => {
                self.send_result(
                    &id,
                    CallToolResult::error(vec![rmcp::model::ContentBlock::text(why)]),
                );
                self.done_judging(&key);
            }
            Err(e) => {
                self.send_result(&id, gate_failed(&e));
                // Forwarded before the panic, the id is pending (and left `judging` then).
                if !self.lock().pending.contains_key(&key) {
                    self.done_judging(&key);
                }
            }
        }
    }

    fn forward_raw(&self, raw: String) {
        if let Some(upstream) = &self.lock().to_upstream {
            let _ = upstream.send(raw);
        }
    }

    fn judge_call(self: Arc<Self>, id: Value, message: &Value) {
        let params = message
            .get("params")
            .cloned()
            .map(serde_json::from_value::<CallToolRequestParams>);
        let params = match params {
            Some(Ok(params)) => params,
            // What the gate cannot read, it cannot judge: refused, never forwarded.
            Some(Err(e)) => {
                return self.send_error(
                    &id,
                    ErrorCode::INVALID_PARAMS,
                    format!("invalid tools/call parameters: {e}"),
                )
            }
            None => {
                return self.send_error(
                    &id,
                    ErrorCode::INVALID_PARAMS,
                    "tools/call without parameters".into(),
                )
            }
        };
        let raw = message.to_string();
        let key = id_key(&id);
        self.lock().judging.insert(key.clone());
        tokio::spawn(async move {
            let judge = self.judge.clone();
            let judged =
                tokio::task::spawn_blocking(move || judge.judge(&params.name, params.arguments.as_ref()))
                    .await;
            let cancelled = {
                let mut state = self.lock();
                let cancelled = state.cancelled.remove(&key);
                if cancelled {
                    state.judging.remove(&key);
                }
                cancelled
            };
            if cancelled {
                // The client gave up on it: nothing is run and nothing is answered.
                return;
            }
            // The id stays in `judging` until the call is forwarded (then it is pending) or
            // its answer is queued: a request reusing it meanwhile is refused.
            match judged {
                Ok(Judgement::Forward) => {
                    self.forward_request(&id, Awaiting::Other, raw);
                }
                Ok(Judgement::Refuse(result)) => {
                    self.send_result(&id, result);
                    self.done_judging(&key);
                }
                Ok(Judgement::Execute(request)) => self.execute(id, raw, *request).await,
                Err(e) => {
                    self.send_result(&id, gate_failed(&e));
                    self.done_judging(&key);
                }
            }
        });
    }

    fn send_result(&self, id: &Value, mut result: CallToolResult) {
        let current = self
            .lock()
            .protocol_version
            .as_deref()
            .is_some_and(|version| version >= RESULT_TYPE_SINCE);
        if !current {
            // Absent means complete; older clients do not know the field.
            result.result_type = None;
        }
        self.send_client(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    async fn read_upstream<R: AsyncBufRead + Unpin>(&self, mut input: R) {
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if text.trim().is_empty() {
                continue;
            }
            for line in self.on_upstream_line(text) {
                let _ = self.to_client.send(line);
            }
        }
    }

    /// The lines to pass on for one line from the upstream. A batch (MCP before
    /// 2025-06-18 allows them; later revisions do not) is split into its members, each
    /// treated as a line of its own: an answer inside a batch is tied to its request (a
    /// `tools/list` filtered, a receipt call's answer given to its executor) like any other.
    fn on_upstream_line(&self, text: &str) -> Vec<String> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(batch)) => batch
                .into_iter()
                .filter_map(|message| self.on_upstream_message(message, None))
                .collect(),
            Ok(message) => self
                .on_upstream_message(message, Some(text))
                .into_iter()
                .collect(),
            Err(_) => {
                not_json_rpc(text.len());
                Vec::new()
            }
        }
    }

    /// The line to pass on for one message from the upstream (`text` is its line, when it
    /// was alone on it), if any.
    fn on_upstream_message(&self, mut message: Value, text: Option<&str>) -> Option<String> {
        // An MCP client must only ever read JSON-RPC: anything else (a server's stray log
        // line, even one in JSON such as pino's) is not passed on. Its text is not repeated.
        let rpc = message.get("jsonrpc") == Some(&json!("2.0"))
            && (message.get("id").is_some() || message.get("method").is_some());
        if !rpc {
            let len = text.map_or_else(|| message.to_string().len(), str::len);
            not_json_rpc(len);
            return None;
        }
        let raw = text.map_or_else(|| message.to_string(), str::to_owned);
        let is_response = message.get("method").is_none();
        if !is_response || message["id"].is_null() {
            // A request or notification, or an error about a message the server could not
            // read (its id unknown).
            return Some(raw);
        }
        let key = id_key(&message["id"]);
        let awaiting = self.lock().pending.remove(&key);
        Some(match awaiting {
            Some(Awaiting::ToolsList) => {
                if let Some(tools) = message.pointer_mut("/result/tools").and_then(Value::as_array_mut) {
                    let before = tools.len();
                    tools.retain(|tool| {
                        tool.get("name")
                            .and_then(Value::as_str)
                            .is_none_or(|name| self.judge.rules().lists(name))
                    });
                    if tools.len() != before {
                        return Some(message.to_string());
                    }
                }
                raw
            }
            Some(Awaiting::Executed(answered)) => {
                if answered.send(message).is_err() {
                    // Its executor stopped waiting (the bound ran out, or the client
                    // cancelled) before it could mark the id abandoned: the client has, or
                    // needs, no other answer from here.
                    eprintln!(
                        "sentinelctl mcp: dropped the upstream MCP server's late answer to request {key} ({} bytes; the client already had an error for it)",
                        raw.len()
                    );
                    return None;
                }
                raw
            }
            Some(Awaiting::Initialize) => {
                let version = message.pointer("/result/protocolVersion").and_then(Value::as_str);
                self.lock().protocol_version = version.map(str::to_owned);
                raw
            }
            Some(Awaiting::Other) => raw,
            Some(Awaiting::Abandoned) => {
                eprintln!(
                    "sentinelctl mcp: dropped the upstream MCP server's late answer to request {key} (the client already had an error for it)"
                );
                return None;
            }
            // No request waits for it: the client cancelled it (its id freed then), or it
            // answers nothing the client asked. Passed on, it could be read as the answer
            // to a later request, or be an unfiltered tool list.
            None => {
                eprintln!(
                    "sentinelctl mcp: dropped an answer from the upstream MCP server to request {key}, which no request awaits (cancelled, or never sent)"
                );
                return None;
            }
        })
    }

    /// The upstream is gone: every request it still owed an answer gets an error, and so
    /// does every later one.
    fn upstream_down(&self, why: String) {
        let owed: Vec<String> = {
            let mut state = self.lock();
            state.down = Some(why.clone());
            state.to_upstream = None;
            state
                .pending
                .drain()
                // The client already has its answer to an abandoned call.
                .filter(|(_, awaiting)| !matches!(awaiting, Awaiting::Abandoned))
                .map(|(id, _)| id)
                .collect()
        };
        for id in owed {
            let id: Value = serde_json::from_str(&id).unwrap_or(Value::Null);
            self.send_error(&id, ErrorCode::INTERNAL_ERROR, why.clone());
        }
    }
}

/// Says on stderr that a line from the upstream was dropped, giving its length, never its
/// text (a log line may carry anything).
fn not_json_rpc(len: usize) {
    eprintln!(
        "sentinelctl mcp: dropped a line from the upstream MCP server that is not a JSON-RPC message ({len} bytes)"
    );
}

/// The upstream's answer to a call run on a receipt, waited for at most `bound`.
async fn await_answer(answer: oneshot::Receiver<Value>, bound: Duration) -> Result<Value, Executed> {
    match tokio::time::timeout(bound, answer).await {
        Ok(Ok(answer)) => Ok(answer),
        // Dropped: the upstream went away, or the client cancelled the call.
        Ok(Err(_)) => Err(Executed::Upstream(
            "the upstream MCP server went away (or the client cancelled the call) before answering".into(),
        )),
        Err(_) => Err(Executed::Unanswered(format!(
            "the upstream MCP server did not answer within {} s; the execution is reported as failed",
            bound.as_secs()
        ))),
    }
}

/// The tool result of a call the gate failed on (a panic while judging): refused.
fn gate_failed(e: &tokio::task::JoinError) -> CallToolResult {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(format!(
        "BLOCK: the call was not carried out; the gate failed while judging it ({e})"
    ))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::config::ContextConfig;
    use crate::mcp::rules::RuleSet;

    #[tokio::test]
    async fn an_execution_the_upstream_never_answers_fails_at_the_bound() {
        let (_answered, answer) = oneshot::channel::<Value>();
        let outcome = await_answer(answer, Duration::from_millis(50)).await;
        assert!(
            matches!(&outcome, Err(Executed::Unanswered(why)) if why.contains("did not answer within")),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn an_execution_whose_wait_is_dropped_fails_at_once() {
        let (answered, answer) = oneshot::channel::<Value>();
        drop(answered);
        let outcome = await_answer(answer, Duration::from_secs(600)).await;
        assert!(matches!(outcome, Err(Executed::Upstream(_))), "{outcome:?}");
    }

    /// The race the `Abandoned` mark cannot close alone: the executor stopped waiting, and
    /// the answer arrived before it marked the id.
    #[test]
    fn an_answer_whose_executor_stopped_waiting_is_dropped_not_passed_on() {
        let client = sentinel::SentinelClient::builder("http://127.0.0.1:9")
            .build()
            .unwrap();
        let judge = Judge::new(client, None, RuleSet::default(), ContextConfig::default());
        let (to_client, _from_relay) = mpsc::unbounded_channel();
        let relay = Relay {
            judge: Arc::new(judge),
            to_client,
            state: Mutex::new(State::default()),
            execution_bound: Duration::from_secs(1),
        };
        let (answered, answer) = oneshot::channel();
        drop(answer);
        relay
            .lock()
            .pending
            .insert(id_key(&json!(1)), Awaiting::Executed(answered));
        assert!(relay
            .on_upstream_line(r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#)
            .is_empty());
        assert!(relay.lock().pending.is_empty());
    }
}
