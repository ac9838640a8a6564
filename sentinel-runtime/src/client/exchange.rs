//! One HTTP exchange with the sidecar: within a deadline, retrying what the sidecar
//! refused before evaluating anything (429, 503), with a transport's panic caught.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::SentinelClient;
use crate::deadline::time_left;
use crate::transport::{HttpRequest, HttpResponse, TransportError};

/// A bound on attempts for a clock that does not move; the deadline ends retries first.
const MAX_ATTEMPTS: u32 = 1000;
/// The first backoff after a 429/503 without `Retry-After`; doubles each time up to
/// [`MAX_BACKOFF`], and each wait is jittered so threads refused together do not retry
/// together.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Below this much time left, another attempt could not get an answer.
const LAST_CHANCE: Duration = Duration::from_millis(5);

impl SentinelClient {
    /// Sends one request within the client's deadline; see [`exchange_until`](Self::exchange_until).
    pub(crate) fn exchange(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, TransportError> {
        self.exchange_until(method, url, body, self.deadline(), &mut 0)
    }

    /// Sends one request, every attempt before `deadline`, retrying answers the sidecar
    /// gave before evaluating anything (429, 503) for as long as the deadline allows: after
    /// a jittered exponential backoff, or after `Retry-After` when the sidecar sends one
    /// (and not at all when that is past the deadline). Returns the last response, whatever
    /// its status, or why there was none. Counts the attempts in `attempts`.
    pub(crate) fn exchange_until(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
        deadline: Instant,
        attempts: &mut u32,
    ) -> Result<HttpResponse, TransportError> {
        self.exchange_retrying(method, url, body, deadline, attempts, &|_| true)
    }

    /// [`exchange_until`](Self::exchange_until), retrying only the 429/503 answers
    /// `worth_retrying` accepts; any other is returned at once.
    pub(crate) fn exchange_retrying(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
        deadline: Instant,
        attempts: &mut u32,
        worth_retrying: &dyn Fn(&HttpResponse) -> bool,
    ) -> Result<HttpResponse, TransportError> {
        let mut request = HttpRequest {
            method,
            url: Arc::from(url),
            headers: Arc::clone(&self.inner.headers),
            body,
            timeout: self.inner.timeout,
            body_limit: self.inner.body_limit,
            replayable: method == "GET" || url == &*self.inner.guard_url,
        };
        loop {
            *attempts += 1;
            request.timeout = time_left(deadline);
            if request.timeout.is_zero() {
                return Err(TransportError::Timeout);
            }
            let response = self.send_caught(&request)?;
            if !matches!(response.status, 429 | 503)
                || !worth_retrying(&response)
                || *attempts >= MAX_ATTEMPTS
            {
                return Ok(response);
            }
            let left = time_left(deadline);
            let wait = match retry_after(&response) {
                // The sidecar says when it can answer: past the deadline, it cannot.
                Some(after) if after >= left => return Ok(response),
                Some(after) => after.max(jittered(backoff(*attempts))).min(left),
                // Leave time for one more attempt rather than sleeping to the deadline.
                None => jittered(backoff(*attempts)).min(left / 2),
            };
            if left.saturating_sub(wait) < LAST_CHANCE {
                return Ok(response);
            }
            std::thread::sleep(wait);
        }
    }

    fn send_caught(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        catch_unwind(AssertUnwindSafe(|| self.inner.transport.send(request))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Err(TransportError::Other(format!("transport panicked: {message}")))
        })
    }
}
/// `Retry-After` in whole seconds (the HTTP-date form is not worth honouring within a
/// deadline of seconds; the backoff applies instead).
fn retry_after(response: &HttpResponse) -> Option<Duration> {
    let seconds: u64 = response.header("retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// Between half of `wait` and all of it, at random ("equal jitter").
fn jittered(wait: Duration) -> Duration {
    wait / 2 + wait.mul_f64(unit_random() / 2.0)
}

/// A number in `[0, 1)` from a per-thread xorshift generator seeded by std's randomly keyed
/// hasher: spreading retries needs no cryptographic randomness.
fn unit_random() -> f64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new(
            std::collections::hash_map::RandomState::new().build_hasher().finish() | 1
        );
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(30), MAX_BACKOFF);
    }

    #[test]
    fn jitter_stays_within_half_and_whole_and_varies() {
        let wait = Duration::from_millis(400);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(wait)).collect();
        assert!(waits.iter().all(|w| *w >= wait / 2 && *w <= wait), "{waits:?}");
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 100, "jittered waits differ: {}", distinct.len());
    }

    #[test]
    fn threads_draw_different_jitter() {
        let draws: Vec<u64> = (0..8)
            .map(|_| std::thread::spawn(|| unit_random().to_bits()).join().unwrap())
            .collect();
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert_eq!(distinct.len(), draws.len(), "threads must not retry in lockstep");
    }
}
