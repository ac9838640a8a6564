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
            check["outcome"] = json!(if self.verdict == Verdict::Block {
                "fail"
            } else {
                "inconclusive"
            });
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
    connections: usize,
}

/// A real HTTP/1.1 Sentinel sidecar on `127.0.0.1`, in a background thread, answering
/// `POST /v1/guard` from a rule. Keeps connections alive, records every guard request,
/// counts the connections it accepted, and stops when dropped, closing every connection
/// (so a client sees a stopped sidecar at once, not at its deadline).
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
    let is_guard = request.method() == hyper::Method::POST && request.uri().path() == "/v1/guard";
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = request.into_body().collect().await.map(|b| b.to_bytes());
    let (status, reply) = match (is_guard, body) {
        (false, _) => (404, json!({"error": "not found"})),
        (true, Err(_)) => (400, json!({"error": "unreadable body"})),
        (true, Ok(body)) => match parse_guard_request(&body, headers) {
            None => (400, json!({"error": "invalid guard request"})),
            Some(parsed) => {
                // The rule may block (a test simulating a slow sidecar): keep it off the
                // thread that serves the other connections.
                let answered = tokio::task::spawn_blocking(move || {
                    let answer = rule(&parsed);
                    (parsed, answer)
                })
                .await;
                match answered {
                    Ok((parsed, answer)) => {
                        seen.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .requests
                            .push(parsed);
                        (200, answer.to_decision())
                    }
                    Err(_) => (500, json!({"error": "internal error"})),
                }
            }
        },
    };
    let mut response = Response::new(Full::new(Bytes::from(reply.to_string())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn parse_guard_request(body: &[u8], headers: Vec<(String, String)>) -> Option<MockRequest> {
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
        headers,
        body,
    })
}
