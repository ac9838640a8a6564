//! What the benches share: the sidecar's recorded decisions, a typical action and context,
//! an in-process transport, a minimal keep-alive loopback server and a raw HTTP/1.1 client
//! (the baseline a guard is compared with).
#![allow(dead_code)] // each bench uses a different part of this module

pub mod lean;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::{Action, Context, SentinelClient};
use serde::Serialize;
use serde_json::{json, Value};

/// The reference sidecar's recorded answers.
pub const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sentinel-tests/tests/fixtures/cases.json"
));

/// The typical decision: an `ALLOW` with five checks, 664 bytes.
pub const ALLOW_CASE: &str = "allow_small_payment";
/// The largest recorded single decision: an `ESCALATE` with a reason, 918 bytes.
pub const LARGEST_CASE: &str = "escalate_high_value";

/// The policy of the recorded cases.
pub const POLICY: &str = "fintech.payments";

/// The recorded response body of `case` as the sidecar sent it: compact JSON with the
/// sidecar's key order (cases.json holds it pretty-printed; serde_json's `Value` would sort
/// the keys, so the text is cut out of the file and its whitespace dropped instead).
pub fn recorded_body(case: &str) -> Vec<u8> {
    let name = format!("\"name\": \"{case}\"");
    let start = CASES
        .find(&name)
        .unwrap_or_else(|| panic!("no case {case:?} in cases.json"));
    let rest = &CASES[start..];
    let response = rest.find("\"response\"").expect("a response") + start;
    let body = CASES[response..].find("\"body\":").expect("a body") + response + "\"body\":".len();
    let compact = compact_json_value(&CASES.as_bytes()[body..]);
    // The cut must be the very value the file records.
    let cases: Vec<Value> = serde_json::from_str(CASES).expect("cases.json is JSON");
    let recorded = cases
        .iter()
        .find(|c| c["name"] == case)
        .map(|c| &c["response"]["body"])
        .expect("the case");
    let cut: Value = serde_json::from_slice(&compact).expect("the cut is JSON");
    assert_eq!(&cut, recorded, "cut the wrong value out of cases.json");
    compact
}

/// The first JSON value of `text` (an object or array), without whitespace outside strings.
fn compact_json_value(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in text {
        if in_string {
            out.push(byte);
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            _ => {}
        }
        out.push(byte);
        if depth == 0 && matches!(byte, b'}' | b']') {
            return out;
        }
    }
    panic!("unterminated JSON value in cases.json")
}

/// The action of the recorded `allow_small_payment` request (with a fresh id).
pub fn typical_action() -> Action {
    Action::payment(json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"}))
}

/// The context of the recorded requests: run, provider, model, actor with a role, tenant.
pub fn typical_context() -> Context {
    Context::new("run_conf_1")
        .with_provider("anthropic")
        .with_model("claude-sonnet-4-6")
        .with_actor("agent-007", ["ops"])
        .with_tenant("acme")
}

/// The request body as the client writes it (same fields, same order as its private
/// `GuardRequest`), to time serialization alone.
#[derive(Serialize)]
pub struct GuardRequest<'a> {
    pub action: &'a Action,
    pub context: &'a Context,
    pub policy: &'a str,
}

/// A client whose transport is a closure answering `200` with `body`: the whole
/// `client.guard` path runs, except the network. The closure's one allocation (the copy
/// of the body it hands back) is one any transport makes.
pub fn in_process_client(body: Vec<u8>) -> SentinelClient {
    SentinelClient::builder("http://127.0.0.1:4000")
        .transport(move |_request: &HttpRequest| Ok(HttpResponse::new(200, body.clone())))
        .build()
        .expect("a client")
}

/// A client of the default (ureq, keep-alive) transport.
pub fn http_client(endpoint: &str) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client")
}

/// A client of the prototype transport of [`lean`].
pub fn lean_client(endpoint: &str) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(5))
        .transport(lean::LeanTransport::new(16))
        .build()
        .expect("a client")
}

