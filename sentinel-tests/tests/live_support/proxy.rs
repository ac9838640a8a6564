//! A rewriting proxy in front of a real sidecar: the hostile path of the threat model. It
//! forwards each request (one upstream connection per request) and lets the test rewrite
//! the JSON of a request or of an answer on the way.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Rewrites a JSON body of `path`; returns whether it changed anything (an unchanged body
/// is forwarded byte for byte).
pub type Rewrite = dyn Fn(&str, &mut Value) -> bool + Send + Sync;

/// Connections one proxy serves at most, and how long one may last: every loop is bounded.
const MAX_CONNECTIONS: usize = 2_000;
const MAX_CONNECTION_TIME: Duration = Duration::from_secs(60);

/// The proxy; stops (and joins its threads) when dropped.
pub struct RewritingProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RewritingProxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`), passing request bodies through
    /// `on_request` and answer bodies through `on_answer`.
    pub fn start(
        upstream: &str,
        on_request: impl Fn(&str, &mut Value) -> bool + Send + Sync + 'static,
        on_answer: impl Fn(&str, &mut Value) -> bool + Send + Sync + 'static,
    ) -> RewritingProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("a loopback upstream");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let rewrites: Arc<(Box<Rewrite>, Box<Rewrite>)> =
            Arc::new((Box::new(on_request), Box::new(on_answer)));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let accepted = AtomicUsize::new(0);
                let mut workers = Vec::new();
                while !stop.load(Ordering::SeqCst) && accepted.load(Ordering::SeqCst) < MAX_CONNECTIONS {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            let (stop, rewrites) = (Arc::clone(&stop), Arc::clone(&rewrites));
                            workers.push(std::thread::spawn(move || {
                                serve(stream, upstream, &stop, &rewrites.0, &rewrites.1)
                            }));
                            workers.retain(|w: &JoinHandle<()>| !w.is_finished());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
                for worker in workers {
                    let _ = worker.join();
                }
            })
        };
        RewritingProxy {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Passes everything through; `on_answer` rewrites answers only.
    pub fn answers(
        upstream: &str,
        on_answer: impl Fn(&str, &mut Value) -> bool + Send + Sync + 'static,
    ) -> RewritingProxy {
        RewritingProxy::start(upstream, |_, _| false, on_answer)
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RewritingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One HTTP/1.1 message: its first line, its body.
struct Message {
    first_line: String,
    body: Vec<u8>,
}

fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    stop: &AtomicBool,
    on_request: &Rewrite,
    on_answer: &Rewrite,
) {
    let started = Instant::now();
    let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
    while !stop.load(Ordering::SeqCst) && started.elapsed() < MAX_CONNECTION_TIME {
        let Some(mut request) = read_message(&mut client, stop, false) else {
            return;
        };
        let mut parts = request.first_line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_owned(),
            parts.next().unwrap_or_default().to_owned(),
        );
        rewrite(&path, &mut request.body, on_request);
        let Ok(mut server) = TcpStream::connect(upstream) else {
            return;
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {upstream}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            request.body.len()
        );
        let _ = server.set_read_timeout(Some(Duration::from_millis(50)));
        if server
            .write_all(head.as_bytes())
            .and_then(|()| server.write_all(&request.body))
            .is_err()
        {
            return;
        }
        let Some(mut answer) = read_message(&mut server, stop, true) else {
            return;
        };
        rewrite(&path, &mut answer.body, on_answer);
        let status = answer
            .first_line
            .split_once(' ')
            .map_or("502 Bad Gateway", |(_, status)| status);
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.body.len()
        );
        if client
            .write_all(head.as_bytes())
            .and_then(|()| client.write_all(&answer.body))
            .is_err()
        {
            return;
        }
    }
}

fn rewrite(path: &str, body: &mut Vec<u8>, how: &Rewrite) {
    if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        if how(path, &mut value) {
            *body = serde_json::to_vec(&value).unwrap();
        }
    }
}

/// Reads a message with a Content-Length body (or, for an answer on a closing connection,
/// a body up to EOF). `None` on EOF before a message, a stop, or 30 s.
fn read_message(stream: &mut TcpStream, stop: &AtomicBool, until_eof: bool) -> Option<Message> {
    let started = Instant::now();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(30) {
            return None;
        }
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).into_owned();
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            let complete = match length {
                Some(length) => data.len() >= end + 4 + length,
                None => !until_eof,
            };
            if complete {
                let length = length.unwrap_or(0);
                return Some(Message {
                    first_line: head.lines().next().unwrap_or_default().to_owned(),
                    body: data[end + 4..end + 4 + length].to_vec(),
                });
            }
        }
        match stream.read(&mut buf) {
            Ok(0) if until_eof => {
                let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
                let head = String::from_utf8_lossy(&data[..end]).into_owned();
                return Some(Message {
                    first_line: head.lines().next().unwrap_or_default().to_owned(),
                    body: data[end + 4..].to_vec(),
                });
            }
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
