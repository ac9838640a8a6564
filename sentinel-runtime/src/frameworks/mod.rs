//! What a model is told when a tool it called was denied, and the conversions that carry it
//! into agent frameworks' tool results (features `rmcp` and `rig`).
//!
//! A denial is the model's business: it must learn that the action did not happen and why,
//! so it can tell the user or try something else. The frameworks' conventions for that are
//! tool results marked as failures, not protocol errors; the conversions build those.

use crate::decision::Verdict;
use crate::denied::Denied;

#[cfg(feature = "rmcp")]
mod mcp;
#[cfg(feature = "rig")]
mod rig;

impl Denied {
    /// The text to show a model instead of the tool's output: the verdict, the action and
    /// its policy, that it was not carried out, for an escalation that it awaits a human and
    /// under which id, and the sidecar's reason. Holds nothing a `Denied`'s `Display` does
    /// not (no arguments, no header values).
    ///
    /// ```
    /// use sentinel_runtime::{Denied, GuardDecision, Verdict};
    ///
    /// let decision = GuardDecision::from_json(
    ///     br#"{"verdict":"ESCALATE","recordId":"rec_1","checks":[],
    ///          "reason":"above the auto-approval limit","escalationId":"esc_7"}"#,
    /// )
    /// .unwrap();
    /// assert_eq!(decision.verdict(), Verdict::Escalate);
    /// let denied = Denied::new(decision, "payment", "fintech.payments");
    /// assert_eq!(
    ///     denied.model_feedback(),
    ///     "ESCALATE: payment under policy fintech.payments was not carried out; it awaits \
    ///      human approval (escalation esc_7). Reason: above the auto-approval limit"
    /// );
    /// ```
    pub fn model_feedback(&self) -> String {
        let mut text = format!(
            "{}: {} under policy {} was not carried out",
            self.verdict(),
            self.kind(),
            self.policy()
        );
        // An escalation whose wait ran out is a fallback BLOCK that keeps its id: the human
        // can still approve it, which is what the model needs to know.
        if let Some(id) = self.escalation_id().filter(|_| self.verdict() != Verdict::Allow) {
            text.push_str(&format!("; it awaits human approval (escalation {id})"));
        } else if self.is_fallback() {
            text.push_str("; it could not be checked");
        }
        if !self.reason().is_empty() {
            text.push_str(&format!(". Reason: {}", self.reason()));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use crate::decision::FailMode;
    use crate::decision::{GuardDecision, Verdict};
    use crate::denied::Denied;

    fn denied(decision: GuardDecision) -> Denied {
        Denied::new(decision, "payment", "fintech.payments")
    }

    #[test]
    fn a_block_names_the_verdict_the_action_and_the_reason() {
        let decision = GuardDecision::new(Verdict::Block, "rec_1", Vec::new()).with_reason("over the limit");
        assert_eq!(
            denied(decision).model_feedback(),
            "BLOCK: payment under policy fintech.payments was not carried out. Reason: over the limit"
        );
    }

    #[test]
    fn a_block_without_a_reason_ends_after_the_action() {
        let decision = GuardDecision::new(Verdict::Block, "rec_1", Vec::new());
        assert_eq!(
            denied(decision).model_feedback(),
            "BLOCK: payment under policy fintech.payments was not carried out"
        );
    }

    #[test]
    fn a_fallback_says_the_action_could_not_be_checked() {
        let decision = GuardDecision::fallback(FailMode::Closed, "connection refused");
        assert_eq!(
            denied(decision).model_feedback(),
            "BLOCK: payment under policy fintech.payments was not carried out; it could not be \
             checked. Reason: sentinel sidecar unreachable (connection refused); failing closed"
        );
    }

    #[test]
    fn an_escalation_whose_wait_ran_out_still_gives_its_id() {
        let decision =
            GuardDecision::fallback(FailMode::Closed, "no answer within 10s").with_escalation_id("esc_3");
        let text = denied(decision).model_feedback();
        assert!(
            text.starts_with("BLOCK: payment under policy fintech.payments was not carried out; it awaits human approval (escalation esc_3). Reason: "),
            "{text}"
        );
    }
}
