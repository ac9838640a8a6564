//! The hostile-sidecar matrix: one raw loopback server per fault, each run against a
//! fail-closed and a fail-open client, both through `SentinelClient::guard` (to see the
//! decision) and through a guarded function (to see whether its body ran).
//!
//! Shared by `tests/hostile.rs` (one test per case, runnable by name) and
//! `sentinel-tests/examples/reliability.rs` (the whole matrix as the table in RELIABILITY.md).
#![allow(dead_code)] // each of the two users calls a part

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{idle, read_request, RawServer, ALLOW_BODY};
use sentinel::{Action, Context, Denied, FailMode, GuardDecision, Outcome, SentinelClient, Verdict};
use serde_json::json;

/// The whole-request deadline of every client in the matrix.
const DEADLINE: Duration = Duration::from_millis(400);
/// How far past the deadline a call may return.
const MARGIN: Duration = Duration::from_millis(100);
/// Cases run at once (each case's servers have their own threads).
const WORKERS: usize = 4;
/// How long a misbehaving server keeps a connection at most (far past the deadline).
const HOLD: Duration = Duration::from_secs(3);
const POLICY: &str = "fintech.payments";

// ---------------------------------------------------------------------------------------
// The guarded functions
// ---------------------------------------------------------------------------------------

/// A payment tool. Its body counts how often it ran.
#[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client, skip(ran))]
fn pay(client: &SentinelClient, ran: &AtomicUsize, amount: u64, to: &str) -> Result<u64, Denied> {
    let _ = to;
    ran.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

/// An argument whose serialization always fails.
struct Unserializable;

impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this argument refuses to be serialized",
        ))
    }
}

/// A tool one of whose arguments cannot be described to the sidecar.
#[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client, skip(ran))]
fn pay_unserializable(
    client: &SentinelClient,
    ran: &AtomicUsize,
    amount: u64,
    to: Unserializable,
) -> Result<u64, Denied> {
    let _ = to;
    ran.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Not a trustworthy answer: the fallback of the client's fail mode.
    FailSafe,
    /// A real decision of the sidecar, the same whatever the fail mode (controls).
    Real(Verdict),
    /// A `BLOCK` whatever the fail mode: denied by the client before asking, or refused by
    /// a sidecar that is up and said no (a 4xx other than 408 and 429).
    AlwaysClosed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// A well-formed call.
    Normal,
    /// A call whose arguments cannot be sent: a non-object payload for `guard`, an
    /// argument that fails to serialize for the guarded function.
    Indescribable,
}

struct Fixture {
    endpoint: String,
    /// Servers that serve the case; held so that they live, and stop, with the fixture.
    _servers: Vec<RawServer>,
    /// Servers that must never be contacted (an ALLOW-saying redirect target, or the
    /// sidecar of a call that must be denied before asking).
    untouched: Vec<RawServer>,
    call: Call,
    /// The client's deadline, when not [`DEADLINE`].
    timeout: Option<Duration>,
}

impl Fixture {
    fn server(server: RawServer) -> Fixture {
        Fixture {
            endpoint: server.endpoint(),
            _servers: vec![server],
            untouched: Vec::new(),
            call: Call::Normal,
            timeout: None,
        }
    }

    fn endpoint(endpoint: String) -> Fixture {
        Fixture {
            endpoint,
            _servers: Vec::new(),
            untouched: Vec::new(),
            call: Call::Normal,
            timeout: None,
        }
    }
}

type Setup = Box<dyn Fn() -> Fixture + Send + Sync>;

pub(crate) struct Case {
    pub(crate) name: String,
    fault: String,
    expect: Expect,
    setup: Setup,
}

fn case(
    name: impl Into<String>,
    fault: impl Into<String>,
    expect: Expect,
    setup: impl Fn() -> Fixture + Send + Sync + 'static,
) -> Case {
    Case {
        name: name.into(),
        fault: fault.into(),
        expect,
        setup: Box::new(setup),
    }
}

/// A case whose server answers every request with `bytes`, keeping the connection open.
fn answering(name: impl Into<String>, fault: impl Into<String>, bytes: Vec<u8>) -> Case {
    case(name, fault, Expect::FailSafe, move || {
        Fixture::server(RawServer::answering(bytes.clone()))
    })
}

/// A case whose server runs `handler` on every connection.
fn handling(
    name: impl Into<String>,
    fault: impl Into<String>,
    handler: impl Fn(TcpStream, &AtomicBool) + Send + Sync + Clone + 'static,
) -> Case {
    case(name, fault, Expect::FailSafe, move || {
        Fixture::server(RawServer::start(handler.clone()))
    })
}

