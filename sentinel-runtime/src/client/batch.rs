//! `POST /v1/guard/batch`: many guards in as few requests as the deadline allows.
//!
//! The sidecar evaluates a batch one action after another and answers once it has decided
//! (and recorded) them all, so a batch too long for the deadline is lost whole while the
//! sidecar records every decision. Chunks are therefore sized from the deadline and the time
//! per action observed so far; a chunk the rate limiter refuses whole
//! (`rate limit exceeded (batch)`: it charges one token per action) is split in two.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::SentinelClient;
use crate::action::Action;
use crate::context::Context;
use crate::deadline::time_left;
use crate::decision::{FallbackKind, GuardDecision};
use crate::protocol;
use crate::protocol::{request_error, GuardBatch, GuardRequest};
use crate::transport::HttpResponse;

/// The first chunk's size, before any time per action has been observed.
const FIRST_CHUNK: usize = 32;

/// The time per action the sidecar took on this client's batches (nanoseconds; 0 until
/// one has been seen). Shared by the client's clones.
#[derive(Default)]
pub(crate) struct Pace {
    nanos_per_action: AtomicU64,
}

impl Pace {
    /// How many actions fit in half of `timeout` (the rest is margin for the network, a
    /// slower moment of the sidecar, and verifying the answers).
    fn chunk_for(&self, timeout: Duration) -> usize {
        match self.nanos_per_action.load(Ordering::Relaxed) {
            0 => FIRST_CHUNK,
            per_action => {
                let budget = (timeout / 2).as_nanos();
                usize::try_from(budget / u128::from(per_action)).map_or(SentinelClient::MAX_BATCH, |n| {
                    n.clamp(1, SentinelClient::MAX_BATCH)
                })
            }
        }
    }

    /// Takes in that `actions` took `elapsed`: a slower pace is believed at once, a faster
    /// one half way.
    fn observe(&self, elapsed: Duration, actions: usize) {
        let Ok(actions) = u32::try_from(actions.max(1)) else {
            return;
        };
        let observed = u64::try_from((elapsed / actions).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = self
            .nanos_per_action
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 || observed >= old {
                    observed
                } else {
                    old / 2 + observed / 2
                })
            });
    }
}

/// The reference sidecar's answer to a batch its rate limiter refuses whole.
fn refused_whole(response: &HttpResponse) -> bool {
    response.status == 429
        && protocol::error_text(&response.body).is_some_and(|text| text.contains("(batch)"))
}

impl SentinelClient {
    /// The most requests one `POST /v1/guard/batch` carries; longer batches are split.
    pub const MAX_BATCH: usize = 256;

    /// Asks about many actions in as few requests as their deadline allows
    /// (`POST /v1/guard/batch`). Returns one decision per request, in order.
    ///
    /// **One deadline for the whole batch:** the client's [timeout](SentinelClient::timeout)
    /// from the call, retries, splits and the verification of `ALLOW`s included. Requests
    /// go in chunks, each as many actions as the sidecar can decide in half of the time
    /// left, judged by the time per action of this client's earlier batches (32 at first,
    /// at most [`MAX_BATCH`](Self::MAX_BATCH)), one after another. Whatever is not answered
    /// by the deadline gets the [fallback](GuardDecision::is_fallback) decision (`BLOCK`,
    /// unless the client fails open), with a reason saying so: a long batch against a slow
    /// or rate-limited sidecar returns by its deadline (plus at most the one request under
    /// way), with the rest denied, rather than taking as long as the sidecar needs.
    ///
    /// A chunk the sidecar's rate limiter refuses whole is split in two; a 503, or a 429 for
    /// an empty bucket, is retried like a guard, within the deadline. A malformed decision
    /// fails safe for its own request; an answer that is not a list of the right length, or
    /// none within the deadline, fails safe for every request it covered.
    ///
    /// ```
    /// use sentinel_runtime::{Action, Context, SentinelClient};
    /// use serde_json::json;
    ///
    /// // Nothing listens on port 9: every action gets the fail-closed fallback.
    /// let client = SentinelClient::builder("http://127.0.0.1:9").build()?;
    /// let run = Context::new("run-42");
    /// let decisions = client.guard_batch(&[
    ///     (Action::payment(json!({"amount": 100, "to": "vendor_42"})), run.clone(), "fintech.payments"),
    ///     (Action::payment(json!({"amount": 250, "to": "vendor_7"})), run, "fintech.payments"),
    /// ]);
    /// assert_eq!(decisions.len(), 2);
    /// assert!(decisions.iter().all(|d| d.is_fallback() && !d.allowed()));
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    #[must_use = "each action may happen only if its decision allows it"]
    pub fn guard_batch<P: AsRef<str>>(&self, requests: &[(Action, Context, P)]) -> Vec<GuardDecision> {
        let deadline = self.deadline();
        let mut decisions = Vec::with_capacity(requests.len());
        let mut rest = requests;
        while !rest.is_empty() {
            let left = time_left(deadline);
            if left.is_zero() {
                let why = format!(
                    "not asked: the batch's deadline ({:?} for all {} actions) passed before its turn",
                    self.timeout(),
                    requests.len()
                );
                decisions.extend(
                    rest.iter()
                        .map(|_| self.fail_safe(FallbackKind::TimedOut, why.clone())),
                );
                break;
            }
            let size = self.inner.batch_pace.chunk_for(left).min(rest.len());
            let (chunk, tail) = rest.split_at(size);
            decisions.extend(self.guard_chunk(chunk, deadline));
            rest = tail;
        }
        decisions.iter().for_each(crate::telemetry::fell_back);
        decisions
    }

