//! What the default transport puts on the socket, below ureq's HTTP: one write per request,
//! socket timeouts set only when they change by more than a few milliseconds, and one
//! liveness probe per reuse of a pooled connection instead of two.
//!
//! Measured on loopback, these were most of what a guard cost over a bare request: ureq
//! writes a request's head and body in two `send`s (the server wakes twice), sets the read
//! and write timeouts before every read and write (the remaining deadline has always moved),
//! and probes a pooled connection both when it goes back to the pool and when it is taken.

use std::io;
use std::time::Duration;

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};
use ureq::Error;

/// Socket timeouts are rounded up to a multiple of this, so that consecutive reads and
/// writes under one deadline find the timeout already set. A read can then end this much
/// after the deadline, never before it.
const TIMEOUT_GRANULE: Duration = Duration::from_millis(8);

/// Output held back longer than this is sent at once (a large batch body is not kept
/// whole a second time).
const HOLD_AT_MOST: usize = 64 * 1024;

/// Wraps every connection the agent opens (plain TCP or TLS) in a [`Wire`].
#[derive(Debug)]
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
}

impl<T: Transport> Wire<T> {
    fn new(inner: T) -> Wire<T> {
        Wire {
            inner,
            held: Vec::new(),
            used_since_probe: false,
        }
    }

    /// Sends the held bytes through the inner transport's output buffer.
    fn send_held(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        let result = self.send_held_inner(timeout);
        self.held.clear();
        result
    }

    fn send_held_inner(&mut self, timeout: NextTimeout) -> Result<(), Error> {
        let mut sent = 0;
        while sent < self.held.len() {
            let output = self.inner.buffers().output();
            let amount = output.len().min(self.held.len() - sent);
            if amount == 0 {
                return Err(Error::Io(io::Error::other("the connection has no output buffer")));
            }
            output[..amount].copy_from_slice(&self.held[sent..sent + amount]);
            self.inner.transmit_output(amount, coarse(timeout))?;
            sent += amount;
        }
        Ok(())
    }
}

impl<T: Transport> Transport for Wire<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.used_since_probe = true;
        let output = &self.inner.buffers().output()[..amount];
        self.held.extend_from_slice(output);
        if self.held.len() > HOLD_AT_MOST {
            self.send_held(timeout)?;
        }
        Ok(())
    }

    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.send_held(timeout)?;
        self.inner.maybe_await_input(coarse(timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.used_since_probe = true;
        self.send_held(timeout)?;
        self.inner.await_input(coarse(timeout))
    }

    fn is_open(&mut self) -> bool {
        // ureq asks when a connection goes back to the pool, right after its response was
        // read to the end (having checked that no byte is left over), and again when it is
        // taken out for the next request. Only the second can see what the server did in
        // between (closed the connection, or wrote bytes nobody asked for): probe then.
        if std::mem::take(&mut self.used_since_probe) {
            return true;
        }
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
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
    }

    impl Transport for Recorder {
        fn buffers(&mut self) -> &mut dyn Buffers {
            &mut self.buffers
        }
        fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
            self.writes.push(self.buffers.output()[..amount].to_vec());
            self.timeouts.push(*timeout.after);
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
    fn only_the_check_before_a_reuse_probes_the_socket() {
        let mut wire = wire();
        transmit(&mut wire, b"GET / HTTP/1.1\r\n\r\n");
        wire.await_input(timeout(Duration::from_secs(2))).unwrap();
        // Going back to the pool, right after the answer was read.
        assert!(wire.is_open());
        assert_eq!(wire.inner.probes, 0);
        // Taken out of the pool for the next request: the inner transport decides.
        assert!(!wire.is_open());
        assert_eq!(wire.inner.probes, 1);
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
