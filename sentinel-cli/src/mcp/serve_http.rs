//! `--listen`: the MCP client served over streamable HTTP.
//!
//! rmcp's server-side transport speaks the HTTP side (POST, the SSE streams, `Mcp-Session-Id`,
//! DELETE, the `Host` check); its session manager routes each message of a session. Each
//! session's messages are handed, as lines, to a relay of its own — the very relay that
//! serves stdio, with a new judge (a `runId` per MCP session) and a new upstream — so every
//! `tools/call` is judged exactly as on stdio. No rmcp handler ever sees a session's message:
//! [`GateSessions`] takes each new session's transport for the relay, and gives rmcp a
//! transport that only ends with the session.
//!
//! Over HTTP, messages arrive as rmcp's types and leave as them, so (as for `--upstream-url`)
//! a field rmcp 3.11 does not model is dropped on the way.
//!
//! The 2026-07-28 lifecycle without sessions (`server/discover`, per-request `_meta`) is not
//! relayed: such a request reaches [`SessionsOnly`], which supports only the versions with an
//! `initialize` handshake, so it is answered `-32022` (unsupported protocol version) and a
//! client falls back to `initialize`. Nothing it sends is forwarded.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rmcp::model::{
    ClientJsonRpcMessage, ErrorCode, ErrorData, ProtocolVersion, RequestId, ServerJsonRpcMessage,
};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, SessionError,
};
use rmcp::transport::streamable_http_server::session::{ServerSseMessage, SessionId, SessionManager};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::transport::{Transport, WorkerTransport};
use rmcp::{RoleServer, ServerHandler};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{Session, Sessions};

/// The path the gate serves MCP at.
pub const MCP_PATH: &str = "/mcp";

/// How much a session's relay may hold unread, either way.
const PIPE_BYTES: usize = 1 << 20;

/// A session with no message either way for this long is closed. Longer than the longest
/// wait for a human (`wait_for_human_secs` ≤ 3600) and a receipt execution's bound, so a
/// call being judged never loses its session.
const SESSION_IDLE: Duration = Duration::from_secs(3600 + 600);

/// How long the upstream has to answer a session's `initialize`; past it the session is
/// closed (its upstream stopped) and the client's POST answered with an error, never left
/// hanging.
#[cfg(not(test))]
const INITIALIZE_BOUND: Duration = Duration::from_secs(60);
#[cfg(test)]
const INITIALIZE_BOUND: Duration = Duration::from_secs(2);

/// How many of the upstream's messages wait, at most, for the answer to a session's
/// `initialize` (rmcp takes the session's first answer as it); later ones are dropped.
const HELD_BEFORE_INITIALIZE: usize = 256;

/// How many messages for the client wait, at most, for rmcp's session to take them; past it
/// the relay's lines are no longer read until it has (and the pipe then holds them back).
const QUEUED_FOR_CLIENT: usize = 64;

/// The default of `--max-sessions`.
pub const DEFAULT_MAX_SESSIONS: u32 = 64;

/// How long open sessions get to end once the gate is asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Whether the gate may listen on `address`: loopback always; beyond only when asked.
pub fn may_listen_on(address: SocketAddr, beyond_loopback: bool) -> Result<(), String> {
    if address.ip().is_loopback() || beyond_loopback {
        return Ok(());
    }
    Err(format!(
        "--listen {address} is beyond loopback: anyone who reaches it could call the upstream's \
         tools (the gate has no authentication of its own). Listen on 127.0.0.1, or add \
         --listen-beyond-loopback to mean it"
    ))
}

/// Serves MCP over streamable HTTP at `address` until the process is asked to stop (Ctrl-C,
/// SIGTERM). Any `Host` is accepted only on an address beyond loopback (which
/// [`may_listen_on`] allowed), where clients use names the gate cannot know.
pub async fn run(address: SocketAddr, sessions: Sessions, max_sessions: usize) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("sentinelctl mcp: cannot listen on {address}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(address);
    eprintln!("sentinelctl mcp: serving MCP over streamable HTTP at http://{bound}{MCP_PATH}");
    let stop = CancellationToken::new();
    let server = Server::new(sessions, !bound.ip().is_loopback(), max_sessions, stop.clone());
    let serving = tokio::spawn(server.clone().serve(listener));
    stopped().await;
    stop.cancel();
    let _ = serving.await;
    server.sessions_ended(SHUTDOWN_GRACE).await;
    ExitCode::SUCCESS
}

/// Resolves when the process is asked to stop.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The HTTP server: rmcp's streamable HTTP service over the gate's sessions.
#[derive(Clone)]
pub struct Server {
    service: StreamableHttpService<SessionsOnly, GateSessions>,
    stop: CancellationToken,
    /// Held by every running session; all dropped once all sessions ended.
    running: Arc<std::sync::Mutex<Option<mpsc::Sender<()>>>>,
    ended: Arc<tokio::sync::Mutex<mpsc::Receiver<()>>>,
    /// Sessions open now (each with its upstream), and how many may be.
    live: Arc<AtomicUsize>,
    max_sessions: usize,
}

