//! The default [`Transport`]: HTTP/1.1 over `ureq`, configured so that none of its defaults
//! can turn into a false ALLOW, a hang or a spurious BLOCK.
//!
//! - a whole-request deadline (ureq has none by default);
//! - redirects are responses, not followed (a 3xx then fails safe);
//! - 4xx/5xx are responses, so the sidecar's error text reaches the reason;
//! - no proxy from the environment (a proxy variable must not reroute a loopback sidecar);
//! - names resolved through a small cache, so a guard on a warm connection spawns no
//!   resolver thread;
//! - a request that fails on a pooled connection the server had already closed, before any
//!   response byte, is sent once more on a fresh connection;
//! - a request leaves in one write, with no socket option set on a warm connection
//!   ([`wire`]).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{ConnectionDetails, Connector, DefaultConnector, NextTimeout};
use ureq::Agent;

use super::{HttpRequest, HttpResponse, Transport, TransportError};

mod wire;

/// Addresses of a name and when they expire.
type Resolved = (Vec<SocketAddr>, Instant);

type AgentConfig = ureq::config::ConfigBuilder<ureq::typestate::AgentScope>;

thread_local! {
    /// Connections opened by requests made on this thread.
    static OPENED_ON_THIS_THREAD: Cell<u64> = const { Cell::new(0) };
}

/// How long a resolved address is reused before the name is looked up again.
const DNS_TTL: Duration = Duration::from_secs(30);

/// The default transport: a `ureq` agent with a keep-alive pool shared by every thread
/// that uses the client.
///
/// ```
/// use std::sync::Arc;
/// use sentinel_runtime::unversioned::transport::UreqTransport;
/// use sentinel_runtime::SentinelClient;
///
/// // Kept by the caller too, to read its counters (feature `testing`).
/// let transport = Arc::new(UreqTransport::new(4));
/// let client = SentinelClient::builder("http://localhost:4000")
///     .transport(Arc::clone(&transport))
///     .build()?;
/// # #[cfg(feature = "testing")]
/// assert_eq!(transport.name_lookups(), 0, "nothing was sent yet");
/// # Ok::<(), sentinel_runtime::BuildError>(())
/// ```
pub struct UreqTransport {
    pooled: Agent,
    fresh: Agent,
    connections: Arc<AtomicU64>,
    #[cfg(feature = "testing")]
    resolver: CachingResolver,
}

impl UreqTransport {
    /// A transport keeping at most `max_idle_connections` idle connections per host.
    pub fn new(max_idle_connections: usize) -> Self {
        UreqTransport::build(max_idle_connections, |config| config)
    }

    /// A transport for `https://` sidecars (feature `tls`): rustls, verifying the server
    /// against `tls`'s roots, optionally presenting a client certificate.
    ///
    /// # Errors
    ///
    /// [`TlsError`](crate::tls::TlsError) when a PEM in `tls` holds no certificate or no
    /// private key (key material is never part of the message).
    ///
    /// ```
    /// use sentinel_runtime::unversioned::transport::{TlsOptions, UreqTransport};
    ///
    /// // The platform's roots; `.root_ca_pem(…)` for a private CA.
    /// let transport = UreqTransport::with_tls(16, &TlsOptions::new())?;
    /// let error = UreqTransport::with_tls(16, &TlsOptions::new().root_ca_pem("not a PEM")).err().unwrap();
    /// println!("{error}");
    /// # drop(transport);
    /// # Ok::<(), sentinel_runtime::unversioned::transport::TlsError>(())
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn with_tls(
        max_idle_connections: usize,
        tls: &crate::tls::TlsOptions,
    ) -> Result<Self, crate::tls::TlsError> {
        let tls = tls.to_ureq()?;
        Ok(UreqTransport::build(max_idle_connections, move |config| {
            config.tls_config(tls.clone())
        }))
    }

    fn build(max_idle_connections: usize, customize: impl Fn(AgentConfig) -> AgentConfig) -> Self {
        let connections = Arc::new(AtomicU64::new(0));
        let resolver = CachingResolver::default();
        let agent = |idle: usize| {
            let config = customize(Agent::config_builder())
                .max_redirects(0)
                .http_status_as_error(false)
                .proxy(None)
                .user_agent(concat!("sentinel-rust/", env!("CARGO_PKG_VERSION")))
                .max_idle_connections(idle.max(1).saturating_mul(4))
                .max_idle_connections_per_host(idle)
                .max_idle_age(Duration::from_secs(4))
                .build();
            let connector = DefaultConnector::new()
                .chain(CountingConnector(Arc::clone(&connections)))
                .chain(wire::WireConnector);
            Agent::with_parts(config, connector, resolver.clone())
        };
        UreqTransport {
            pooled: agent(max_idle_connections),
            fresh: agent(0),
            connections,
            #[cfg(feature = "testing")]
            resolver,
        }
    }

    /// How many times a host name was looked up in the system resolver (the answer is then
    /// reused for 30 s; IP addresses are never looked up). For tests and benchmarks
    /// (feature `testing`).
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn name_lookups(&self) -> u64 {
        self.resolver.lookups.load(Ordering::Relaxed)
    }

