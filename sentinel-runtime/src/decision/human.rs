//! A decision made from a human's review of an escalation: the verdict the human gave,
//! on the signed `human.review` record of that review.

use serde_json::{Map, Value};

use super::{CheckResult, Details, GuardDecision, Outcome, Verdict};

/// The decision a human's `verdict` on `escalation_id` stands for, backed by the
/// `human.review` record `record_id`; `reason` says what the human did.
pub(crate) fn human_decision(
    verdict: Verdict,
    record_id: String,
    escalation_id: &str,
    reason: &str,
) -> GuardDecision {
    let check = CheckResult {
        check: "human.review".to_owned(),
        outcome: if verdict == Verdict::Allow {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        verdict,
        reason: Some(reason.to_owned()),
        details: Details::try_from(Map::from_iter([(
            "escalationId".to_owned(),
            Value::String(escalation_id.to_owned()),
        )]))
        .ok(),
        latency_ms: None,
    };
    GuardDecision::derived(
        verdict,
        record_id,
        vec![check],
        format!("{reason} (escalation {escalation_id})"),
        escalation_id.to_owned(),
    )
}