impl Server {
    /// A server of `sessions`; `stop` ends it and every session. `any_host` (for an address
    /// beyond loopback) accepts any `Host`; otherwise only loopback names are accepted.
    ///
    /// Every request carrying an `Origin` is refused (403), whatever the address: browsers
    /// send one (on every POST), MCP clients outside a browser send none. So a web page
    /// cannot drive the gate, neither by DNS rebinding nor by a cross-origin request.
    ///
    /// At most `max_sessions` sessions are open at once: a request for another is answered
    /// 503 and starts no upstream.
    pub fn new(sessions: Sessions, any_host: bool, max_sessions: usize, stop: CancellationToken) -> Self {
        let (running, ended) = mpsc::channel(1);
        let running = Arc::new(std::sync::Mutex::new(Some(running)));
        let live = Arc::new(AtomicUsize::new(0));
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(SESSION_IDLE);
        let manager = GateSessions {
            inner,
            sessions: Arc::new(sessions),
            running: running.clone(),
            bridges: Arc::default(),
            live: live.clone(),
            max_sessions,
        };
        // No allowed origin, and validation enforced: any `Origin` is refused.
        let mut config = StreamableHttpServerConfig::default()
            .with_cancellation_token(stop.child_token())
            .enforce_origin_validation();
        if any_host {
            // Clients reach a non-loopback address by names the gate cannot know.
            config = config.disable_allowed_hosts();
        }
        let service = StreamableHttpService::new(|| Ok(SessionsOnly), Arc::new(manager), config);
        Server {
            service,
            stop,
            running,
            ended: Arc::new(tokio::sync::Mutex::new(ended)),
            live,
            max_sessions,
        }
    }

    /// Accepts connections until stopped.
    pub async fn serve(self, listener: tokio::net::TcpListener) {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        eprintln!("sentinelctl mcp: accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = self.stop.cancelled() => return,
            };
            // An answer goes out in several writes (headers, then SSE events): with Nagle's
            // algorithm on, each waits for the client's delayed ACK (~40 ms a call).
            let _ = stream.set_nodelay(true);
            let service = self.service.clone();
            let stop = self.stop.clone();
            let (live, max_sessions) = (self.live.clone(), self.max_sessions);
            tokio::spawn(async move {
                let handler =
                    hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let mut service = service.clone();
                        let live = live.clone();
                        async move {
                            if request.uri().path() != MCP_PATH {
                                return Ok::<_, Infallible>(not_found());
                            }
                            let new_session = request.method() == hyper::Method::POST
                                && !request.headers().contains_key("mcp-session-id");
                            if new_session && live.load(Ordering::SeqCst) >= max_sessions {
                                return Ok(too_many_sessions(max_sessions));
                            }
                            tower_service::Service::call(&mut service, request).await
                        }
                    });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), handler);
                tokio::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => return,
                    _ = stop.cancelled() => {}
                }
                // Stopping: the response under way finishes (its session is closing, so its
                // stream ends), then the connection closes.
                connection.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
            });
        }
    }

    /// Waits (at most `grace`) until every session has ended.
    pub async fn sessions_ended(&self, grace: Duration) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut ended = self.ended.lock().await;
        let _ = tokio::time::timeout(grace, ended.recv()).await;
    }
}

/// The response type of rmcp's service.
type Response = hyper::Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>;

fn not_found() -> Response {
    hyper::Response::builder()
        .status(hyper::StatusCode::NOT_FOUND)
        .body(
            Full::new(Bytes::from(format!(
                "Not Found: the gate serves MCP at {MCP_PATH}"
            )))
            .boxed(),
        )
        .expect("a valid response")
}

fn too_many_sessions(max_sessions: usize) -> Response {
    hyper::Response::builder()
        .status(hyper::StatusCode::SERVICE_UNAVAILABLE)
        .body(
            Full::new(Bytes::from(format!(
                "Service Unavailable: the gate has {max_sessions} MCP sessions open (--max-sessions); try again once one has ended"
            )))
            .boxed(),
        )
        .expect("a valid response")
}

/// rmcp's handler for what arrives outside a session. It never sees a session's message
/// (those go to the relay); what reaches it is the 2026-07-28 lifecycle without sessions,
/// which it refuses by supporting only the versions with an `initialize` handshake.
#[derive(Clone, Copy)]
pub struct SessionsOnly;

impl ServerHandler for SessionsOnly {
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(
            &ProtocolVersion::LATEST_WITH_INITIALIZE,
        ))
    }
}

