//! A prototype, for measurement only: a minimal HTTP/1.1 keep-alive transport on `std`
//! alone, to see what a guard over loopback costs when the request goes out in one write
//! and the pooled connection is not probed before and after each use (ureq 3 writes the
//! head and the body in two `send`s and probes the socket twice with a non-blocking
//! `recv`, 12 syscalls a guard against 2 for the raw baseline). BENCHMARKS.md proposes it.
//!
//! `http://` only; the response must carry `Content-Length` (the sidecar's does); a
//! response with `connection: close` is not pooled; an error on a pooled connection before
//! any response byte is retried once on a fresh connection, as `UreqTransport` does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sentinel::unversioned::transport::{HttpRequest, HttpResponse, Transport};
use sentinel::TransportError;

/// How much later than the deadline a socket timeout left from an earlier request may fire
/// before it is set again (saves two `setsockopt` calls a request).
const TIMEOUT_SLACK: Duration = Duration::from_millis(10);

/// A connection and the socket timeout it has.
struct Conn {
    reader: BufReader<TcpStream>,
    timeout: Option<Duration>,
}

/// The prototype transport.
pub struct LeanTransport {
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
    opened: AtomicU64,
}

impl LeanTransport {
    /// Keeps at most `max_idle` idle connections (one host: the client's sidecar).
    pub fn new(max_idle: usize) -> Self {
        LeanTransport {
            idle: Mutex::new(Vec::with_capacity(max_idle)),
            max_idle,
            opened: AtomicU64::new(0),
        }
    }

    fn connect(&self, authority: &str, deadline: Instant) -> Result<Conn, TransportError> {
        use std::net::ToSocketAddrs;
        let addr = authority
            .to_socket_addrs()
            .map_err(TransportError::Connect)?
            .next()
            .ok_or_else(|| {
                TransportError::Connect(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "host not found",
                ))
            })?;
        let stream =
            TcpStream::connect_timeout(&addr, remaining(deadline)?).map_err(TransportError::Connect)?;
        stream.set_nodelay(true).map_err(TransportError::Io)?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Conn {
            reader: BufReader::with_capacity(8 * 1024, stream),
            timeout: None,
        })
    }
}

/// Why one exchange failed, and whether any response byte had arrived.
struct Failed {
    error: TransportError,
    before_response: bool,
}

fn remaining(deadline: Instant) -> Result<Duration, TransportError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(TransportError::Timeout)
    } else {
        Ok(left)
    }
}

fn io_failure(e: std::io::Error, before_response: bool) -> Failed {
    let error = match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::Io(e),
    };
    Failed {
        error,
        before_response,
    }
}

/// Writes `message` in one write and reads one response; `Ok((response, keep_alive))`.
fn exchange(
    conn: &mut Conn,
    message: &[u8],
    request: &HttpRequest,
    deadline: Instant,
) -> Result<(HttpResponse, bool), Failed> {
    let fail = |error, before_response| Failed {
        error,
        before_response,
    };
    let left = remaining(deadline).map_err(|e| fail(e, true))?;
    let stream = conn.reader.get_mut();
    // A timeout set for an earlier request is kept while it ends at most TIMEOUT_SLACK
    // after this request's deadline.
    if conn
        .timeout
        .is_none_or(|set| set > left + TIMEOUT_SLACK || set < left)
    {
        stream
            .set_write_timeout(Some(left))
            .and_then(|()| stream.set_read_timeout(Some(left)))
            .map_err(|e| io_failure(e, true))?;
        conn.timeout = Some(left);
    }
    stream.write_all(message).map_err(|e| io_failure(e, true))?;
    let conn = &mut conn.reader;

    let mut line = String::with_capacity(64);
    if conn.read_line(&mut line).map_err(|e| io_failure(e, true))? == 0 {
        return Err(fail(
            TransportError::Io(std::io::Error::other("closed before the response")),
            true,
        ));
    }
    let status: u16 = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| {
            fail(
                TransportError::Io(std::io::Error::other("malformed status line")),
                false,
            )
        })?;
    let mut headers = Vec::new();
    let (mut length, mut keep_alive) = (None, line.starts_with("HTTP/1.1"));
    loop {
        line.clear();
        if conn.read_line(&mut line).map_err(|e| io_failure(e, false))? == 0 {
            return Err(fail(
                TransportError::Io(std::io::Error::other("closed in the head")),
                false,
            ));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(fail(
                TransportError::Io(std::io::Error::other("malformed header")),
                false,
            ));
        };
        let (name, value) = (name.to_ascii_lowercase(), value.trim().to_owned());
        match name.as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
            "transfer-encoding" => {
                return Err(fail(
                    TransportError::Other("prototype: no chunked bodies".into()),
                    false,
                ))
            }
            _ => {}
        }
        headers.push((name, value));
    }
    let length = length.ok_or_else(|| {
        fail(
            TransportError::Other("prototype: no Content-Length".into()),
            false,
        )
    })?;
    if length > request.body_limit {
        return Err(fail(TransportError::BodyTooLarge(request.body_limit), false));
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).map_err(|e| io_failure(e, false))?;
    let mut response = HttpResponse::new(status, body);
    response.headers = headers;
    Ok((response, keep_alive))
}

impl Transport for LeanTransport {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let deadline = Instant::now() + request.timeout;
        let rest = request
            .url
            .strip_prefix("http://")
            .ok_or_else(|| TransportError::Other("prototype: http:// only".into()))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };

        let mut message = Vec::with_capacity(256 + request.body.len());
        let _ = write!(
            message,
            "{} {path} HTTP/1.1\r\nhost: {authority}\r\n",
            request.method
        );
        for (name, value) in request.headers.iter() {
            let _ = write!(message, "{name}: {value}\r\n");
        }
        let _ = write!(message, "content-length: {}\r\n\r\n", request.body.len());
        message.extend_from_slice(&request.body);

        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let reused = pooled.is_some();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => self.connect(authority, deadline)?,
        };
        let (response, keep_alive) = match exchange(&mut conn, &message, request, deadline) {
            Ok(answer) => answer,
            Err(failed) if reused && failed.before_response => {
                conn = self.connect(authority, deadline)?;
                exchange(&mut conn, &message, request, deadline).map_err(|f| f.error)?
            }
            Err(failed) => return Err(failed.error),
        };
        if keep_alive {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < self.max_idle {
                idle.push(conn);
            }
        }
        Ok(response)
    }

    fn connections_opened(&self) -> Option<u64> {
        Some(self.opened.load(Ordering::Relaxed))
    }
}
