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

use std::collections::HashSet;
use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::decision::Verdict;

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
}

impl MockAnswer {
    /// `ALLOW`.
    pub fn allow() -> Self {
        MockAnswer {
            verdict: Verdict::Allow,
            reason: None,
            escalation_id: None,
        }
    }

    /// `BLOCK` with a reason.
    pub fn block(reason: impl Into<String>) -> Self {
        MockAnswer {
            verdict: Verdict::Block,
            reason: Some(reason.into()),
            escalation_id: None,
        }
    }

    /// `ESCALATE` with a reason and a fresh `esc_…` id.
    pub fn escalate(reason: impl Into<String>) -> Self {
        MockAnswer {
            verdict: Verdict::Escalate,
            reason: Some(reason.into()),
            escalation_id: Some(format!("esc_{}", uuid::Uuid::new_v4())),
        }
    }

    fn to_decision(&self) -> Value {
        let mut check = json!({"check": "mock", "outcome": "pass", "verdict": self.verdict.as_str()});
        let mut decision = json!({
            "verdict": self.verdict.as_str(),
            "recordId": format!("rec_{}", uuid::Uuid::new_v4()),
            "checks": [],
        });
        if self.verdict != Verdict::Allow {
            check["outcome"] = json!(if self.verdict == Verdict::Block { "fail" } else { "inconclusive" });
        }
        if let Some(reason) = &self.reason {
            check["reason"] = json!(reason);
            decision["reason"] = json!(reason);
        }
        if let Some(id) = &self.escalation_id {
            decision["escalationId"] = json!(id);
        }
        decision["checks"] = json!([check]);
        decision
    }
}

type Rule = dyn Fn(&MockRequest) -> MockAnswer + Send + Sync;

#[derive(Default)]
struct Seen {
    requests: Vec<MockRequest>,
    peers: HashSet<SocketAddr>,
}

/// A real HTTP/1.1 Sentinel sidecar on `127.0.0.1`, in a background thread, answering
/// `POST /v1/guard` from a rule. Keeps connections alive, records every guard request,
/// counts the connections that carried them, and stops when dropped.
pub struct MockSidecar {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
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
    pub fn start_on(listener: TcpListener, rule: impl Fn(&MockRequest) -> MockAnswer + Send + Sync + 'static) -> Self {
        let addr = listener.local_addr().expect("a bound listener has an address");
        let server = Arc::new(tiny_http::Server::from_listener(listener, None).expect("serve on the listener"));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let rule: Arc<Rule> = Arc::new(rule);
        let thread = {
            let (server, seen, stop) = (Arc::clone(&server), Arc::clone(&seen), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("sentinel-mock".into())
                .spawn(move || serve(&server, &seen, &stop, &*rule))
                .expect("spawn the mock sidecar thread")
        };
        MockSidecar {
            addr,
            server,
            seen,
            stop,
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
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }

    /// How many distinct client connections carried requests so far.
    pub fn connections(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).peers.len()
    }

    /// Stops the server and closes its connections (dropping it does the same).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
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
        f.debug_struct("MockSidecar").field("addr", &self.addr).finish_non_exhaustive()
    }
}

fn serve(server: &tiny_http::Server, seen: &Mutex<Seen>, stop: &AtomicBool, rule: &Rule) {
    while !stop.load(Ordering::SeqCst) {
        let mut request = match server.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(_) => break,
        };
        if let Some(peer) = request.remote_addr() {
            seen.lock().unwrap_or_else(|e| e.into_inner()).peers.insert(*peer);
        }
        let mut body = Vec::new();
        let (status, answer) = if request.as_reader().read_to_end(&mut body).is_err() {
            (400, json!({"error": "unreadable body"}))
        } else if *request.method() != tiny_http::Method::Post || request.url() != "/v1/guard" {
            (404, json!({"error": "not found"}))
        } else {
            match parse_guard_request(&body, request.headers()) {
                Some(parsed) => {
                    let answer = rule(&parsed);
                    seen.lock().unwrap_or_else(|e| e.into_inner()).requests.push(parsed);
                    (200, answer.to_decision())
                }
                None => (400, json!({"error": "invalid guard request"})),
            }
        };
        let response = tiny_http::Response::from_data(answer.to_string())
            .with_status_code(status)
            .with_header(tiny_http::Header::from_bytes("content-type", "application/json").expect("static header"));
        let _ = request.respond(response);
    }
}

fn parse_guard_request(body: &[u8], headers: &[tiny_http::Header]) -> Option<MockRequest> {
    let body: Value = serde_json::from_slice(body).ok()?;
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
        headers: headers
            .iter()
            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_owned()))
            .collect(),
        body,
    })
}