/// rmcp's in-memory sessions, each new one handed to a relay of its own.
pub struct GateSessions {
    inner: LocalSessionManager,
    sessions: Arc<Sessions>,
    running: Arc<std::sync::Mutex<Option<mpsc::Sender<()>>>>,
    /// Ends a session's bridge (and so its relay and upstream) from outside: rmcp's own
    /// close waits for an `initialize` under way to be answered.
    bridges: Arc<std::sync::Mutex<std::collections::HashMap<SessionId, CancellationToken>>>,
    /// Sessions open now, and how many may be (checked again here: two requests may pass
    /// the HTTP check at once).
    live: Arc<AtomicUsize>,
    max_sessions: usize,
}

impl SessionManager for GateSessions {
    type Error = LocalSessionManagerError;
    type Transport = SessionEnd;

    async fn create_session(&self) -> Result<(SessionId, SessionEnd), Self::Error> {
        let max = self.max_sessions;
        if self
            .live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |live| {
                (live < max).then_some(live + 1)
            })
            .is_err()
        {
            return Err(LocalSessionManagerError::SessionError(SessionError::Io(
                std::io::Error::other(format!("the gate has {max} MCP sessions open (--max-sessions)")),
            )));
        }
        let (id, transport) = match self.inner.create_session().await {
            Ok(created) => created,
            Err(e) => {
                self.live.fetch_sub(1, Ordering::SeqCst);
                return Err(e);
            }
        };
        let live = self.live.clone();
        let (ended, end) = oneshot::channel();
        let session = self.sessions.start_over_http();
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let end_bridge = CancellationToken::new();
        let bridges = self.bridges.clone();
        bridges
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), end_bridge.clone());
        let bridged = id.clone();
        tokio::spawn(async move {
            bridge(transport, session, end_bridge).await;
            bridges.lock().unwrap_or_else(|e| e.into_inner()).remove(&bridged);
            live.fetch_sub(1, Ordering::SeqCst);
            let _ = ended.send(());
            drop(running);
        });
        Ok((id, SessionEnd(Some(end))))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        match tokio::time::timeout(INITIALIZE_BOUND, self.inner.initialize_session(id, message)).await {
            Ok(answer) => answer,
            Err(_) => {
                let end_bridge = self.bridges.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                if let Some(end_bridge) = end_bridge {
                    end_bridge.cancel();
                }
                let _ = self.inner.close_session(id).await;
                Err(LocalSessionManagerError::SessionError(SessionError::Io(
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the upstream MCP server did not answer initialize within {} s; the session is closed",
                            INITIALIZE_BOUND.as_secs()
                        ),
                    ),
                )))
            }
        }
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl futures_core::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(&self, id: &SessionId, message: ClientJsonRpcMessage) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl futures_core::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl futures_core::Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }
}

/// What rmcp serves its handler on for a gate session: nothing arrives on it, and it ends
/// when the session's relay does (then rmcp closes the session).
pub struct SessionEnd(Option<oneshot::Receiver<()>>);

impl Transport<RoleServer> for SessionEnd {
    type Error = std::io::Error;

