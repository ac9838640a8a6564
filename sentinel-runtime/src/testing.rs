//! Test helpers (feature `testing`): [`MockSidecar`], a real HTTP/1.1 sidecar on loopback
//! that answers from a rule you give, so you can test your own guarded tools end to end.
//!
//! ```
//! use sentinel_runtime::testing::{MockAnswer, MockSidecar};
//! use sentinel_runtime::{Action, Context, SentinelClient};
//! use serde_json::json;
//!
//! let sidecar = MockSidecar::start(|request| {
//!     if request.payload["to"] == "acct_evil" {
//!         MockAnswer::block("sanctioned counterparty")
//!     } else {
//!         MockAnswer::allow()
//!     }
//! });
//! let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
//! let decision = client.guard(
//!     &Action::payment(json!({"amount": 5, "from": "a", "to": "acct_evil"})),
//!     &Context::new("run-1"),
//!     "fintech.payments",
//! );
//! assert!(!decision.allowed());
//! assert_eq!(sidecar.requests().len(), 1);
//! ```

use std::convert::Infallible;
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::decision::Verdict;
use crate::protocol;

mod chain;

use chain::{Chain, Entry};

// The adjudication protocol's routes (receipts), kept apart from the guard routes.
#[cfg(feature = "verify")]
mod adjudication;

/// A guard request as the mock sidecar received it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockRequest {
    /// `action.id`.
    pub action_id: String,
    /// `action.type`.
    pub kind: String,
    /// `action.payload`.
    pub payload: Value,
    /// `action.meta`, if sent.
    pub meta: Option<Value>,
    /// `context`.
    pub context: Value,
    /// `context.runId`.
    pub run_id: String,
    /// `policy`.
    pub policy: String,
    /// The whole request body.
    pub body: Value,
    /// The request headers (names lowercase).
    pub headers: Vec<(String, String)>,
}

/// What the mock answers to one guard request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockAnswer {
    verdict: Verdict,
    reason: Option<String>,
    escalation_id: Option<String>,
    approvers: Vec<String>,
}

impl MockAnswer {
    /// `ALLOW`.
    pub fn allow() -> Self {
        MockAnswer {
            verdict: Verdict::Allow,
            reason: None,
            escalation_id: None,
            approvers: Vec::new(),
        }
    }

    /// `BLOCK` with a reason.
    pub fn block(reason: impl Into<String>) -> Self {
        MockAnswer {
            verdict: Verdict::Block,
            reason: Some(reason.into()),
            escalation_id: None,
            approvers: Vec::new(),
        }
    }

    /// `ESCALATE` with a reason and a fresh `esc_…` id.
    pub fn escalate(reason: impl Into<String>) -> Self {
        MockAnswer {
            verdict: Verdict::Escalate,
            reason: Some(reason.into()),
            escalation_id: Some(format!("esc_{}", uuid::Uuid::new_v4())),
            approvers: Vec::new(),
        }
    }

    /// Who may resolve this escalation (`403` for anyone else). Without it, anyone may.
    pub fn with_approvers<S: Into<String>>(mut self, approvers: impl IntoIterator<Item = S>) -> Self {
        self.approvers = approvers.into_iter().map(Into::into).collect();
        self
    }

    /// The answer's checks, as the decision and its record carry them.
    fn checks(&self) -> Value {
        let mut check = json!({"check": "mock", "outcome": "pass", "verdict": self.verdict.as_str()});
        if self.verdict != Verdict::Allow {
            check["outcome"] = json!(if self.verdict == Verdict::Block {
                "fail"
            } else {
                "inconclusive"
            });
        }
        if let Some(reason) = &self.reason {
            check["reason"] = json!(reason);
        }
        if !self.approvers.is_empty() {
            // Where the reference sidecar takes an escalation's approvers from.
            check["details"] = json!({"approvers": self.approvers});
        }
        json!([check])
    }

    fn to_decision(&self, record_id: &str) -> Value {
        let mut decision = json!({
            "verdict": self.verdict.as_str(),
            "recordId": record_id,
            "checks": self.checks(),
        });
        if let Some(reason) = &self.reason {
            decision["reason"] = json!(reason);
        }
        if let Some(id) = &self.escalation_id {
            decision["escalationId"] = json!(id);
        }
        decision
    }
}

type Rule = dyn Fn(&MockRequest) -> MockAnswer + Send + Sync;