/// A `200 OK` with a correct Content-Length around `body`.
fn ok_body(name: impl Into<String>, body: impl Into<Vec<u8>>) -> Case {
    let body = body.into();
    let shown = String::from_utf8_lossy(&body[..body.len().min(70)]).into_owned();
    let fault = format!(
        "200, body `{}`{}",
        shown.replace('`', "'").replace('\u{feff}', "<BOM>"),
        if body.len() > 70 { "…" } else { "" }
    );
    answering(name, fault, response("200 OK", &[], &body))
}

/// An HTTP/1.1 response with the given extra headers and a correct Content-Length.
fn response(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n");
    for header in headers {
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads the request, writes `bytes`, then holds the connection open (silent).
fn write_then_hold(bytes: Vec<u8>) -> impl Fn(TcpStream, &AtomicBool) + Send + Sync + Clone + 'static {
    move |mut stream, stop| {
        let _ = read_request(&mut stream, stop);
        let _ = stream.write_all(&bytes);
        idle(stop, HOLD);
    }
}

/// Reads the request, writes `bytes`, then closes.
fn write_then_close(bytes: Vec<u8>) -> impl Fn(TcpStream, &AtomicBool) + Send + Sync + Clone + 'static {
    move |mut stream, stop| {
        let _ = read_request(&mut stream, stop);
        let _ = stream.write_all(&bytes);
    }
}

/// Reads the request, then writes `bytes` one byte every `every`.
fn trickle(
    bytes: Vec<u8>,
    every: Duration,
) -> impl Fn(TcpStream, &AtomicBool) + Send + Sync + Clone + 'static {
    move |mut stream, stop| {
        let _ = read_request(&mut stream, stop);
        trickle_bytes(&mut stream, stop, &bytes, every);
    }
}

/// Writes `bytes` one byte every `every` (bounded by [`HOLD`] and `stop`), then holds.
fn trickle_bytes(stream: &mut TcpStream, stop: &AtomicBool, bytes: &[u8], every: Duration) {
    let started = Instant::now();
    for byte in bytes {
        if stop.load(Ordering::SeqCst) || started.elapsed() > HOLD || stream.write_all(&[*byte]).is_err() {
            return;
        }
        std::thread::sleep(every);
    }
    idle(stop, HOLD);
}

