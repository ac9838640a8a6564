//! The HTTP exchange under a guard, behind a small trait: the extension point for a
//! custom HTTP stack, and the way tests script a sidecar's answers. [`UreqTransport`] is
//! the default.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

mod http;

pub use self::http::UreqTransport;

/// One HTTP request the client wants sent, as a [`Transport`] receives it.
///
/// ```
/// use sentinel_runtime::unversioned::transport::{HttpRequest, HttpResponse};
/// use sentinel_runtime::{Action, Context, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000")
///     .header("Authorization", "Bearer my-token")
///     .transport(|request: &HttpRequest| {
///         assert_eq!((request.method, &*request.url), ("POST", "http://localhost:4000/v1/guard"));
///         assert_eq!(request.header("authorization"), Some("Bearer my-token"));
///         assert!(request.replayable && !request.body.is_empty());
///         Ok(HttpResponse::new(200, r#"{"verdict":"BLOCK","recordId":"rec_9","checks":[]}"#))
///     })
///     .build()
///     .unwrap();
/// let decision = client.guard(&Action::payment(serde_json::json!({})), &Context::new("r"), "p");
/// assert_eq!(decision.record_id(), Some("rec_9"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpRequest {
    /// `POST` or `GET`.
    pub method: &'static str,
    /// The full URL, such as `http://localhost:4000/v1/guard`.
    pub url: Arc<str>,
    /// Headers to send: `content-type` first, then the client's extra headers (shared
    /// with the client: a guard does not copy them).
    pub headers: Arc<[(String, String)]>,
    /// The request body (empty for `GET`).
    pub body: Vec<u8>,
    /// How long the whole exchange may take, from connect to the last body byte.
    pub timeout: Duration,
    /// Read at most this many body bytes; a longer body is an error.
    pub body_limit: usize,
    /// `true` when sending it twice is harmless: a `GET`, or a guard (the sidecar sees the
    /// same action id again). A transport may then resend it once when a pooled connection
    /// turns out to have been closed by the server. Never `true` for a resolve or a batch.
    pub replayable: bool,
}

impl HttpRequest {
    /// The value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    /// Header values are redacted: they carry tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("body_limit", &self.body_limit)
            .field("replayable", &self.replayable)
            .finish()
    }
}

/// Prints header names with their values replaced, for `Debug` output.
pub(crate) struct RedactedHeaders<'a>(pub(crate) &'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

/// What came back: a status, headers and the whole body (up to the request's limit).
///
/// ```
/// use sentinel_runtime::unversioned::transport::HttpResponse;
///
/// let busy = HttpResponse::new(429, r#"{"error":"rate limited"}"#).with_header("Retry-After", "1");
/// assert_eq!(busy.header("retry-after"), Some("1"));
/// assert_eq!(busy.status, 429);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Response headers (names lowercase).
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// The value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why no response could be had. Every variant makes the guard fail safe.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The connection could not be made (refused, unreachable, DNS failure).
    Connect(io::Error),
    /// The deadline passed.
    Timeout,
    /// The body was longer than the limit.
    BodyTooLarge(usize),
    /// The connection broke, or the peer did not speak HTTP/1.1 properly.
    Io(io::Error),
    /// Anything else, including a panic inside a custom transport.
    Other(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Connect(why) => write!(f, "connect failed: {why}"),
            TransportError::Timeout => f.write_str("deadline exceeded"),
            TransportError::BodyTooLarge(limit) => write!(f, "response body exceeds {limit} bytes"),
            TransportError::Io(why) => write!(f, "connection error: {why}"),
            TransportError::Other(why) => f.write_str(why),
        }
    }
}

/// `Display` already says what the `io::Error` said, so `source()` is `None` (match
/// [`Connect`](Self::Connect) or [`Io`](Self::Io) to reach it).
impl std::error::Error for TransportError {}

/// Sends one HTTP request and returns the whole response.
///
/// The client's default is an HTTP/1.1 transport over `ureq` with a keep-alive pool. Inject
/// another with [`SentinelClientBuilder::transport`](crate::SentinelClientBuilder::transport)
/// — any `Fn(&HttpRequest) -> Result<HttpResponse, TransportError>` closure is one:
///
/// ```
/// use sentinel_runtime::unversioned::transport::{HttpRequest, HttpResponse};
/// use sentinel_runtime::{Action, Context, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000")
///     .transport(|_req: &HttpRequest| {
///         Ok(HttpResponse::new(200, r#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#))
///     })
///     .build()
///     .unwrap();
/// let decision = client.guard(&Action::payment(serde_json::json!({})), &Context::new("r"), "p");
/// assert!(decision.allowed());
/// ```
///
/// A transport must honour `request.timeout` and `request.body_limit`. A panic inside it
/// is caught by the client and becomes a fail-safe decision.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request`, returning the response or why there is none.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;

    /// How many TCP connections this transport has opened so far, if it counts them. For
    /// tests and benchmarks (feature `testing`).
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    fn connections_opened(&self) -> Option<u64> {
        None
    }

    /// The client did not honour the answer to the last request this thread sent (it was
    /// malformed): the connection it came on must not carry another request, lest a late
    /// answer meant for that one be read as the next one's. A transport without a pool has
    /// nothing to do.
    fn discard_last_connection(&self) {}
}

impl<F> Transport for F
where
    F: Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
{
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self(request)
    }
}

/// A shared transport, so a test (or a pool of clients) can keep a handle on it.
impl<T: Transport> Transport for std::sync::Arc<T> {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        (**self).send(request)
    }

    #[cfg(feature = "testing")]
    fn connections_opened(&self) -> Option<u64> {
        (**self).connections_opened()
    }

    fn discard_last_connection(&self) {
        (**self).discard_last_connection()
    }
}