struct Seen {
    requests: Vec<MockRequest>,
    connections: usize,
    escalations: Vec<Value>,
    chain: Chain,
    protocol: adjudication::Protocol,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            requests: Vec::new(),
            connections: 0,
            escalations: Vec::new(),
            chain: Chain::new(chain::DEFAULT_SEED),
            protocol: adjudication::Protocol::default(),
        }
    }
}

/// A real HTTP/1.1 Sentinel sidecar on `127.0.0.1`, in a background thread, answering
/// `POST /v1/guard` and `POST /v1/guard/batch` from a rule. Keeps connections alive, records
/// every guard request, counts the connections it accepted, and stops when dropped, closing
/// every connection (so a client sees a stopped sidecar at once, not at its deadline).
///
/// Like the reference sidecar, it appends a signed provenance record for every decision and
/// every human resolution, chained from `GENESIS` and signed with the reference sidecar
/// script's default key (seed bytes 0..31, key id
/// `ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c`), and serves
/// the routes a client reads them with: `GET /v1/records/{id}`, `GET /v1/records` and
/// `GET /v1/export` (with the `tenant`, `runId`, `verdict`, `since`, `until`, `limit`,
/// `offset` filters), `GET /v1/escalations`, `POST /v1/escalations/{id}/resolve`,
/// `GET /v1/verify`, `GET /healthz` and `GET /readyz`. The conformance suite
/// (`tests/live_conformance.rs`) holds it to the reference sidecar.
pub struct MockSidecar {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MockSidecar {
    /// Starts a mock on a free loopback port. Panics if no port can be bound (this is a
    /// test helper).
    pub fn start(rule: impl Fn(&MockRequest) -> MockAnswer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for MockSidecar");
        MockSidecar::start_on(listener, rule)
    }

    /// A mock that allows everything.
    pub fn allow_all() -> Self {
        MockSidecar::start(|_| MockAnswer::allow())
    }

    /// Starts a mock on a listener you bound, for example to restart one on the same port.
    pub fn start_on(
        listener: TcpListener,
        rule: impl Fn(&MockRequest) -> MockAnswer + Send + Sync + 'static,
    ) -> Self {
        let addr = listener.local_addr().expect("a bound listener has an address");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (shutdown, stopped) = oneshot::channel();
        let rule: Arc<Rule> = Arc::new(rule);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the mock sidecar");
        let thread = {
            let seen = Arc::clone(&seen);
            std::thread::Builder::new()
                .name("sentinel-mock".into())
                .spawn(move || runtime.block_on(serve(listener, seen, rule, stopped)))
                .expect("spawn the mock sidecar thread")
        };
        MockSidecar {
            addr,
            seen,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every guard request received so far, in order.
    pub fn requests(&self) -> Vec<MockRequest> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requests
            .clone()
    }

    /// How many TCP connections it has accepted so far.
    pub fn connections(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).connections
    }

    /// Stops the server and closes its connections (dropping it does the same).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MockSidecar {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for MockSidecar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockSidecar")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

async fn serve(
    listener: TcpListener,
    seen: Arc<Mutex<Seen>>,
    rule: Arc<Rule>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                seen.lock().unwrap_or_else(|e| e.into_inner()).connections += 1;
                let (seen, rule) = (Arc::clone(&seen), Arc::clone(&rule));
                let service = service_fn(move |request| answer(request, Arc::clone(&seen), Arc::clone(&rule)));
                connections.spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        }
    }
    // Dropping the tasks closes every connection, idle keep-alive ones included.
    connections.abort_all();
}

