//! One HTTP exchange with the sidecar: within a deadline, retrying what the sidecar
//! refused before evaluating anything (429, 503), with a transport's panic caught.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::SentinelClient;
use crate::transport::{HttpRequest, HttpResponse, TransportError};

/// How many times a 429/503 answer is tried again at most (the deadline usually ends the
/// retries first).
const MAX_ATTEMPTS: u32 = 8;
/// The first backoff after a 429/503 without `Retry-After`; doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_millis(500);

impl SentinelClient {
    /// Sends one request within the client's deadline; see [`exchange_until`](Self::exchange_until).
    pub(crate) fn exchange(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
    ) -> Result<HttpResponse, String> {
        self.exchange_until(method, url, body, self.deadline(), &mut 0)
    }

    /// Sends one request, every attempt before `deadline`, retrying answers the sidecar
    /// gave before evaluating anything (429, 503). Returns the last response, whatever its
    /// status, or why there was none. Counts the attempts in `attempts`.
    pub(crate) fn exchange_until(
        &self,
        method: &'static str,
        url: &str,
        body: Vec<u8>,
        deadline: Instant,
        attempts: &mut u32,
    ) -> Result<HttpResponse, String> {
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
            request.timeout = deadline.saturating_duration_since(Instant::now());
            if request.timeout.is_zero() {
                return Err(TransportError::Timeout.to_string());
            }
            let response = self.send_caught(&request).map_err(|e| e.to_string())?;
            if !matches!(response.status, 429 | 503) || *attempts >= MAX_ATTEMPTS {
                return Ok(response);
            }
            let wait = retry_after(&response).unwrap_or_else(|| backoff(*attempts));
            if wait >= deadline.saturating_duration_since(Instant::now()) {
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

/// `now + timeout`, saturating far in the future instead of overflowing on a huge timeout.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
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
}