fn allow_with(extra: &str) -> String {
    format!(r#"{{"verdict":"ALLOW","recordId":"rec_1","checks":[]{extra}}}"#)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `data` as a gzip member holding one stored (uncompressed) deflate block.
fn gzip(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.push(1); // final block, stored
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn refused_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

pub(crate) fn cases() -> Vec<Case> {
    use Expect::*;
    let allow = ALLOW_BODY.as_bytes().to_vec();
    let mut cases = Vec::new();

    // Controls: a real answer is honoured as it is, whatever the fail mode.
    cases.push(answering(
        "control: real ALLOW",
        "200, well-formed ALLOW",
        response("200 OK", &[], &allow),
    ));
    cases.last_mut().unwrap().expect = Real(Verdict::Allow);
    let block = r#"{"verdict":"BLOCK","recordId":"rec_2","checks":[{"check":"schema","outcome":"fail","verdict":"BLOCK"}],"reason":"extra field"}"#;
    cases.push(answering(
        "control: real BLOCK",
        "200, well-formed BLOCK",
        response("200 OK", &[], block.as_bytes()),
    ));
    cases.last_mut().unwrap().expect = Real(Verdict::Block);
    let escalate = r#"{"verdict":"ESCALATE","recordId":"rec_3","checks":[],"escalationId":"esc_1"}"#;
    cases.push(answering(
        "control: real ESCALATE",
        "200, well-formed ESCALATE",
        response("200 OK", &[], escalate.as_bytes()),
    ));
    cases.last_mut().unwrap().expect = Real(Verdict::Escalate);
    {
        let bytes = response("200 OK", &[], &allow);
        cases.push(case(
            "control: client deadline Duration::MAX",
            "200, well-formed ALLOW, to a client built with `.timeout(Duration::MAX)`",
            Real(Verdict::Allow),
            move || Fixture {
                timeout: Some(Duration::MAX),
                ..Fixture::server(RawServer::answering(bytes.clone()))
            },
        ));
    }
    {
        let bytes = response("200 OK", &[], &allow);
        cases.push(case(
            "client-side: arguments cannot be sent",
            "payload not a JSON object / argument fails to serialize (the sidecar would ALLOW)",
            AlwaysClosed,
            move || {
                let server = RawServer::answering(bytes.clone());
                Fixture {
                    endpoint: server.endpoint(),
                    _servers: Vec::new(),
                    untouched: vec![server],
                    call: Call::Indescribable,
                    timeout: None,
                }
            },
        ));
    }

    // Connection-level faults.
    cases.push(case("refused", "nothing listens on the port", FailSafe, || {
        Fixture::endpoint(refused_endpoint())
    }));
    cases.push(case(
        "DNS name does not resolve",
        "`sentinel-sidecar.invalid`",
        FailSafe,
        || Fixture::endpoint("http://sentinel-sidecar.invalid:4000".into()),
    ));
    cases.push(handling(
        "accept then close",
        "accept, close at once (FIN)",
        |stream, _| drop(stream),
    ));
    cases.push(handling(
        "accept then reset",
        "accept, close with the request unread (RST)",
        |stream, stop| {
            idle(stop, Duration::from_millis(50));
            drop(stream)
        },
    ));
    cases.push(handling(
        "read request then close",
        "read the request, close without a byte",
        |mut stream, stop| {
            let _ = read_request(&mut stream, stop);
        },
    ));
    cases.push(handling(
        "accept and never read",
        "accept, never read, never answer",
        |stream, stop| {
            idle(stop, HOLD);
            drop(stream)
        },
    ));
    cases.push(handling(
        "accept and never answer",
        "read the request, never answer",
        |mut stream, stop| {
            let _ = read_request(&mut stream, stop);
            idle(stop, HOLD);
        },
    ));
    cases.push(handling(
        "status line then silence",
        "`HTTP/1.1 200 OK` then nothing",
        write_then_hold(b"HTTP/1.1 200 OK\r\n".to_vec()),
    ));
    cases.push(handling(
        "headers then silence",
        "complete headers (Content-Length 51), then nothing",
        write_then_hold(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                allow.len()
            )
            .into_bytes(),
        ),
    ));
    cases.push(handling(
        "headers trickled",
        "an ALLOW response, one byte every 50 ms from the status line on",
        trickle(response("200 OK", &[], &allow), Duration::from_millis(50)),
    ));
    {
        let mut bytes = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            allow.len()
        )
        .into_bytes();
        let head = bytes.len();
        bytes.extend_from_slice(&allow);
        cases.push(handling(
            "body trickled past the deadline",
            "headers at once, then the ALLOW body one byte every 50 ms",
            move |mut stream, stop| {
                let _ = read_request(&mut stream, stop);
                let _ = stream.write_all(&bytes[..head]);
                trickle_bytes(&mut stream, stop, &bytes[head..], Duration::from_millis(50));
            },
        ));
    }
    {
        let mut bytes =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", allow.len() + 20).into_bytes();
        bytes.extend_from_slice(&allow);
        cases.push(handling(
            "Content-Length longer than the body, then close",
            "Content-Length 71, a 51-byte ALLOW body, close",
            write_then_close(bytes.clone()),
        ));
        cases.push(handling(
            "Content-Length longer than the body, then silence",
            "Content-Length 71, a 51-byte ALLOW body, connection held open",
            write_then_hold(bytes),
        ));
    }
    {
        let mut bytes =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", allow.len() - 2).into_bytes();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "Content-Length shorter than the body",
            "Content-Length 49 on a 51-byte ALLOW body (the decision is cut)",
            bytes,
        ));
    }
    let chunked = |chunks: &str| -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{chunks}"
        )
        .into_bytes()
    };
    cases.push(handling(
        "chunked: bad chunk size",
        "chunk size `zz`",
        write_then_hold(chunked(&format!("zz\r\n{ALLOW_BODY}\r\n0\r\n\r\n"))),
    ));
    cases.push(handling(
        "chunked: chunk size overflows",
        "chunk size `ffffffffffffffffffff` (80 bits)",
        write_then_hold(chunked(&format!(
            "ffffffffffffffffffff\r\n{ALLOW_BODY}\r\n0\r\n\r\n"
        ))),
    ));
    cases.push(handling(
        "chunked: chunk size smaller than the data",
        "chunk size 10, then the 51-byte ALLOW body",
        write_then_hold(chunked(&format!("a\r\n{ALLOW_BODY}\r\n0\r\n\r\n"))),
    ));
    cases.push(handling(
        "chunked: no last chunk, then close",
        "one complete chunk with the ALLOW body, no `0` chunk, close",
        write_then_close(chunked(&format!("{:x}\r\n{ALLOW_BODY}\r\n", allow.len()))),
    ));
    cases.push(handling(
        "chunked: no last chunk, then silence",
        "one complete chunk with the ALLOW body, no `0` chunk, held open",
        write_then_hold(chunked(&format!("{:x}\r\n{ALLOW_BODY}\r\n", allow.len()))),
    ));
    {
        let mut bytes = b"HTTP/1.1 abc OK\r\ncontent-length: 51\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "invalid status line",
            "`HTTP/1.1 abc OK` + ALLOW body",
            bytes,
        ));
        let mut bytes = b"HTTP/1.1 2000 OK\r\ncontent-length: 51\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "four-digit status code",
            "`HTTP/1.1 2000 OK` + ALLOW body",
            bytes,
        ));
    }
    cases.push(handling(
        "not HTTP at all",
        "`SSH-2.0-OpenSSH_9.6` banner, close",
        write_then_close(b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
    ));
    cases.push(handling(
        "HTTP/0.9-style reply, then close",
        "the bare ALLOW body, no status line, close",
        write_then_close(allow.clone()),
    ));
    cases.push(handling(
        "HTTP/0.9-style reply, then silence",
        "the bare ALLOW body, no status line, held open",
        write_then_hold(allow.clone()),
    ));
    cases.push(handling(
        "1xx then nothing",
        "`100 Continue`, then nothing",
        write_then_hold(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
    ));
    cases.push(handling(
        "103 Early Hints then nothing",
        "`103 Early Hints` with a link header, then nothing",
        write_then_hold(b"HTTP/1.1 103 Early Hints\r\nlink: </x>; rel=preload\r\n\r\n".to_vec()),
    ));
    cases.push(handling(
        "endless 1xx",
        "`100 Continue` every 20 ms, never a final answer",
        |mut stream, stop| {
            let _ = read_request(&mut stream, stop);
            let started = Instant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < HOLD {
                if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        },
    ));
    {
        let mut bytes =
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(handling(
            "101 Switching Protocols then an ALLOW body",
            "`101`, then the ALLOW body as the new protocol's bytes",
            write_then_hold(bytes),
        ));
    }
    cases.push(answering(
        "204 No Content",
        "`204`, no body",
        b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
    ));
    {
        let mut bytes = b"HTTP/1.1 204 No Content\r\ncontent-length: 51\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "204 followed by an ALLOW body",
            "`204` with Content-Length 51 and the ALLOW body after it",
            bytes,
        ));
    }
    cases.push(handling(
        "endless headers",
        "1 MiB of header bytes, never terminated",
        |mut stream, stop| {
            let _ = read_request(&mut stream, stop);
            if stream.write_all(b"HTTP/1.1 200 OK\r\nx-pad: ").is_err() {
                return;
            }
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..16 {
                if stop.load(Ordering::SeqCst) || stream.write_all(&chunk).is_err() {
                    return;
                }
            }
            idle(stop, HOLD);
        },
    ));
    {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nthis line is not a header\r\ncontent-length: 51\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "header line without a colon",
            "a header line with no `:` + ALLOW body",
            bytes,
        ));
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 51\r\ncontent-length: 10\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "conflicting Content-Lengths",
            "`content-length: 51` and `content-length: 10` + ALLOW body",
            bytes,
        ));
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(handling(
            "Content-Length u64::MAX",
            "`content-length: 18446744073709551615` + ALLOW body, held open",
            write_then_hold(bytes),
        ));
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "Content-Length overflowing u64",
            "`content-length: 99999999999999999999999` + ALLOW body",
            bytes,
        ));
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: -51\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "negative Content-Length",
            "`content-length: -51` + ALLOW body",
            bytes,
        ));
        let mut bytes = b"HTTP/1.1 200 OK\r\ncontent-length: fifty-one\r\n\r\n".to_vec();
        bytes.extend_from_slice(&allow);
        cases.push(answering(
            "non-numeric Content-Length",
            "`content-length: fifty-one` + ALLOW body",
            bytes,
        ));
    }

    // Redirects towards a server that says ALLOW: never followed, never contacted.
    for status in [
        "300 Multiple Choices",
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let code = &status[..3];
        cases.push(case(
            format!("redirect {code}"),
            format!("`{status}` to an ALLOW-saying server"),
            FailSafe,
            move || {
                let allowing = RawServer::answering(response("200 OK", &[], ALLOW_BODY.as_bytes()));
                let location = format!("location: {}/v1/guard", allowing.endpoint());
                let server = RawServer::answering(response(status, &[&location], b""));
                Fixture {
                    endpoint: server.endpoint(),
                    _servers: vec![server],
                    untouched: vec![allowing],
                    call: Call::Normal,
                    timeout: None,
                }
            },
        ));
    }
    cases.push(answering(
        "304 Not Modified",
        "`304`, no body",
        b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec(),
    ));

    // Every 4xx/5xx class, each with an ALLOW body the client must ignore.
    for status in [
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "405 Method Not Allowed",
        "408 Request Timeout",
        "409 Conflict",
        "410 Gone",
        "413 Content Too Large",
        "415 Unsupported Media Type",
        "418 I'm a teapot",
        "422 Unprocessable Content",
        "429 Too Many Requests",
        "451 Unavailable For Legal Reasons",
        "499 Client Closed Request",
        "500 Internal Server Error",
        "501 Not Implemented",
        "502 Bad Gateway",
        "503 Service Unavailable",
        "504 Gateway Timeout",
        "505 HTTP Version Not Supported",
        "507 Insufficient Storage",
        "599 Network Connect Timeout",
    ] {
        let code = &status[..3];
        let refused = code.starts_with('4') && code != "408" && code != "429";
        let bytes = response(status, &[], &allow);
        cases.push(case(
            format!("status {code}"),
            format!("`{status}` with an ALLOW body"),
            if refused { AlwaysClosed } else { FailSafe },
            move || Fixture::server(RawServer::answering(bytes.clone())),
        ));
    }
    cases.push(answering(
        "status 429 with Retry-After past the deadline",
        "`429`, `retry-after: 1`, ALLOW body",
        response("429 Too Many Requests", &["retry-after: 1"], &allow),
    ));
    cases.push(answering(
        "status 503 with Retry-After past the deadline",
        "`503`, `retry-after: 1`, ALLOW body",
        response("503 Service Unavailable", &["retry-after: 1"], &allow),
    ));
    cases.push(answering(
        "status 429 with an enormous Retry-After",
        "`429`, `retry-after: 18446744073709551615` (u64::MAX seconds), ALLOW body",
        response(
            "429 Too Many Requests",
            &["retry-after: 18446744073709551615"],
            &allow,
        ),
    ));
    cases.push(answering(
        "status 503 with a Retry-After beyond any clock",
        "`503`, `retry-after: 9300000000000000000` (past Instant's range), ALLOW body",
        response(
            "503 Service Unavailable",
            &["retry-after: 9300000000000000000"],
            &allow,
        ),
    ));
    cases.push(answering(
        "status 429 with an HTTP-date Retry-After",
        "`429`, `retry-after: Wed, 21 Oct 2015 07:28:00 GMT`, ALLOW body",
        response(
            "429 Too Many Requests",
            &["retry-after: Wed, 21 Oct 2015 07:28:00 GMT"],
            &allow,
        ),
    ));
    cases.push(answering(
        "status 500, sidecar error body",
        "`500` `{\"error\":\"internal error\"}`",
        response("500 Internal Server Error", &[], br#"{"error":"internal error"}"#),
    ));

    // 200 with a body that is not a well-formed decision.
    cases.push(ok_body("200, empty body", ""));
    cases.push(answering(
        "200, no Content-Length, close-delimited empty body",
        "`200` without framing, then close",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec(),
    ));
    cases.push(ok_body("200, `null`", "null"));
    cases.push(ok_body("200, array holding an ALLOW", format!("[{ALLOW_BODY}]")));
    cases.push(ok_body("200, string", r#""ALLOW""#));
    cases.push(ok_body("200, number", "1"));
    cases.push(ok_body("200, boolean", "true"));
    cases.push(ok_body("200, `{}`", "{}"));
    cases.push(ok_body("200, not JSON (HTML)", "<html><body>ALLOW</body></html>"));
    cases.push(ok_body(
        "200, verdict lowercase",
        r#"{"verdict":"allow","recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, verdict with spaces",
        r#"{"verdict":" ALLOW ","recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, verdict with a NUL",
        r#"{"verdict":"ALLOW\u0000","recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, verdict homoglyph",
        "{\"verdict\":\"ALL\u{039f}W\",\"recordId\":\"rec_1\",\"checks\":[]}",
    ));
    cases.push(ok_body(
        "200, unknown verdict",
        r#"{"verdict":"PERMIT","recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, verdict as number",
        r#"{"verdict":1,"recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, verdict null",
        r#"{"verdict":null,"recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, verdict missing",
        r#"{"recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, duplicate verdict keys (BLOCK, ALLOW)",
        r#"{"verdict":"BLOCK","verdict":"ALLOW","recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, duplicate verdict keys (ALLOW, ALLOW)",
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[],"verdict":"ALLOW"}"#,
    ));
    cases.push(ok_body(
        "200, duplicate key inside a check",
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[{"check":"x","outcome":"fail","outcome":"pass","verdict":"ALLOW"}]}"#,
    ));
    cases.push(ok_body(
        "200, recordId missing",
        r#"{"verdict":"ALLOW","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, recordId empty",
        r#"{"verdict":"ALLOW","recordId":"","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, recordId a number",
        r#"{"verdict":"ALLOW","recordId":1,"checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, recordId null",
        r#"{"verdict":"ALLOW","recordId":null,"checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, ESCALATE without escalationId",
        r#"{"verdict":"ESCALATE","recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, ESCALATE with empty escalationId",
        r#"{"verdict":"ESCALATE","recordId":"rec_1","checks":[],"escalationId":""}"#,
    ));
    cases.push(ok_body(
        "200, ESCALATE with numeric escalationId",
        r#"{"verdict":"ESCALATE","recordId":"rec_1","checks":[],"escalationId":7}"#,
    ));
    cases.push(ok_body(
        "200, checks not an array",
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":{}}"#,
    ));
    cases.push(ok_body(
        "200, checks missing",
        r#"{"verdict":"ALLOW","recordId":"rec_1"}"#,
    ));
    cases.push(ok_body(
        "200, check with unknown outcome",
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[{"check":"x","outcome":"maybe","verdict":"ALLOW"}]}"#,
    ));
    cases.push(ok_body(
        "200, reason not a string",
        allow_with(r#","reason":["ok"]"#),
    ));
    cases.push(ok_body("200, trailing garbage", format!("{ALLOW_BODY} trailing")));
    cases.push(ok_body(
        "200, two JSON documents",
        format!("{ALLOW_BODY}{ALLOW_BODY}"),
    ));
    cases.push(ok_body(
        "200, JSON with a comment",
        r#"{"verdict":"ALLOW", /* yes */ "recordId":"rec_1","checks":[]}"#,
    ));
    cases.push(ok_body(
        "200, single-quoted JSON",
        r#"{'verdict':'ALLOW','recordId':'rec_1','checks':[]}"#,
    ));
    cases.push(ok_body(
        "200, NaN latency",
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[{"check":"x","outcome":"pass","verdict":"ALLOW","latencyMs":NaN}]}"#,
    ));
    cases.push(ok_body(
        "200, number out of range",
        r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[{"check":"x","outcome":"pass","verdict":"ALLOW","latencyMs":1e400}]}"#,
    ));
    {
        // A 50 MiB body, streamed: an ALLOW with a huge member.
        let prefix = br#"{"verdict":"ALLOW","recordId":"rec_1","checks":[],"pad":""#.to_vec();
        let total: usize = 50 * 1024 * 1024;
        cases.push(handling(
            "200, 50 MiB body",
            "an ALLOW padded to 50 MiB (Content-Length 52428800), streamed",
            move |mut stream, stop| {
                let _ = read_request(&mut stream, stop);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&prefix).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = total - prefix.len() - 2;
                while left > 0 && !stop.load(Ordering::SeqCst) {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n;
                }
                let _ = stream.write_all(b"\"}");
            },
        ));
    }
    cases.push(ok_body(
        "200, deeply nested JSON (100 000 levels)",
        allow_with(&format!(
            r#","pad":{}{}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        )),
    ));
    {
        let mut body = br#"{"verdict":"ALLOW","recordId":"rec_"#.to_vec();
        body.extend_from_slice(b"\xff\xfe");
        body.extend_from_slice(br#"","checks":[]}"#);
        cases.push(ok_body("200, invalid UTF-8", body));
        let mut body = br#"{"verdict":"ALLOW","recordId":"rec_"#.to_vec();
        body.extend_from_slice(b"\xc0\xaf");
        body.extend_from_slice(br#"","checks":[]}"#);
        cases.push(ok_body("200, overlong UTF-8", body));
    }
    cases.push(ok_body(
        "200, lone surrogate escape",
        r#"{"verdict":"ALLOW","recordId":"rec_\ud800","checks":[]}"#,
    ));
    cases.push(ok_body("200, UTF-8 BOM", format!("\u{feff}{ALLOW_BODY}")));
    {
        let mut body = vec![0xff, 0xfe];
        for unit in ALLOW_BODY.encode_utf16() {
            body.extend_from_slice(&unit.to_le_bytes());
        }
        cases.push(answering(
            "200, UTF-16 body",
            "the ALLOW body in UTF-16LE with a BOM",
            response("200 OK", &[], &body),
        ));
    }
    cases.push(answering(
        "200, gzip body not asked for",
        "`content-encoding: gzip`, the ALLOW body gzipped",
        response(
            "200 OK",
            &["content-encoding: gzip"],
            &gzip(ALLOW_BODY.as_bytes()),
        ),
    ));
    cases
}

// ---------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Observation {
    verdict: Option<Verdict>,
    fallback: bool,
    record_id: String,
    transport_outcome: Option<Outcome>,
    checks: usize,
    reason: String,
    guard_elapsed: Duration,
    /// `Ok` when the guarded function returned its body's value, else the denial's verdict.
    guarded: Option<Result<(), (Verdict, bool)>>,
    body_runs: usize,
    guarded_elapsed: Duration,
    panics: Vec<String>,
    untouched_contacts: usize,
}

fn panic_text(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

fn observe(case: &Case, mode: FailMode) -> Observation {
    let fixture = (case.setup)();
    let mut seen = Observation::default();
    let client = SentinelClient::builder(&fixture.endpoint)
        .timeout(fixture.timeout.unwrap_or(DEADLINE))
        .fail_mode(mode)
        .build()
        .expect("a valid client");

    let action = match fixture.call {
        Call::Normal => Action::payment(json!({"amount": 100, "to": "vendor_42"})),
        Call::Indescribable => Action::payment(json!([100, "vendor_42"])),
    };
    let started = Instant::now();
    let decision = catch_unwind(AssertUnwindSafe(|| {
        client.guard(&action, &Context::new("run_hostile"), POLICY)
    }));
    seen.guard_elapsed = started.elapsed();
    match decision {
        Ok(decision) => {
            seen.verdict = Some(decision.verdict());
            seen.fallback = decision.is_fallback();
            seen.record_id = decision.record_id().unwrap_or_default().to_owned();
            seen.checks = decision.checks().len();
            seen.transport_outcome = decision
                .checks()
                .iter()
                .find(|c| c.check == GuardDecision::TRANSPORT_CHECK)
                .map(|c| c.outcome);
            seen.reason = decision.reason().unwrap_or_default().to_owned();
        }
        Err(panic) => seen.panics.push(format!("guard: {}", panic_text(panic))),
    }

    let ran = AtomicUsize::new(0);
    let started = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| match fixture.call {
        Call::Normal => pay(&client, &ran, 100, "vendor_42"),
        Call::Indescribable => pay_unserializable(&client, &ran, 100, Unserializable),
    }));
    seen.guarded_elapsed = started.elapsed();
    seen.body_runs = ran.load(Ordering::SeqCst);
    match result {
        Ok(Ok(_)) => seen.guarded = Some(Ok(())),
        Ok(Err(denied)) => seen.guarded = Some(Err((denied.verdict(), denied.is_fallback()))),
        Err(panic) => seen.panics.push(format!("guarded fn: {}", panic_text(panic))),
    }
    seen.untouched_contacts = fixture.untouched.iter().map(RawServer::accepted).sum();
    drop(fixture);
    seen
}

/// What one mode of one case must produce: verdict, whether it is a fallback, whether the
/// body runs.
fn expected(expect: Expect, mode: FailMode) -> (Verdict, bool, bool) {
    match (expect, mode) {
        (Expect::FailSafe, FailMode::Closed) | (Expect::AlwaysClosed, _) => (Verdict::Block, true, false),
        (Expect::FailSafe, FailMode::Open) => (Verdict::Allow, true, true),
        (Expect::Real(verdict), _) => (verdict, false, verdict == Verdict::Allow),
    }
}

fn describe(verdict: Verdict, fallback: bool, body: bool) -> String {
    format!(
        "{verdict}{} · body {}",
        if fallback { " (fallback)" } else { "" },
        if body { "ran" } else { "not run" }
    )
}

/// Every way `seen` departs from what `expect` says for `mode`.
fn problems(expect: Expect, mode: FailMode, seen: &Observation) -> Vec<String> {
    let (verdict, fallback, body) = expected(expect, mode);
    let mut problems = seen.panics.clone();
    if seen.verdict != Some(verdict) {
        problems.push(format!("guard verdict {:?}, expected {verdict}", seen.verdict));
    }
    if seen.fallback != fallback {
        problems.push(format!(
            "guard is_fallback {}, expected {fallback}",
            seen.fallback
        ));
    }
    if fallback {
        if !seen.record_id.is_empty() {
            problems.push(format!("fallback with record id {:?}", seen.record_id));
        }
        let outcome = if verdict == Verdict::Allow {
            Outcome::Inconclusive
        } else {
            Outcome::Fail
        };
        if seen.checks != 1 || seen.transport_outcome != Some(outcome) {
            problems.push(format!(
                "fallback checks: {} checks, transport outcome {:?}",
                seen.checks, seen.transport_outcome
            ));
        }
    } else if seen.record_id.is_empty() {
        problems.push("a real decision without a record id".into());
    }
    match seen.guarded {
        Some(Ok(())) if verdict == Verdict::Allow => {}
        Some(Err((v, fb))) if verdict != Verdict::Allow && v == verdict && fb == fallback => {}
        Some(ref other) => problems.push(format!("guarded fn returned {other:?}")),
        None => {}
    }
    if seen.body_runs != usize::from(body) {
        problems.push(format!(
            "body ran {} times, expected {}",
            seen.body_runs,
            usize::from(body)
        ));
    }
    for (what, elapsed) in [
        ("guard", seen.guard_elapsed),
        ("guarded fn", seen.guarded_elapsed),
    ] {
        if elapsed > DEADLINE + MARGIN {
            problems.push(format!("{what} took {elapsed:?}, over {DEADLINE:?} + {MARGIN:?}"));
        }
    }
    if seen.untouched_contacts != 0 {
        problems.push(format!(
            "a server that must not be contacted got {} connections",
            seen.untouched_contacts
        ));
    }
    problems
}

fn observed_text(seen: &Observation) -> String {
    match seen.verdict {
        Some(verdict) => format!(
            "{} · {} ms",
            describe(verdict, seen.fallback, seen.body_runs > 0),
            seen.guard_elapsed.max(seen.guarded_elapsed).as_millis()
        ),
        None => "PANIC".into(),
    }
}

fn cell(text: &str, max: usize) -> String {
    let mut text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('|', "\\|");
    if let Some((cut, _)) = text.char_indices().nth(max) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

// ---------------------------------------------------------------------------------------
// A case's verdict, and the whole matrix
// ---------------------------------------------------------------------------------------

/// One case, observed in both fail modes, and every way it departs from its expectation.
pub(crate) struct Row {
    closed: Observation,
    open: Observation,
    pub(crate) problems: Vec<String>,
}

/// Runs `case` with a fail-closed and a fail-open client.
pub(crate) fn run(case: &Case) -> Row {
    let closed = observe(case, FailMode::Closed);
    let open = observe(case, FailMode::Open);
    let mut problems: Vec<String> = problems(case.expect, FailMode::Closed, &closed)
        .into_iter()
        .map(|p| format!("closed: {p}"))
        .collect();
    problems.extend(
        self::problems(case.expect, FailMode::Open, &open)
            .into_iter()
            .map(|p| format!("open: {p}")),
    );
    Row {
        closed,
        open,
        problems,
    }
}

/// Runs every case, `WORKERS` at a time; returns the cases, their rows and the wall time.
pub(crate) fn run_all() -> (Vec<Case>, Vec<Row>, Duration) {
    let cases = cases();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(index) else { return };
                let row = run(case);
                rows.lock().unwrap()[index] = Some(row);
            });
        }
    });
    let wall = started.elapsed();
    let rows = rows
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect();
    (cases, rows, wall)
}

