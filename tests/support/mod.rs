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