    fn send(
        &mut self,
        _message: ServerJsonRpcMessage,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        std::future::ready(Err(std::io::Error::other(
            "a gate session's messages go through its relay",
        )))
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        if let Some(end) = self.0.take() {
            let _ = end.await;
        }
        None
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

type SessionTransport = WorkerTransport<LocalSessionWorker>;

/// One message on its way to rmcp's session.
type BoxedSend = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<(), <SessionTransport as Transport<RoleServer>>::Error>>
            + Send,
    >,
>;

/// Moves one session's messages between rmcp's session and the relay's lines until either
/// ends, or `end` is cancelled.
async fn bridge(mut transport: SessionTransport, session: Session, end: CancellationToken) {
    let (relay_side, bridge_side) = tokio::io::duplex(PIPE_BYTES);
    let (relay_in, relay_out) = tokio::io::split(relay_side);
    let relay = tokio::spawn(session.relay(BufReader::new(relay_in), relay_out));
    let (from_relay, mut to_relay) = tokio::io::split(bridge_side);
    let mut from_relay = BufReader::new(from_relay).lines();

    // Sent in order by a task of their own: a send waits for rmcp's session, which may be
    // waiting to hand this loop the client's next message. At most QUEUED_FOR_CLIENT wait
    // in `outbox`, and as many in the channel; while full, no line is read from the relay.
    let (sends, mut queued) = mpsc::channel::<BoxedSend>(QUEUED_FOR_CLIENT);
    let sender = tokio::spawn(async move {
        while let Some(send) = queued.recv().await {
            let _ = send.await;
        }
    });
    let mut outbox = VecDeque::new();
    // rmcp takes the session's first answer as the answer to `initialize`: anything the
    // upstream says before the answer to that very request waits.
    let mut initialize: Option<RequestId> = None;
    let mut initialized = false;
    let mut held = Vec::new();
    loop {
        tokio::select! {
            _ = end.cancelled() => break,
            permit = sends.reserve(), if !outbox.is_empty() => {
                let Ok(permit) = permit else { break };
                if let Some(message) = outbox.pop_front() {
                    permit.send(Box::pin(transport.send(message)));
                }
            }
            message = transport.receive() => {
                let Some(message) = message else { break };
                let line = match client_line(&message) {
                    Ok((line, initialize_id)) => {
                        if !initialized && initialize_id.is_some() {
                            initialize = initialize_id;
                        }
                        line
                    }
                    Err(refusal) => {
                        outbox.extend(refusal.map(|refusal| *refusal));
                        continue;
                    }
                };
                if to_relay.write_all(line.as_bytes()).await.is_err() {
                    break;
                }
            }
            line = from_relay.next_line(), if outbox.len() < QUEUED_FOR_CLIENT => {
                let Ok(Some(line)) = line else { break };
                let Some(message) = server_message(&line) else { continue };
                if !initialized && !answers(&message, initialize.as_ref()) {
                    if held.len() < HELD_BEFORE_INITIALIZE {
                        held.push(message);
                    } else {
                        eprintln!(
                            "sentinelctl mcp: dropped a message from the upstream MCP server sent before its answer to initialize ({HELD_BEFORE_INITIALIZE} already wait)"
                        );
                    }
                    continue;
                }
                initialized = true;
                outbox.push_back(message);
                outbox.extend(held.drain(..));
            }
        }
    }
    // The client's side is closed: the relay closes the upstream's, as when stdin ends.
    // (Shut down, not just dropped: the pipe's other half is still held, so a drop alone
    // would not end the relay's input.)
    let _ = to_relay.shutdown().await;
    drop(to_relay);
    drop(from_relay);
    drop(sends);
    let _ = relay.await;
    let _ = tokio::time::timeout(Duration::from_secs(1), sender).await;
    let _ = transport.close().await;
}

/// Whether `message` answers the request `id`.
fn answers(message: &ServerJsonRpcMessage, id: Option<&RequestId>) -> bool {
    let answered = match message {
        ServerJsonRpcMessage::Response(response) => Some(&response.id),
        ServerJsonRpcMessage::Error(error) => error.id.as_ref(),
        _ => None,
    };
    answered.is_some() && answered == id
}

/// A client's message as a line for the relay, with the id of the `initialize` request it
/// is, if it is one. One that cannot be written is not passed on; if it is a request, it is
/// answered with a JSON-RPC error (the client must not wait for an answer that never comes).
fn client_line(
    message: &ClientJsonRpcMessage,
) -> Result<(String, Option<RequestId>), Option<Box<ServerJsonRpcMessage>>> {
    let value = match serde_json::to_value(message) {
        Ok(value) => value,
        Err(e) => {
            eprintln!("sentinelctl mcp: a message from the client could not be written for the upstream ({e}); dropped");
            let ClientJsonRpcMessage::Request(request) = message else {
                return Err(None);
            };
            return Err(Some(Box::new(ServerJsonRpcMessage::error(
                ErrorData::new(
                    ErrorCode::INTERNAL_ERROR,
                    format!("the gate could not pass this request on: {e}"),
                    None,
                ),
                Some(request.id.clone()),
            ))));
        }
    };
    let initialize = match message {
        ClientJsonRpcMessage::Request(request) if value.get("method") == Some(&Value::from("initialize")) => {
            Some(request.id.clone())
        }
        _ => None,
    };
    Ok((format!("{value}\n"), initialize))
}

/// A line from the relay as rmcp's message. One rmcp cannot read is not passed on; if it
/// answers a request, the client gets a JSON-RPC error for that request instead (it must
/// not wait for an answer that never comes).
fn server_message(line: &str) -> Option<ServerJsonRpcMessage> {
    let e = match serde_json::from_str::<ServerJsonRpcMessage>(line) {
        Ok(message) => return Some(message),
        Err(e) => e,
    };
    let value = serde_json::from_str::<Value>(line).ok();
    let id = value
        .as_ref()
        .filter(|v| v.get("method").is_none())
        .and_then(|v| v.get("id"))
        .and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok());
    eprintln!(
        "sentinelctl mcp: a message for the client could not be sent over streamable HTTP ({e}); dropped"
    );
    let id = id?;
    Some(ServerJsonRpcMessage::error(
        ErrorData::new(
            ErrorCode::INTERNAL_ERROR,
            format!("the gate could not send the upstream MCP server's answer over streamable HTTP: {e}"),
            None,
        ),
        Some(id),
    ))
}
