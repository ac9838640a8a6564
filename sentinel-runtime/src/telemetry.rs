//! `tracing` integration (feature `tracing`): one `sentinel.guard` span per guard and a
//! warning for every fallback. Payload values and header values are never recorded.

use std::time::Duration;

use tracing::field::Empty;
use tracing::Span;

use crate::action::Action;
use crate::decision::GuardDecision;

/// The span of one guard; the decision's fields are recorded when it is known.
pub(crate) fn guard_span(action: &Action, policy: &str) -> Span {
    tracing::info_span!(
        "sentinel.guard",
        policy,
        action.kind = action.kind(),
        action.id = action.id(),
        verdict = Empty,
        record_id = Empty,
        latency_ms = Empty,
        fallback = Empty,
        attempts = Empty,
    )
}

pub(crate) fn record_decision(span: &Span, decision: &GuardDecision, latency: Duration, attempts: u32) {
    span.record("verdict", decision.verdict().as_str());
    span.record("record_id", decision.record_id());
    span.record("latency_ms", latency.as_secs_f64() * 1000.0);
    span.record("fallback", decision.is_fallback());
    span.record("attempts", attempts);
    if decision.is_fallback() {
        tracing::warn!(
            verdict = decision.verdict().as_str(),
            reason = decision.reason().unwrap_or_default(),
            "sentinel guard fell back without a trustworthy answer"
        );
    }
}
