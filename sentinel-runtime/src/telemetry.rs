//! `tracing` integration: with the `tracing` feature, one `sentinel.guard` span per guard
//! and one warning for every fallback; without it, nothing at all. The feature checks live
//! here so the client reads the same either way. Payload values and header values are
//! never recorded.

use crate::action::Action;
use crate::decision::GuardDecision;

/// The span of one guard, entered until [`finish`](Self::finish) records its decision.
pub(crate) struct GuardSpan {
    #[cfg(feature = "tracing")]
    span: tracing::span::EnteredSpan,
    #[cfg(feature = "tracing")]
    started: std::time::Instant,
}

impl GuardSpan {
    /// Opens and enters the span of a guard of `action` under `policy`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn enter(action: &Action, policy: &str) -> GuardSpan {
        GuardSpan {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                "sentinel.guard",
                policy,
                action.kind = action.kind(),
                action.id = action.id(),
                verdict = tracing::field::Empty,
                record_id = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
                fallback = tracing::field::Empty,
                attempts = tracing::field::Empty,
            )
            .entered(),
            #[cfg(feature = "tracing")]
            started: std::time::Instant::now(),
        }
    }

    /// Records the decision and how many attempts it took, warns on a fallback, and
    /// leaves the span.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn finish(self, decision: &GuardDecision, attempts: u32) {
        #[cfg(feature = "tracing")]
        {
            let span = &self.span;
            span.record("verdict", decision.verdict().as_str());
            span.record("record_id", decision.record_id().unwrap_or_default());
            span.record("latency_ms", self.started.elapsed().as_secs_f64() * 1000.0);
            span.record("fallback", decision.is_fallback());
            span.record("attempts", attempts);
        }
        fell_back(decision);
    }
}

/// With the `tracing` feature, the one warning of a fallback decision (every fallback, in
/// the current span). Without it, the client logs a fail-open `ALLOW` through `log`
/// instead (`SentinelClient::fail_safe`), never both: a log-to-tracing bridge would
/// otherwise show the same event twice. `tracing`'s `log` feature carries this event to a
/// `log` logger when no tracing subscriber is set.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn fell_back(decision: &GuardDecision) {
    #[cfg(feature = "tracing")]
    if let Some(kind) = decision.fallback_kind() {
        tracing::warn!(
            target: "sentinel",
            verdict = decision.verdict().as_str(),
            kind = %kind,
            reason = decision.reason().unwrap_or_default(),
            "sentinel guard fell back without a trustworthy answer"
        );
    }
}