/// `HTTP/1.1 200` with `body`, as a minimal sidecar would answer.
pub fn http_response(body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

/// A minimal HTTP/1.1 keep-alive server on loopback answering every request with one
/// canned response: a thread per connection, requests read by `Content-Length`. It counts
/// the connections it accepts and keeps the first request's bytes. Stops when dropped
/// (its connection threads end when their client closes, or after 10 s idle).
pub struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    first_request: Arc<OnceLock<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server answering every request with `200` and `body`.
    pub fn start(body: &[u8]) -> Server {
        Server::start_on(body, None)
    }

    /// [`start`](Server::start), each connection's thread pinned to `core` when given.
    pub fn start_on(body: &[u8], core: Option<usize>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("an address");
        let accepted = Arc::new(AtomicU64::new(0));
        let first_request = Arc::new(OnceLock::new());
        let stop = Arc::new(AtomicBool::new(false));
        let response: Arc<[u8]> = http_response(body).into();
        let acceptor = {
            let (accepted, first_request, stop) = (accepted.clone(), first_request.clone(), stop.clone());
            std::thread::Builder::new()
                .name("bench-server".into())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let Ok(stream) = stream else { continue };
                        accepted.fetch_add(1, Ordering::SeqCst);
                        let (response, first_request) = (response.clone(), first_request.clone());
                        std::thread::spawn(move || {
                            if let Some(core) = core {
                                pin_current_thread(core);
                            }
                            let _ = serve(stream, &response, &first_request);
                        });
                    }
                })
                .expect("a server thread")
        };
        Server {
            addr,
            accepted,
            first_request,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The bytes of the first request received (head and body).
    pub fn first_request(&self) -> Option<Vec<u8>> {
        self.first_request.get().cloned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the acceptor
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn serve(stream: TcpStream, response: &[u8], first_request: &OnceLock<Vec<u8>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut head = Vec::with_capacity(1024);
    let mut body = Vec::with_capacity(4096);
    loop {
        let Some(length) = read_head(&mut reader, &mut head)? else {
            return Ok(());
        };
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        if first_request.get().is_none() {
            let mut request = head.clone();
            request.extend_from_slice(&body);
            let _ = first_request.set(request);
        }
        writer.write_all(response)?;
    }
}

/// Reads one message head into `head`; returns its `Content-Length` (0 without one), or
/// `None` at a clean end of stream.
fn read_head(reader: &mut impl BufRead, head: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    head.clear();
    let mut length = 0;
    loop {
        let start = head.len();
        if reader.read_until(b'\n', head)? == 0 {
            return if start == 0 {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        let line = &head[start..];
        if line == b"\r\n" || line == b"\n" {
            return Ok(Some(length));
        }
        const NAME: &[u8] = b"content-length:";
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            length = std::str::from_utf8(&line[NAME.len()..])
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(std::io::ErrorKind::InvalidData)?;
        }
    }
}

/// The cores this process may run on.
pub fn usable_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect()
}

/// Keeps the calling thread on `core`.
pub fn pin_current_thread(core: usize) {
    assert!(
        core_affinity::set_for_current(core_affinity::CoreId { id: core }),
        "could not pin a thread to core {core}"
    );
}

/// The HTTP client alone: `body` POSTed to `url` with ureq's defaults (keep-alive), the
/// response body read whole. What a guard costs over this is the gate's own work.
pub struct PlainUreq {
    agent: ureq::Agent,
    url: String,
}

impl PlainUreq {
    /// A ureq agent with its default configuration.
    pub fn new(endpoint: &str) -> PlainUreq {
        PlainUreq {
            agent: ureq::Agent::new_with_defaults(),
            url: format!("{endpoint}/v1/guard"),
        }
    }

    /// One request; returns the response body.
    pub fn post(&self, body: &[u8]) -> Vec<u8> {
        self.agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body)
            .expect("a response")
            .body_mut()
            .read_to_vec()
            .expect("a body")
    }
}

/// The baseline: a plain HTTP/1.1 client on one reused connection that writes given
/// request bytes and reads the response by `Content-Length`. No pool, no parsing beyond
/// that, no allocation per request.
pub struct RawClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    head: Vec<u8>,
    body: Vec<u8>,
}

impl RawClient {
    /// Connects to `addr` (`TCP_NODELAY`, as ureq does).
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawClient {
            writer: stream.try_clone().expect("a second handle"),
            reader: BufReader::with_capacity(16 * 1024, stream),
            head: Vec::with_capacity(1024),
            body: Vec::with_capacity(4096),
        }
    }

    /// Sends `request` in one write and reads the whole response; returns the body.
    pub fn round_trip(&mut self, request: &[u8]) -> &[u8] {
        self.round_trip_split(request, 0)
    }

    /// [`round_trip`](Self::round_trip), writing `request[..at]` and `request[at..]`
    /// separately (as ureq writes a head and then a body) when `at` is not 0.
    pub fn round_trip_split(&mut self, request: &[u8], at: usize) -> &[u8] {
        if at > 0 {
            self.writer.write_all(&request[..at]).expect("send");
            self.writer.write_all(&request[at..]).expect("send");
        } else {
            self.writer.write_all(request).expect("send");
        }
        let length = read_head(&mut self.reader, &mut self.head)
            .expect("a response head")
            .expect("a response");
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).expect("a response body");
        &self.body
    }
}