/// The matrix as the markdown section of RELIABILITY.md.
pub(crate) fn table(cases: &[Case], rows: &[Row], wall: Duration) -> String {
    // The table.
    let hostile = cases.iter().filter(|c| c.expect == Expect::FailSafe).count();
    let mut fail_safe = 0;
    let mut false_bodies = 0;
    let mut panics = 0;
    let mut over = 0;
    let mut slowest = Duration::ZERO;
    for (case, row) in cases.iter().zip(rows) {
        for (mode, seen) in [(FailMode::Closed, &row.closed), (FailMode::Open, &row.open)] {
            let (verdict, fallback, _) = expected(case.expect, mode);
            if case.expect == Expect::FailSafe && seen.verdict == Some(verdict) && seen.fallback == fallback {
                fail_safe += 1;
            }
            let really_allowed = seen.verdict == Some(Verdict::Allow);
            if seen.body_runs > 0 && !really_allowed {
                false_bodies += 1;
            }
            panics += seen.panics.len();
            for elapsed in [seen.guard_elapsed, seen.guarded_elapsed] {
                slowest = slowest.max(elapsed);
                if elapsed > DEADLINE + MARGIN {
                    over += 1;
                }
            }
        }
    }
    let mut table = String::new();
    table.push_str(&format!(
        "Generated by `sentinel-tests/examples/reliability.rs` (`cargo run -p sentinel-tests --example reliability`). \
         Deadline {} ms, allowed margin {} ms; each mode of each case makes one `guard` call and one guarded-function call; \
         the time shown is the slower of the two.\n\n",
        DEADLINE.as_millis(),
        MARGIN.as_millis()
    ));
    table.push_str(&format!(
        "**Summary:** {} cases ({hostile} hostile, {} controls/client-side) × 2 fail modes; \
         hostile answers failing safe: {fail_safe}/{}; bodies run without an ALLOW: {false_bodies}; \
         panics: {panics}; calls over deadline + margin: {over}; slowest call: {} ms; \
         cases failing their assertions: {}; matrix wall time: {:.1} s.\n\n",
        cases.len(),
        cases.len() - hostile,
        hostile * 2,
        slowest.as_millis(),
        rows.iter().filter(|r| !r.problems.is_empty()).count(),
        wall.as_secs_f64()
    ));
    table.push_str("| # | case | fault | expected, fail closed | observed, fail closed | expected, fail open | observed, fail open | reason (fail closed) | result |\n");
    table.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for (index, (case, row)) in cases.iter().zip(rows).enumerate() {
        let (cv, cf, cb) = expected(case.expect, FailMode::Closed);
        let (ov, of, ob) = expected(case.expect, FailMode::Open);
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            index + 1,
            cell(&case.name, 80),
            cell(&case.fault, 90),
            describe(cv, cf, cb),
            observed_text(&row.closed),
            describe(ov, of, ob),
            observed_text(&row.open),
            cell(&row.closed.reason, 110),
            if row.problems.is_empty() {
                "pass"
            } else {
                "**FAIL**"
            }
        ));
    }
    table
}
