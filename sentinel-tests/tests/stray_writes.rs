//! A path that writes stray answers: after 3 % of the BLOCKs it relays, a proxy in front of
//! the mock sidecar writes one more, unsolicited answer on the same keep-alive connection —
//! an ALLOW naming a genuine ALLOW record it relayed earlier — so the next call on that
//! connection reads it as its own answer (and every later answer there is one call late).
//! 8 threads × 200 guards (and, as a soak, 64 × 500) with a pinned key: no wrong outcome (an ALLOW of an action the
//! sidecar blocks). Without a pinned key the same path gives false ALLOWs, which shows the
//! stray writes land. (Its own test binary: it loads the machine.)
#![cfg(all(feature = "verify", feature = "testing"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::{json, Value};

const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";
/// One BLOCK in this many is followed by a stray ALLOW (≈ 3 %).
const STRAY_EVERY: u64 = 33;

/// The keep-alive proxy that writes stray answers; stops when dropped.
struct StrayProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    strays: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl StrayProxy {
    fn start(upstream: SocketAddr) -> StrayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let strays = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, strays) = (Arc::clone(&stop), Arc::clone(&strays));
            std::thread::spawn(move || {
                let blocks = Arc::new(AtomicU64::new(0));
                let last_allow: Arc<Mutex<Option<String>>> = Arc::default();
                let mut workers = Vec::new();
                // Bounded: at most this many connections over the proxy's life.
                for _ in 0..20_000 {
                    let stream = loop {
                        if stop.load(Ordering::SeqCst) {
                            break None;
                        }
                        match listener.accept() {
                            Ok((stream, _)) => break Some(stream),
                            Err(_) => std::thread::sleep(Duration::from_millis(1)),
                        }
                    };
                    let Some(stream) = stream else { break };
                    let (stop, strays, blocks, last_allow) = (
                        Arc::clone(&stop),
                        Arc::clone(&strays),
                        Arc::clone(&blocks),
                        Arc::clone(&last_allow),
                    );
                    workers.push(std::thread::spawn(move || {
                        relay(stream, upstream, &stop, &strays, &blocks, &last_allow)
                    }));
                    workers.retain(|w: &JoinHandle<()>| !w.is_finished());
                }
                for worker in workers {
                    let _ = worker.join();
                }
            })
        };
        StrayProxy {
            addr,
            stop,
            strays,
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StrayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Relays one client connection over one upstream keep-alive connection.
fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    stop: &AtomicBool,
    strays: &AtomicU64,
    blocks: &AtomicU64,
    last_allow: &Mutex<Option<String>>,
) {
    let Ok(mut server) = TcpStream::connect(upstream) else {
        return;
    };
    let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = server.set_read_timeout(Some(Duration::from_millis(50)));
    let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
    let mut pending_stray: Option<String> = None;
    let started = Instant::now();
    while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(900) {
        let Some((head, body)) = read_message(&mut client, &mut from_client, stop) else {
            return;
        };
        // The stray answer reaches the client while it waits for this request's answer.
        if let Some(stray) = pending_stray.take() {
            if client.write_all(stray.as_bytes()).is_err() {
                return;
            }
            strays.fetch_add(1, Ordering::SeqCst);
        }
        let is_guard = head.starts_with("POST /v1/guard ");
        if server
            .write_all(head.as_bytes())
            .and_then(|()| server.write_all(&body))
            .is_err()
        {
            return;
        }
        let Some((answer_head, answer)) = read_message(&mut server, &mut from_server, stop) else {
            return;
        };
        if client
            .write_all(answer_head.as_bytes())
            .and_then(|()| client.write_all(&answer))
            .is_err()
        {
            return;
        }
        if !is_guard {
            continue;
        }
        let decision: Value = serde_json::from_slice(&answer).unwrap_or_default();
        match decision["verdict"].as_str() {
            Some("ALLOW") => *last_allow.lock().unwrap() = decision["recordId"].as_str().map(str::to_owned),
            Some("BLOCK") if blocks.fetch_add(1, Ordering::SeqCst) % STRAY_EVERY == STRAY_EVERY - 1 => {
                let Some(record_id) = last_allow.lock().unwrap().clone() else {
                    continue;
                };
                let stray = json!({"verdict": "ALLOW", "recordId": record_id, "checks": []}).to_string();
                pending_stray = Some(format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{stray}",
                    stray.len()
                ));
            }
            _ => {}
        }
    }
}

