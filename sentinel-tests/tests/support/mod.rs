//! Test support: raw loopback servers that can break the protocol on purpose.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A raw TCP server on 127.0.0.1 that hands every accepted connection to `handler` on its
/// own thread. Accepts at most `MAX_CONNECTIONS`, and stops (joining its threads) when
/// dropped.
pub struct RawServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

const MAX_CONNECTIONS: usize = 500;

impl RawServer {
    pub fn start(handler: impl Fn(TcpStream, &AtomicBool) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        RawServer::start_on(listener, handler)
    }

    pub fn start_on(
        listener: TcpListener,
        handler: impl Fn(TcpStream, &AtomicBool) + Send + Sync + 'static,
    ) -> RawServer {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(handler);
        let thread = {
            let (stop, accepted) = (Arc::clone(&stop), Arc::clone(&accepted));
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                while !stop.load(Ordering::SeqCst) && accepted.load(Ordering::SeqCst) < MAX_CONNECTIONS {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            stream.set_nonblocking(false).unwrap();
                            accepted.fetch_add(1, Ordering::SeqCst);
                            let (handler, stop) = (Arc::clone(&handler), Arc::clone(&stop));
                            workers.push(std::thread::spawn(move || handler(stream, &stop)));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                for worker in workers {
                    let _ = worker.join();
                }
            })
        };
        RawServer {
            addr,
            stop,
            accepted,
            thread: Some(thread),
        }
    }

    /// A server that reads each request and answers with `response` (raw bytes), keeping
    /// the connection open for further requests.
    pub fn answering(response: impl Into<Vec<u8>>) -> RawServer {
        let response = response.into();
        RawServer::start(move |mut stream, stop| {
            while read_request(&mut stream, stop).is_some() {
                if stream.write_all(&response).is_err() {
                    return;
                }
            }
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP/1.1 response with a JSON body and a correct Content-Length.
pub fn http_response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub const ALLOW_BODY: &str = r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[]}"#;

/// Reads one HTTP request (headers and a Content-Length body). `None` when the peer closed,
/// the server is stopping, or 10 s passed.
pub fn read_request(stream: &mut TcpStream, stop: &AtomicBool) -> Option<Vec<u8>> {
    read_request_with_target(stream, stop).map(|(_, body)| body)
}

/// [`read_request`], also returning the request target (such as `/v1/guard`).
pub fn read_request_with_target(stream: &mut TcpStream, stop: &AtomicBool) -> Option<(String, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_millis(50))).ok()?;
    let started = Instant::now();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(10) {
            return None;
        }
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let target = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
                return Some((target, data[end + 4..end + 4 + length].to_vec()));
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sleeps in small steps until `stop` or `total` passes.
pub fn idle(stop: &AtomicBool, total: Duration) {
    let started = Instant::now();
    while !stop.load(Ordering::SeqCst) && started.elapsed() < total {
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------
// A keep-alive HTTP/1.1 server (raw TCP, thread per connection) for soak tests, and
// process statistics from /proc/self.
// ---------------------------------------------------------------------------------------

/// What a [`KeepAliveServer`] handler does with one request.
pub enum Reply {
    /// Write these bytes and wait for the next request on the same connection.
    KeepAlive(Vec<u8>),
    /// Write these bytes, then close the connection.
    ThenClose(Vec<u8>),
    /// Close the connection without writing anything.
    Close,
    /// Wait this long (or until the server stops), write the bytes, then close.
    Delayed(Duration, Vec<u8>),
}

/// Live connections a [`KeepAliveServer`] holds at most; further ones wait in the backlog.
const KEEP_ALIVE_MAX_LIVE: usize = 2048;
/// Connections a [`KeepAliveServer`] accepts at most in its life (keeps every loop bounded).
const KEEP_ALIVE_MAX_TOTAL: usize = 200_000;

type Streams = Arc<std::sync::Mutex<std::collections::HashMap<u64, TcpStream>>>;

/// A raw HTTP/1.1 server on 127.0.0.1 with keep-alive: each connection gets its own thread,
/// which reads requests (Content-Length bodies) and answers each from `handler`'s
/// [`Reply`]. Stopping (or dropping) it closes every connection at once, so a client sees a
/// stopped sidecar immediately, and joins every thread.
pub struct KeepAliveServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    streams: Streams,
    thread: Option<JoinHandle<()>>,
}

impl KeepAliveServer {
    pub fn start(handler: impl Fn(&str, &[u8]) -> Reply + Send + Sync + 'static) -> KeepAliveServer {
        KeepAliveServer::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), handler)
    }

    /// Starts on a listener you bound, for example the address of a stopped server.
    pub fn start_on(
        listener: TcpListener,
        handler: impl Fn(&str, &[u8]) -> Reply + Send + Sync + 'static,
    ) -> KeepAliveServer {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let streams: Streams = Arc::default();
        let handler = Arc::new(handler);
        let thread = {
            let (stop, accepted, requests, streams) = (
                Arc::clone(&stop),
                Arc::clone(&accepted),
                Arc::clone(&requests),
                Arc::clone(&streams),
            );
            std::thread::Builder::new()
                .name("keepalive-accept".into())
                .spawn(move || {
                    let mut workers: Vec<JoinHandle<()>> = Vec::new();
                    let mut next_id = 0u64;
                    while !stop.load(Ordering::SeqCst)
                        && accepted.load(Ordering::SeqCst) < KEEP_ALIVE_MAX_TOTAL
                    {
                        // Reap finished connection threads so the list stays short.
                        let mut i = 0;
                        while i < workers.len() {
                            if workers[i].is_finished() {
                                let _ = workers.swap_remove(i).join();
                            } else {
                                i += 1;
                            }
                        }
                        if workers.len() >= KEEP_ALIVE_MAX_LIVE {
                            std::thread::sleep(Duration::from_millis(1));
                            continue;
                        }
                        match listener.accept() {
                            Ok((stream, _)) => {
                                let _ = stream.set_nonblocking(false);
                                let _ = stream.set_nodelay(true);
                                accepted.fetch_add(1, Ordering::SeqCst);
                                next_id += 1;
                                let id = next_id;
                                if let Ok(clone) = stream.try_clone() {
                                    streams.lock().unwrap().insert(id, clone);
                                }
                                let (handler, stop, requests, registry) = (
                                    Arc::clone(&handler),
                                    Arc::clone(&stop),
                                    Arc::clone(&requests),
                                    Arc::clone(&streams),
                                );
                                let spawned = std::thread::Builder::new()
                                    .name("keepalive-conn".into())
                                    .spawn(move || {
                                        serve_keep_alive(stream, &stop, &requests, &*handler);
                                        registry.lock().unwrap().remove(&id);
                                    });
                                match spawned {
                                    Ok(worker) => workers.push(worker),
                                    Err(_) => {
                                        if let Some(s) = streams.lock().unwrap().remove(&id) {
                                            let _ = s.shutdown(std::net::Shutdown::Both);
                                        }
                                    }
                                }
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(1)),
                        }
                    }
                    drop(listener);
                    for worker in workers {
                        let _ = worker.join();
                    }
                })
                .unwrap()
        };
        KeepAliveServer {
            addr,
            stop,
            accepted,
            requests,
            streams,
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes every connection, joins every thread and frees the port.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for stream in self.streams.lock().unwrap().values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for KeepAliveServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve_keep_alive(
    mut stream: TcpStream,
    stop: &AtomicBool,
    requests: &AtomicUsize,
    handler: &(dyn Fn(&str, &[u8]) -> Reply + Send + Sync),
) {
    // Bounded: a connection serves at most this many requests (far above any test's need).
    for _ in 0..1_000_000 {
        let Some((target, body)) = read_request_with_target(&mut stream, stop) else {
            return;
        };
        requests.fetch_add(1, Ordering::SeqCst);
        match handler(&target, &body) {
            Reply::KeepAlive(bytes) => {
                if stream.write_all(&bytes).is_err() {
                    return;
                }
            }
            Reply::ThenClose(bytes) => {
                let _ = stream.write_all(&bytes);
                return;
            }
            Reply::Close => return,
            Reply::Delayed(wait, bytes) => {
                idle(stop, wait);
                let _ = stream.write_all(&bytes);
                return;
            }
        }
    }
}

/// Open file descriptors, threads and resident memory of this process (Linux /proc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStats {
    pub fds: usize,
    pub threads: usize,
    pub rss_bytes: u64,
}

impl ProcStats {
    pub fn now() -> ProcStats {
        let count = |dir: &str| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let page = 4096u64;
        let rss_pages = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            .unwrap_or(0);
        ProcStats {
            // read_dir holds one descriptor of its own while counting.
            fds: count("/proc/self/fd").saturating_sub(1),
            threads: count("/proc/self/task"),
            rss_bytes: rss_pages * page,
        }
    }
}

/// Replaces the text between `<!-- BEGIN GENERATED: <name> -->` and
/// `<!-- END GENERATED: <name> -->` in RELIABILITY.md with `content`.
pub fn write_reliability_section(name: &str, content: &str) {
    // The repository root: this crate is sentinel-tests/.
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let path = root.join("RELIABILITY.md");
    let text = std::fs::read_to_string(&path).expect("RELIABILITY.md exists");
    let begin = format!("<!-- BEGIN GENERATED: {name} -->");
    let end = format!("<!-- END GENERATED: {name} -->");
    let (Some(b), Some(e)) = (text.find(&begin), text.find(&end)) else {
        panic!("RELIABILITY.md has no {begin} … {end} markers");
    };
    assert!(b < e, "markers of {name} out of order");
    let updated = format!("{}{begin}\n{}\n{}", &text[..b], content.trim_end(), &text[e..]);
    std::fs::write(&path, updated).expect("write RELIABILITY.md");
}

/// A client built from `builder` whose transport records every request it is asked to
/// send and answers each with a well-formed ALLOW naming `rec_9`.
pub fn recording_client(
    builder: sentinel::SentinelClientBuilder,
) -> (
    sentinel::SentinelClient,
    Arc<std::sync::Mutex<Vec<sentinel::unversioned::transport::HttpRequest>>>,
) {
    let seen: Arc<std::sync::Mutex<Vec<sentinel::unversioned::transport::HttpRequest>>> = Arc::default();
    let record = Arc::clone(&seen);
    let client = builder
        .transport(move |req: &sentinel::unversioned::transport::HttpRequest| {
            record.lock().unwrap().push(req.clone());
            Ok(sentinel::unversioned::transport::HttpResponse::new(
                200,
                r#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#,
            ))
        })
        .build()
        .unwrap();
    (client, seen)
}

/// A payment of `amount` from `acct_ops` to `to`: the action most tests guard.
pub fn pay(amount: u64, to: &str) -> sentinel::Action {
    sentinel::Action::payment(serde_json::json!({"amount": amount, "from": "acct_ops", "to": to}))
}