async fn answer(
    request: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
    rule: Arc<Rule>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = crate::protocol::header_pairs(request.headers());
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(json_response(400, &json!({"error": "unreadable body"}))),
    };
    if let Some((status, reply)) = adjudication::route(&method, &path, &body, &seen, &rule).await {
        return Ok(json_response(status, &reply));
    }
    let resolve_id = protocol::resolve_id(&path).map(str::to_owned);
    let record_id = path
        .strip_prefix(protocol::RECORDS)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let (status, reply) = match (method, path.as_str(), resolve_id, record_id) {
        (hyper::Method::GET, "/healthz", ..) => (200, json!({"status": "ok"})),
        (hyper::Method::GET, "/readyz", ..) => (200, json!({"status": "ready"})),
        (hyper::Method::POST, protocol::GUARD, ..) => guard(&body, headers, &seen, rule).await,
        (hyper::Method::POST, protocol::GUARD_BATCH, ..) => batch(&body, headers, &seen, rule).await,
        (hyper::Method::GET, protocol::ESCALATIONS, ..) => (200, list_escalations(&lock(&seen), &query)),
        (hyper::Method::POST, _, Some(id), _) => resolve(&mut lock(&seen), &id, &body),
        (hyper::Method::GET, protocol::RECORDS, ..) => (200, Value::Array(lock(&seen).chain.query(&query).0)),
        (hyper::Method::GET, _, _, Some(id)) => match lock(&seen).chain.get(&id) {
            Some(record) => (200, record.clone()),
            None => (404, json!({"error": "record not found"})),
        },
        (hyper::Method::GET, "/v1/export", ..) => (200, export(&lock(&seen), &query)),
        // The mock's chain is built and signed in one place; it is intact by construction.
        (hyper::Method::GET, "/v1/verify", ..) => (200, json!({"ok": true})),
        _ => (404, json!({"error": "not found"})),
    };
    Ok(json_response(status, &reply))
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}

fn json_response(status: u16, reply: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.to_string())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn guard(
    body: &[u8],
    headers: Vec<(String, String)>,
    seen: &Mutex<Seen>,
    rule: Arc<Rule>,
) -> (u16, Value) {
    let Some(parsed) = serde_json::from_slice(body)
        .ok()
        .and_then(|body| parse_guard_request(body, headers))
    else {
        return (400, json!({"error": "invalid guard request"}));
    };
    run_one(parsed, seen, rule).await
}

/// `POST /v1/guard/batch`: at most 256 requests, each decided and recorded in order.
async fn batch(
    body: &[u8],
    headers: Vec<(String, String)>,
    seen: &Mutex<Seen>,
    rule: Arc<Rule>,
) -> (u16, Value) {
    let requests = serde_json::from_slice::<Value>(body).ok().and_then(|mut body| {
        match body.get_mut("requests").map(Value::take) {
            Some(Value::Array(items)) if items.len() <= 256 => items
                .into_iter()
                .map(|item| parse_guard_request(item, headers.clone()))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        }
    });
    let Some(requests) = requests else {
        return (400, json!({"error": "invalid batch request"}));
    };
    let mut decisions = Vec::with_capacity(requests.len());
    for request in requests {
        match run_one(request, seen, Arc::clone(&rule)).await {
            (200, decision) => decisions.push(decision),
            failed => return failed,
        }
    }
    (200, json!({"decisions": decisions}))
}

