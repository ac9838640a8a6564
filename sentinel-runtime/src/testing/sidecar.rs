//! [`MockSidecar`]: the handle a test holds; it owns the server thread and stops it when dropped.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::server::serve;
use super::{MockAnswer, MockRequest, Rule, Seen};

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
/// (`sentinel-tests/tests/live_conformance.rs`) holds it to the reference sidecar.
///
/// ```
/// use sentinel_runtime::testing::{MockAnswer, MockSidecar};
/// use sentinel_runtime::{Action, Context, SentinelClient, Verdict};
///
/// let sidecar = MockSidecar::start(|request| {
///     if request.payload["to"] == "acct_evil" {
///         MockAnswer::block("counterparty is sanctioned")
///     } else {
///         MockAnswer::allow()
///     }
/// });
/// let client = SentinelClient::builder(sidecar.endpoint()).build()?;
/// let evil = Action::payment(serde_json::json!({"amount": 1, "from": "a", "to": "acct_evil"}));
/// let decision = client.guard(&evil, &Context::new("test-run"), "fintech.payments");
/// assert_eq!(decision.verdict(), Verdict::Block);
/// assert_eq!(sidecar.requests().len(), 1, "the sidecar saw the call");
/// assert_eq!(sidecar.connections(), 1);
/// assert_eq!(sidecar.endpoint(), format!("http://{}", sidecar.addr()));
///
/// // Stopped (or dropped), it is gone at once: the client fails closed.
/// let endpoint = sidecar.endpoint();
/// sidecar.stop();
/// assert!(client.guard(&evil, &Context::new("test-run"), "fintech.payments").is_fallback());
///
/// // Restarted on the same port, allowing everything:
/// let listener = std::net::TcpListener::bind(endpoint.trim_start_matches("http://"))?;
/// let again = MockSidecar::start_on(listener, |_| MockAnswer::allow());
/// assert!(client.guard(&evil, &Context::new("test-run"), "fintech.payments").allowed());
/// # drop(again);
/// let lenient = MockSidecar::allow_all();
/// # drop(lenient);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MockSidecar {
    addr: SocketAddr,
    pub(super) seen: Arc<Mutex<Seen>>,
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
