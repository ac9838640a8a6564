//! What the default transport puts on the socket, below ureq's HTTP: one write per request,
//! socket timeouts rounded up to a multiple of 8 ms (so a warm connection sets none), one
//! liveness probe per reuse of a pooled connection instead of two, and no reuse of a
//! connection whose last answer was not honoured (not a 2xx, or discarded by the client).
//!
//! Measured on loopback, these were most of what a guard cost over a bare request: ureq
//! writes a request's head and body in two `send`s (the server wakes twice), sets the read
//! and write timeouts before every read and write (the remaining deadline has always moved),
//! and probes a pooled connection both when it goes back to the pool and when it is taken.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};
use ureq::{Error, Timeout};

/// Socket timeouts are rounded up to a multiple of this, so that consecutive reads and
/// writes under one deadline find the timeout already set. A read can then end this much
/// after the deadline, never before it.
const TIMEOUT_GRANULE: Duration = Duration::from_millis(8);

/// Output held back longer than this is sent at once (a large batch body is not kept
/// whole a second time).
const HOLD_AT_MOST: usize = 64 * 1024;

thread_local! {
    /// The retirement flag of the connection this thread's last request went out on (ureq
    /// sends on the calling thread).
    static LAST_USED: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Retires the connection this thread's last request went out on: it is not used again.
/// (Between that request's end and this call the connection sits in the pool; the window is
/// the caller's parsing of the answer.)
pub(super) fn retire_last_used() {
    LAST_USED.with(|last| {
        if let Some(retired) = last.borrow_mut().take() {
            retired.store(true, Ordering::Relaxed);
        }
    });
}

/// Wraps every connection the agent opens (plain TCP or TLS) in a [`Wire`].
#[derive(Debug, Clone, Default)]
pub(super) struct WireConnector;

impl<In: Transport> Connector<In> for WireConnector {
    type Out = Wire<In>;

    fn connect(&self, _details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Wire<In>>, Error> {
        Ok(chained.map(Wire::new))
    }
}

/// A connection that sends what ureq writes when ureq starts waiting for the answer, so a
/// request's head and body leave in one write.
#[derive(Debug)]
pub(super) struct Wire<T> {
    inner: T,
    /// Bytes ureq asked to send that are not sent yet.
    held: Vec<u8>,
    /// Whether the connection carried a request since it last answered [`Transport::is_open`].
    used_since_probe: bool,
    /// A request was sent whose status line has not been seen yet.
    status_pending: bool,
    /// The last answer was not a 2xx: the connection is not reused.
    dishonoured: bool,
    /// Set when the client did not honour this connection's last answer.
    retired: Arc<AtomicBool>,
}

impl<T: Transport> Wire<T> {
    fn new(inner: T) -> Wire<T> {
        Wire {
            inner,
            held: Vec::new(),
            used_since_probe: false,
            status_pending: false,
            dishonoured: false,
            retired: Arc::default(),
        }
    }

    /// Reads the status of the answer to the request just sent, once its status line is in:
    /// anything but a 2xx (after any 1xx) leaves the connection unfit for another request,
    /// whose answer could otherwise be what the server meant for this one.
    fn note_status(&mut self) {
        if !self.status_pending {
            return;
        }
        let input = self.inner.buffers().input();
        if input.len() < 12 {
            return;
        }
        self.status_pending = false;
        match (&input[..5], input[8], input[9]) {
            (b"HTTP/", b' ', b'2') => {}
            // `100 Continue` (never asked for): the final status follows; judged by ureq.
            (b"HTTP/", b' ', b'1') => {}
            _ => self.dishonoured = true,
        }
    }

    /// Sends the held bytes through the inner transport's output buffer; returns what is
    /// left of `timeout` afterwards.
    fn send_held(&mut self, timeout: NextTimeout) -> Result<NextTimeout, Error> {
        let started = Instant::now();
        let mut sent = 0;
        let mut result = Ok(());
        while sent < self.held.len() {
            let output = self.inner.buffers().output();
            let amount = output.len().min(self.held.len() - sent);
            if amount == 0 {
                result = Err(Error::Io(io::Error::other("the connection has no output buffer")));
                break;
            }
            output[..amount].copy_from_slice(&self.held[sent..sent + amount]);
            if let Err(error) = self
                .inner
                .transmit_output(amount, coarse(less(timeout, started.elapsed())))
            {
                result = Err(error);
                break;
            }
            sent += amount;
        }
        // Sent or not, these bytes belong to this request only.
        self.held.clear();
        match result {
            Ok(()) => Ok(less(timeout, started.elapsed())),
            // ureq takes a timeout while waiting for `100 Continue` as leave to send the body:
            // one while *sending* must not read as that.
            Err(Error::Timeout(Timeout::Await100)) => Err(Error::Timeout(Timeout::SendRequest)),
            Err(error) => Err(error),
        }
    }
}

impl<T: Transport> Transport for Wire<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.used_since_probe = true;
        self.status_pending = true;
        LAST_USED.with(|last| *last.borrow_mut() = Some(Arc::clone(&self.retired)));
        let output = &self.inner.buffers().output()[..amount];
        self.held.extend_from_slice(output);
        if self.held.len() > HOLD_AT_MOST {
            self.send_held(timeout)?;
        }
        Ok(())
    }

    // ureq calls this through `Box<dyn Transport>`, whose `maybe_await_input` does not reach
    // ours: when the answer is already buffered (a `100 Continue` and the final response in
    // one packet), this is not called and held bytes stay unsent. `is_open` then refuses
    // the connection, so they never precede another request.
    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.used_since_probe = true;
        let timeout = self.send_held(timeout)?;
        let input = self.inner.await_input(coarse(timeout))?;
        self.note_status();
        Ok(input)
    }

    fn is_open(&mut self) -> bool {
        if !self.held.is_empty() {
            // The request was answered before all of it was sent: the rest must not be
            // sent ahead of the next request.
            return false;
        }
        // ureq 3.5 asks when a connection goes back to the pool, right after its response
        // was read to the end (having checked that no byte is left over), and again when it
        // is taken out for the next request. Only the second can see what the server did in
        // between (closed the connection, or wrote bytes nobody asked for): probe then.
        // (The ureq dependency is held to 3.5.x for this; `tests/loopback.rs` fails with an
        // unsolicited ALLOW if the probe before reuse is ever lost.)
        if self.dishonoured || self.retired.load(Ordering::Relaxed) {
            return false;
        }
        if std::mem::take(&mut self.used_since_probe) {
            return true;
        }
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// `timeout` less `elapsed` (down to zero, which the inner transport reports as a timeout).
fn less(mut timeout: NextTimeout, elapsed: Duration) -> NextTimeout {
    if let UreqDuration::Exact(after) = timeout.after {
        timeout.after = UreqDuration::Exact(after.saturating_sub(elapsed));
    }
    timeout
}

/// `timeout` with its remaining time rounded up to [`TIMEOUT_GRANULE`] (zero stays zero:
/// an expired deadline must still fail the next read or write).
fn coarse(mut timeout: NextTimeout) -> NextTimeout {
    if let UreqDuration::Exact(after) = timeout.after {
        timeout.after = UreqDuration::Exact(round_up(after, TIMEOUT_GRANULE));
    }
    timeout
}

fn round_up(duration: Duration, granule: Duration) -> Duration {
    let rest = duration.as_nanos() % granule.as_nanos();
    if rest == 0 {
        return duration;
    }
    // `rest` < `granule`, so the difference fits in a u64 of nanoseconds.
    let missing = Duration::from_nanos((granule.as_nanos() - rest) as u64);
    duration.checked_add(missing).unwrap_or(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ureq::unversioned::transport::LazyBuffers;
    use ureq::Timeout;

    /// An inner transport that records what it is asked to do.
    #[derive(Debug)]
    struct Recorder {
        buffers: LazyBuffers,
        writes: Vec<Vec<u8>>,
        timeouts: Vec<Duration>,
        probes: usize,
        /// How long each write takes.
        write_time: Duration,
    }

    impl Transport for Recorder {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            self.writes.push(self.buffers.output()[..amount].to_vec());
            self.timeouts.push(*timeout.after);
            std::thread::sleep(self.write_time);
            Ok(())
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            self.timeouts.push(*timeout.after);
            Ok(false)
        }
        fn is_open(&mut self) -> bool {
            self.probes += 1;
            false
        }
    }

    fn wire() -> Wire<Recorder> {
        let inner = Recorder {
            buffers: LazyBuffers::new(1024, 16 * 1024),
            writes: Vec::new(),
            timeouts: Vec::new(),
            probes: 0,
            write_time: Duration::ZERO,
        };
        Wire::new(inner)
    }

    fn timeout(after: Duration) -> NextTimeout {
        NextTimeout {
            after: UreqDuration::Exact(after),
            reason: Timeout::Global,
            per_read: None,
            per_write: None,
        }
    }

    /// Has `wire` transmit `bytes` the way ureq does: written into the output buffer first.
    fn transmit(wire: &mut Wire<Recorder>, bytes: &[u8]) {
        wire.buffers().output()[..bytes.len()].copy_from_slice(bytes);
        wire.transmit_output(bytes.len(), timeout(Duration::from_secs(2)))
            .unwrap();
    }

    #[test]
    fn a_request_leaves_in_one_write_when_its_answer_is_awaited() {
        let mut wire = wire();
        transmit(&mut wire, b"POST /v1/guard HTTP/1.1\r\n\r\n");
        transmit(&mut wire, b"{\"action\":{}}");
        assert!(
            wire.inner.writes.is_empty(),
            "nothing is sent before the answer is awaited"
        );
        wire.await_input(timeout(Duration::from_secs(2))).unwrap();
        assert_eq!(
            wire.inner.writes,
            [b"POST /v1/guard HTTP/1.1\r\n\r\n{\"action\":{}}".to_vec()]
        );
        wire.await_input(timeout(Duration::from_secs(2))).unwrap();
        assert_eq!(wire.inner.writes.len(), 1, "what was sent is not sent again");
    }

    #[test]
    fn a_large_body_is_sent_as_it_comes_not_held_whole() {
        let mut wire = wire();
        let chunk = vec![b'x'; 10 * 1024];
        for _ in 0..7 {
            transmit(&mut wire, &chunk);
        }
        let sent: usize = wire.inner.writes.iter().map(Vec::len).sum();
        assert_eq!(
            sent,
            70 * 1024,
            "sent once more than {HOLD_AT_MOST} bytes were held"
        );
        assert!(
            wire.inner.writes.iter().all(|w| w.len() <= 16 * 1024),
            "in output-buffer-sized writes"
        );
        assert!(wire.held.is_empty());
    }

    #[test]
    fn the_inner_transport_sees_coarse_timeouts_and_an_expired_one_stays_expired() {
        let mut wire = wire();
        transmit(&mut wire, b"GET / HTTP/1.1\r\n\r\n");
        wire.await_input(timeout(Duration::from_micros(1_999_990)))
            .unwrap();
        wire.await_input(timeout(Duration::from_micros(1_999_900)))
            .unwrap();
        wire.await_input(timeout(Duration::ZERO)).unwrap();
        let two_seconds = Duration::from_secs(2);
        assert_eq!(
            wire.inner.timeouts,
            [two_seconds, two_seconds, two_seconds, Duration::ZERO]
        );
    }

    /// What ureq, through its own call sequence, asked of the transport under a `Wire`.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Seen {
        Write,
        Probe,
    }

    type Log = std::sync::Arc<std::sync::Mutex<Vec<Seen>>>;

    #[derive(Debug)]
    struct Spy<T> {
        inner: T,
        log: Log,
    }

    impl<T: Transport> Transport for Spy<T> {
        fn buffers(&mut self) -> &mut dyn Buffers {
            self.inner.buffers()
        }
        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            self.log.lock().unwrap().push(Seen::Write);
            self.inner.transmit_output(amount, timeout)
        }
        fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
            self.inner.await_input(timeout)
        }
        fn is_open(&mut self) -> bool {
            self.log.lock().unwrap().push(Seen::Probe);
            self.inner.is_open()
        }
    }

    #[derive(Debug)]
    struct SpyConnector(Log);

    impl<In: Transport> Connector<In> for SpyConnector {
        type Out = Spy<In>;
        fn connect(&self, _: &ConnectionDetails, chained: Option<In>) -> Result<Option<Spy<In>>, Error> {
            Ok(chained.map(|inner| Spy {
                inner,
                log: self.0.clone(),
            }))
        }
    }

    /// An agent built as `UreqTransport` builds its own, with a spy between the socket and
    /// the `Wire`.
    fn spied_agent(log: &Log) -> ureq::Agent {
        use ureq::unversioned::transport::DefaultConnector;
        let connector = DefaultConnector::new()
            .chain(SpyConnector(log.clone()))
            .chain(WireConnector);
        let config = ureq::Agent::config_builder().http_status_as_error(false).build();
        ureq::Agent::with_parts(
            config,
            connector,
            ureq::unversioned::resolver::DefaultResolver::default(),
        )
    }

    /// A keep-alive HTTP/1.1 server on 127.0.0.1 answering `{}` to every request; a request
    /// with `expect: 100-continue` gets `100 Continue` and the answer in one write, before
    /// its body is read. Records each request line; stops when dropped.
    struct Server {
        port: u16,
        lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    }

    impl Server {
        fn start() -> Server {
            use std::io::{BufRead, BufReader, Read, Write};
            use std::sync::atomic::Ordering;
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let server = Server {
                port: listener.local_addr().unwrap().port(),
                lines: Default::default(),
                accepted: Default::default(),
                stop: Default::default(),
            };
            let (lines, accepted, stop) =
                (server.lines.clone(), server.accepted.clone(), server.stop.clone());
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(20) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let lines = lines.clone();
                    std::thread::spawn(move || {
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut writer = stream.try_clone().unwrap();
                        let mut reader = BufReader::new(stream);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        loop {
                            let (mut line, mut length, mut expect) = (String::new(), 0, false);
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            lines.lock().unwrap().push(line.trim_end().to_owned());
                            loop {
                                let mut header = String::new();
                                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                                    return;
                                }
                                let header = header.trim_end().to_ascii_lowercase();
                                if header.is_empty() {
                                    break;
                                }
                                if let Some(value) = header.strip_prefix("content-length:") {
                                    length = value.trim().parse().unwrap_or(0);
                                }
                                expect |= header == "expect: 100-continue";
                            }
                            if expect {
                                let mut both = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
                                both.extend_from_slice(answer);
                                let _ = writer.write_all(&both);
                            } else {
                                let mut body = vec![0; length];
                                if reader.read_exact(&mut body).is_err() {
                                    return;
                                }
                                let _ = writer.write_all(answer);
                            }
                        }
                    });
                }
            });
            server
        }

        fn url(&self) -> String {
            format!("http://127.0.0.1:{}/v1/guard", self.port)
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn post(agent: &ureq::Agent, url: &str, expect: bool) -> Vec<u8> {
        let mut request = agent.post(url).header("content-type", "application/json");
        if expect {
            request = request.header("expect", "100-continue");
        }
        let mut response = request.send(&b"{\"action\":\"pay\"}"[..]).unwrap();
        assert_eq!(response.status(), 200);
        response.body_mut().read_to_vec().unwrap()
    }

    #[test]
    fn through_ureq_each_request_is_one_write_and_each_reuse_one_probe() {
        let server = Server::start();
        let log = Log::default();
        let agent = spied_agent(&log);
        for _ in 0..3 {
            assert_eq!(post(&agent, &server.url(), false), b"{}");
        }
        use Seen::*;
        // Without the `Wire`: two writes per request and a probe both when a connection
        // goes back to the pool and when it is taken out.
        assert_eq!(*log.lock().unwrap(), [Write, Probe, Write, Probe, Write]);
        assert_eq!(server.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn bytes_left_unsent_by_an_early_answer_never_precede_the_next_request() {
        // `100 Continue` and the final answer arrive together: ureq reads the answer
        // without waiting, and the body the `Wire` held is never sent on this connection.
        let server = Server::start();
        let agent = spied_agent(&Log::default());
        assert_eq!(post(&agent, &server.url(), true), b"{}");
        assert_eq!(post(&agent, &server.url(), false), b"{}");
        assert_eq!(post(&agent, &server.url(), false), b"{}");
        let lines = server.lines.lock().unwrap().clone();
        assert_eq!(
            lines, ["POST /v1/guard HTTP/1.1"; 3],
            "a request line was preceded by stale bytes"
        );
        assert_eq!(
            server.accepted.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "the connection with unsent bytes was not reused; the next one was"
        );
    }

    #[test]
    fn the_read_after_a_slow_flush_gets_only_what_is_left_of_the_deadline() {
        let mut wire = wire();
        wire.inner.write_time = Duration::from_millis(40);
        transmit(&mut wire, b"GET / HTTP/1.1\r\n\r\n");
        wire.await_input(timeout(Duration::from_millis(100))).unwrap();
        let (write, read) = (wire.inner.timeouts[0], wire.inner.timeouts[1]);
        assert_eq!(
            write,
            Duration::from_millis(104),
            "100 ms rounded up to the granule"
        );
        assert!(
            read <= Duration::from_millis(64),
            "40 ms were spent writing: {read:?}"
        );
    }

    #[test]
    fn timeouts_round_up_to_the_granule_and_zero_stays_zero() {
        let g = TIMEOUT_GRANULE;
        assert_eq!(round_up(Duration::ZERO, g), Duration::ZERO);
        assert_eq!(round_up(Duration::from_nanos(1), g), g);
        assert_eq!(round_up(g, g), g);
        assert_eq!(round_up(g + Duration::from_nanos(1), g), 2 * g);
        assert_eq!(
            round_up(Duration::from_millis(1999), g),
            Duration::from_millis(2000)
        );
        assert_eq!(round_up(Duration::MAX, g), Duration::MAX);
    }
}