    fn guard_chunk<P: AsRef<str>>(
        &self,
        chunk: &[(Action, Context, P)],
        deadline: Instant,
    ) -> Vec<GuardDecision> {
        let sent: Vec<GuardRequest<'_>> = chunk
            .iter()
            .filter(|(action, context, policy)| request_error(action, context, policy.as_ref()).is_none())
            .map(|(action, context, policy)| GuardRequest {
                action,
                context,
                policy: policy.as_ref(),
            })
            .collect();
        let mut answers = if sent.is_empty() {
            Vec::new().into_iter()
        } else {
            self.batch_exchange(&sent, deadline).into_iter()
        };
        chunk
            .iter()
            .map(
                |(action, context, policy)| match request_error(action, context, policy.as_ref()) {
                    Some(why) => GuardDecision::refused(why),
                    // batch_exchange returns exactly one decision per request sent.
                    None => match answers.next() {
                        // Verifying is a request of its own, within the batch's deadline.
                        Some(decision) => self.checked(decision, action, context, policy.as_ref(), deadline),
                        None => self.fail_safe(FallbackKind::Malformed, "batch answer too short"),
                    },
                },
            )
            .collect()
    }

    /// Sends one batch before `deadline`, split in two when the rate limiter refuses it
    /// whole; returns exactly one decision per request.
    fn batch_exchange(&self, requests: &[GuardRequest<'_>], deadline: Instant) -> Vec<GuardDecision> {
        let count = requests.len();
        let fail_all =
            |kind: FallbackKind, why: String| (0..count).map(|_| self.fail_safe(kind, why.clone())).collect();
        let started = Instant::now();
        let body = match serde_json::to_vec(&GuardBatch { requests }) {
            Ok(body) => body,
            Err(e) => {
                return fail_all(
                    FallbackKind::RefusedByClient,
                    format!("request could not be serialized: {e}"),
                )
            }
        };
        // A batch refused whole is refused again however long one waits if it holds more
        // actions than the bucket can: split it instead of retrying it.
        let retry = |response: &HttpResponse| count == 1 || !refused_whole(response);
        let response = self.exchange_retrying("POST", &self.inner.batch_url, body, deadline, &mut 0, &retry);
        let response = match response {
            Ok(response) if count > 1 && refused_whole(&response) => {
                let (first, second) = requests.split_at(count / 2);
                let mut decisions = self.batch_exchange(first, deadline);
                decisions.extend(self.batch_exchange(second, deadline));
                return decisions;
            }
            Ok(response) => response,
            Err(why) => {
                // No answer in time: the sidecar is at least this slow per action.
                self.inner.batch_pace.observe(started.elapsed(), count);
                return fail_all(FallbackKind::of_transport(&why), why.to_string());
            }
        };
        if !protocol::is_success(response.status) {
            return fail_all(
                FallbackKind::of_status(response.status),
                protocol::describe_status(response.status, &response.body),
            );
        }
        self.inner.batch_pace.observe(started.elapsed(), count);
        let fail_malformed = |why: String| {
            self.dishonoured();
            fail_all(FallbackKind::Malformed, why)
        };
        let items = match crate::decision::batch_from_json(&response.body) {
            Ok(items) if items.len() == count => items,
            Ok(items) => {
                return fail_malformed(format!(
                    "batch answer has {} decisions for {count} requests",
                    items.len()
                ))
            }
            Err(e) => return fail_malformed(format!("malformed batch answer: {e}")),
        };
        items
            .into_iter()
            .map(|item| {
                item.unwrap_or_else(|e| {
                    self.fail_safe(FallbackKind::Malformed, format!("malformed decision: {e}"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_chunk_is_small_and_later_ones_fit_half_the_deadline() {
        let pace = Pace::default();
        assert_eq!(pace.chunk_for(Duration::from_secs(10)), FIRST_CHUNK);
        // 32 actions in 3.2 s: 100 ms each, so 5 s hold 50.
        pace.observe(Duration::from_millis(3200), 32);
        assert_eq!(pace.chunk_for(Duration::from_secs(10)), 50);
        // Never empty, never over the protocol's cap.
        assert_eq!(pace.chunk_for(Duration::from_millis(10)), 1);
        pace.observe(Duration::from_nanos(10), 10);
        pace.observe(Duration::from_nanos(10), 10);
        pace.observe(Duration::from_nanos(10), 10);
        assert!(pace.chunk_for(Duration::from_secs(10)) <= SentinelClient::MAX_BATCH);
    }

    #[test]
    fn a_slower_pace_is_believed_at_once_and_a_faster_one_half_way() {
        let pace = Pace::default();
        pace.observe(Duration::from_millis(100), 10); // 10 ms
        pace.observe(Duration::from_millis(400), 10); // 40 ms: believed
        assert_eq!(pace.nanos_per_action.load(Ordering::Relaxed), 40_000_000);
        pace.observe(Duration::from_millis(200), 10); // 20 ms: half way to 30
        assert_eq!(pace.nanos_per_action.load(Ordering::Relaxed), 30_000_000);
    }

    #[test]
    fn only_the_batch_refusal_splits() {
        let whole = HttpResponse::new(429, r#"{"error":"rate limit exceeded (batch)"}"#);
        let empty_bucket = HttpResponse::new(429, r#"{"error":"rate limit exceeded"}"#);
        let overloaded = HttpResponse::new(503, r#"{"error":"overloaded; retry later"}"#);
        assert!(refused_whole(&whole));
        assert!(!refused_whole(&empty_bucket));
        assert!(!refused_whole(&overloaded));
    }
}