/// Decides one parsed request by the rule and records it, as the sidecar's `runOne` does.
async fn run_one(parsed: MockRequest, seen: &Mutex<Seen>, rule: Arc<Rule>) -> (u16, Value) {
    // The rule may block (a test simulating a slow sidecar): keep it off the thread that
    // serves the other connections.
    let Ok((parsed, answer)) = tokio::task::spawn_blocking(move || {
        let answer = rule(&parsed);
        (parsed, answer)
    })
    .await
    else {
        return (500, json!({"error": "internal error"}));
    };
    let mut seen = lock(seen);
    let tenant = parsed.context["tenant"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let record_id = seen.chain.append(
        Entry {
            tenant,
            action: parsed.body["action"].clone(),
            context: record_context(&parsed.context),
            checks: answer.checks(),
            verdict: answer.verdict.as_str(),
            reason: answer.reason.clone(),
        },
        now_iso8601(),
    );
    let decision = answer.to_decision(&record_id);
    if let Some(escalation_id) = &answer.escalation_id {
        let mut escalation = json!({
            "id": escalation_id,
            "recordId": record_id,
            "action": parsed.body["action"],
            "approvers": answer.approvers,
            "status": "pending",
            "createdAt": now_iso8601(),
        });
        if let Some(reason) = &answer.reason {
            escalation["reason"] = json!(reason);
        }
        seen.escalations.push(escalation);
    }
    seen.requests.push(parsed);
    (200, decision)
}

/// The context a record keeps: `runId`, and `provider`, `model`, `actor` when set (the
/// sidecar's `toRecordContext`; the tenant and trace are not kept there).
fn record_context(context: &Value) -> Value {
    let mut kept = serde_json::Map::new();
    kept.insert("runId".into(), context["runId"].clone());
    for key in ["provider", "model"] {
        if let Some(value) = context[key].as_str().filter(|v| !v.is_empty()) {
            kept.insert(key.into(), json!(value));
        }
    }
    if let Some(actor) = context.get("actor").filter(|a| a.is_object()) {
        kept.insert("actor".into(), actor.clone());
    }
    Value::Object(kept)
}

/// `GET /v1/export`: a page of records, with `nextOffset` when the page is full.
fn export(seen: &Seen, query: &str) -> Value {
    let (records, limit, offset) = seen.chain.query(query);
    let mut page = json!({"format": "json", "count": records.len()});
    if records.len() == limit {
        page["nextOffset"] = json!(offset + limit);
    }
    page["records"] = Value::Array(records);
    page
}

fn list_escalations(seen: &Seen, query: &str) -> Value {
    let wanted = query.split('&').find_map(|pair| pair.strip_prefix("status="));
    Value::Array(
        seen.escalations
            .iter()
            .filter(|e| wanted.is_none_or(|status| e["status"] == status))
            .cloned()
            .collect(),
    )
}

fn resolve(seen: &mut Seen, id: &str, body: &[u8]) -> (u16, Value) {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({"error": "invalid resolve request"}));
    };
    let (Some(decision), Some(approver)) = (request["decision"].as_str(), request["approver"].as_str())
    else {
        return (400, json!({"error": "invalid resolve request"}));
    };
    let verdict = match decision {
        "approve" => Verdict::Allow,
        "deny" => Verdict::Block,
        _ => return (400, json!({"error": "invalid resolve request"})),
    };
    let Some(escalation) = seen.escalations.iter_mut().find(|e| e["id"] == id) else {
        return (404, json!({"error": "escalation not found"}));
    };
    let approvers = escalation["approvers"].as_array().cloned().unwrap_or_default();
    if !approvers.is_empty() && !approvers.iter().any(|a| a == approver) {
        return (
            403,
            json!({"error": "approver not in the escalation approver list"}),
        );
    }
    if escalation["status"] != "pending" {
        return (409, json!({"error": "escalation already resolved"}));
    }
    escalation["status"] = json!(if verdict == Verdict::Allow {
        "approved"
    } else {
        "denied"
    });
    escalation["resolvedBy"] = json!(approver);
    escalation["resolvedAt"] = json!(now_iso8601());
    let escalation = escalation.clone();
    // Chained after the original, about the same action, run and tenant, as the sidecar does.
    let original = escalation["recordId"]
        .as_str()
        .and_then(|record_id| seen.chain.get(record_id))
        .cloned()
        .unwrap_or(Value::Null);
    let entry = Entry {
        tenant: original["tenant"].as_str().map(str::to_owned),
        action: escalation["action"].clone(),
        context: match &original["context"] {
            Value::Null => json!({"runId": format!("escalation_{id}")}),
            context => context.clone(),
        },
        checks: json!([{
            "check": "human.review",
            "outcome": if verdict == Verdict::Allow { "pass" } else { "fail" },
            "verdict": verdict.as_str(),
            "reason": format!("{decision} by {approver}"),
            "details": {"escalationId": id, "originalRecordId": escalation["recordId"]},
        }]),
        verdict: verdict.as_str(),
        reason: Some(format!("human {decision} of escalation {id}")),
    };
    let record_id = seen.chain.append(entry, now_iso8601());
    (200, json!({"escalation": escalation, "recordId": record_id}))
}

/// The current UTC time as `2026-11-24T10:59:26.885Z`.
fn now_iso8601() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (days, seconds) = (now.as_secs() / 86_400, now.as_secs() % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        now.subsec_millis()
    )
}

fn parse_guard_request(body: Value, headers: Vec<(String, String)>) -> Option<MockRequest> {
    let action = body.get("action")?;
    let context = body.get("context")?.clone();
    Some(MockRequest {
        action_id: action.get("id")?.as_str()?.to_owned(),
        kind: action.get("type")?.as_str()?.to_owned(),
        payload: action.get("payload").filter(|p| p.is_object())?.clone(),
        meta: action.get("meta").cloned(),
        run_id: context.get("runId")?.as_str()?.to_owned(),
        context,
        policy: body.get("policy")?.as_str()?.to_owned(),
        headers,
        body,
    })
}