/// Reads one HTTP/1.1 message with a Content-Length body; returns its head (with the blank
/// line) and body. `buffer` keeps what was read past it.
fn read_message(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Option<(String, Vec<u8>)> {
    let started = Instant::now();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end + 4]).into_owned();
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                let body = buffer[end + 4..end + 4 + length].to_vec();
                buffer.drain(..end + 4 + length);
                return Some((head, body));
            }
        }
        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(30) {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
}

#[derive(Default)]
struct Tally {
    right_allow: AtomicU64,
    wrong_allow: AtomicU64,
    denied: AtomicU64,
}

/// `threads` × `calls` guards through a stray-writing proxy in front of a mock that allows
/// even amounts and blocks odd ones; every amount unique.
fn run(threads: u64, calls: u64, pinned: bool) -> (Tally, u64, Duration) {
    let mock = MockSidecar::start(|request| {
        if request.payload["amount"].as_u64().unwrap_or(1) % 2 == 0 {
            MockAnswer::allow()
        } else {
            MockAnswer::block("odd amounts are not allowed")
        }
    });
    let proxy = StrayProxy::start(mock.addr());
    let mut builder = SentinelClient::builder(proxy.endpoint())
        .timeout(Duration::from_secs(10))
        .pool_size(usize::try_from(threads).unwrap());
    if pinned {
        builder = builder.trusted_key_id(KEY_ID);
    }
    let client = builder.build().unwrap();
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let (client, tally) = (client.clone(), Arc::clone(&tally));
            std::thread::spawn(move || {
                let context = Context::new(format!("stray-{thread}"));
                for call in 0..calls {
                    let amount = 1 + thread * calls + call;
                    let action =
                        Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}));
                    let decision = client.guard(&action, &context, "fintech.payments");
                    let counter = match (decision.verdict(), amount.is_multiple_of(2)) {
                        (Verdict::Allow, true) => &tally.right_allow,
                        (Verdict::Allow, false) => &tally.wrong_allow,
                        _ => &tally.denied,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let strays = proxy.strays.load(Ordering::SeqCst);
    let tally = Arc::try_unwrap(tally).unwrap_or_default();
    (tally, strays, started.elapsed())
}

/// The figures of a pinned run, and its assertions.
fn pinned_run(threads: u64, calls: u64) {
    let (tally, strays, wall) = run(threads, calls, true);
    let (right, wrong, denied) = (
        tally.right_allow.load(Ordering::Relaxed),
        tally.wrong_allow.load(Ordering::Relaxed),
        tally.denied.load(Ordering::Relaxed),
    );
    println!(
        "figures: {threads} threads x {calls} guards, pinned key, {strays} stray ALLOWs written: {right} right \
         ALLOWs, {wrong} wrong ALLOWs, {denied} BLOCKs (odd amounts, and calls that read a stray answer), {:.1} s",
        wall.as_secs_f64()
    );
    assert!(strays > 0, "the proxy wrote stray answers");
    assert_eq!(wrong, 0, "an ALLOW for an action the sidecar blocks");
    assert!(right > 0);
}

#[test]
fn stray_answers_on_reused_connections_never_open_the_gate_with_a_pinned_key() {
    pinned_run(8, 200);
}

#[test]
#[ignore = "soak, minutes on a busy machine; .ci/run runs it: cargo test -p sentinel-tests --test stray_writes -- --ignored"]
fn sixty_four_threads_of_five_hundred_guards_with_stray_answers_and_a_pinned_key() {
    pinned_run(64, 500);
}

#[test]
fn without_a_pinned_key_the_same_stray_answers_open_the_gate() {
    // What the pinned key prevents: the stray ALLOW is read as the next call's answer.
    let (tally, strays, _) = run(8, 200, false);
    let wrong = tally.wrong_allow.load(Ordering::Relaxed);
    println!("figures: 8 threads x 200 guards, no key pinned, {strays} stray ALLOWs: {wrong} wrong ALLOWs");
    assert!(strays > 0);
    assert!(wrong > 0, "the stray answers landed as other calls' answers");
}