    fn send_once(
        &self,
        agent: &Agent,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, ureq::Error> {
        let mut response = if request.method == "GET" {
            let mut builder = agent.get(&*request.url);
            for (name, value) in request.headers.iter() {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder.config().timeout_global(Some(timeout)).build().call()?
        } else {
            let mut builder = agent.post(&*request.url);
            for (name, value) in request.headers.iter() {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder
                .config()
                .timeout_global(Some(timeout))
                .build()
                .send(&request.body[..])?
        };
        let status = response.status().as_u16();
        let headers = crate::protocol::header_pairs(response.headers());
        let limit = request.body_limit as u64;
        // Sized once from Content-Length rather than grown while read; a claimed length is
        // trusted only up to 64 KiB before its bytes arrive (the limit applies as they do).
        let expected = response
            .body()
            .content_length()
            .unwrap_or(0)
            .min(limit)
            .min(64 * 1024);
        let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        let mut reader = response.body_mut().with_config().limit(limit).reader();
        io::Read::read_to_end(&mut reader, &mut body)
            .map_err(ureq::Error::from)
            .map_err(|e| match e {
                // Reading the body only ends in errors of the body itself: never stale.
                ureq::Error::Io(io) => ureq::Error::Io(io::Error::other(format!("reading body: {io}"))),
                other => other,
            })?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new(16)
    }
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UreqTransport")
            .field("connections_opened", &self.connections.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let started = Instant::now();
        let opened_before = OPENED_ON_THIS_THREAD.with(Cell::get);
        match self.send_once(&self.pooled, request, request.timeout) {
            Ok(response) => Ok(response),
            Err(error) => {
                // No connection was opened for this request, so it went out on a pooled
                // one; and the error came before any response byte. That is the signature
                // of a server closing an idle connection under us: it never read the
                // request, so it is safe to send again, once, on a fresh connection.
                // Counted per thread (ureq connects on the calling thread), so other
                // threads opening connections do not hide a reuse.
                let reused = OPENED_ON_THIS_THREAD.with(Cell::get) == opened_before;
                let remaining = request.timeout.saturating_sub(started.elapsed());
                if request.replayable && reused && is_closed_before_response(&error) && !remaining.is_zero() {
                    return self.send_once(&self.fresh, request, remaining).map_err(map_error);
                }
                Err(map_error(error))
            }
        }
    }

    #[cfg(feature = "testing")]
    fn connections_opened(&self) -> Option<u64> {
        Some(self.connections.load(Ordering::Relaxed))
    }

    fn discard_last_connection(&self) {
        wire::retire_last_used();
    }
}

fn is_closed_before_response(error: &ureq::Error) -> bool {
    matches!(error, ureq::Error::Io(e) if matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    ))
}

fn map_error(error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::HostNotFound => {
            TransportError::Connect(io::Error::new(io::ErrorKind::NotFound, "host not found"))
        }
        ureq::Error::ConnectionFailed => TransportError::Connect(io::Error::other("connection failed")),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => TransportError::Connect(e),
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => TransportError::Timeout,
        ureq::Error::BodyExceedsLimit(limit) => TransportError::BodyTooLarge(limit as usize),
        ureq::Error::Io(e) => TransportError::Io(e),
        ureq::Error::Protocol(e) => TransportError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("HTTP protocol error: {e}"),
        )),
        // ureq's error enum is non-exhaustive: whatever it grows also fails safe.
        other => TransportError::Other(other.to_string()),
    }
}

/// Counts the TCP connections the agent opens (it only asks its connectors for new ones).
#[derive(Debug)]
struct CountingConnector(Arc<AtomicU64>);

impl<In: ureq::unversioned::transport::Transport> Connector<In> for CountingConnector {
    type Out = In;

    fn connect(&self, _details: &ConnectionDetails, chained: Option<In>) -> Result<Option<In>, ureq::Error> {
        if chained.is_some() {
            self.0.fetch_add(1, Ordering::Relaxed);
            OPENED_ON_THIS_THREAD.with(|opened| opened.set(opened.get() + 1));
        }
        Ok(chained)
    }
}

/// Resolves names once and keeps the answer for [`DNS_TTL`]; IP literals never reach DNS.
#[derive(Debug, Clone, Default)]
struct CachingResolver {
    cache: Arc<Mutex<HashMap<String, Resolved>>>,
    /// How many times the system resolver was asked (each on a thread of its own).
    lookups: Arc<AtomicU64>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().ok_or_else(|| ureq::Error::BadUri("no host".into()))?;
        let port = uri
            .port_u16()
            .or_else(|| match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            })
            .ok_or_else(|| ureq::Error::BadUri("no port".into()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => self.lookup(format!("{host}:{port}"), *timeout.after)?,
        };
        let mut resolved = self.empty();
        for addr in addrs.into_iter().take(16) {
            resolved.push(addr);
        }
        if resolved.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(resolved)
    }
}

impl CachingResolver {
    fn lookup(&self, host_port: String, timeout: Duration) -> Result<Vec<SocketAddr>, ureq::Error> {
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((addrs, expires)) = cache.get(&host_port) {
                if *expires > now {
                    return Ok(addrs.clone());
                }
            }
        }
        // The system resolver cannot be cancelled, so it runs on its own thread and the
        // caller stops waiting at the deadline.
        let (tx, rx) = mpsc::sync_channel(1);
        let name = host_port.clone();
        self.lookups.fetch_add(1, Ordering::Relaxed);
        std::thread::Builder::new()
            .name("sentinel-dns".into())
            .spawn(move || {
                let _ = tx.send(name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
            })
            .map_err(ureq::Error::Io)?;
        let addrs = match rx.recv_timeout(timeout) {
            Ok(Ok(addrs)) => addrs,
            Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => return Err(ureq::Error::HostNotFound),
            Err(mpsc::RecvTimeoutError::Timeout) => return Err(ureq::Error::Timeout(ureq::Timeout::Resolve)),
        };
        if addrs.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(host_port, (addrs.clone(), now + DNS_TTL));
        }
        Ok(addrs)
    }
}
