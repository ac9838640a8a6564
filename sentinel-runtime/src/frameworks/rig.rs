//! rig: a denial as a refusal the model reads.
//!
//! rig shows a model a tool's `ToolExecutionError`. Built from an arbitrary error type it
//! hides the text ("the tool failed"), so a tool that only returned `Denied` would leave
//! the model guessing; this conversion makes an explicit refusal (rig's `denied`
//! disposition) whose model-visible text is [`Denied::model_feedback`], with the `Denied`
//! kept as its source for hooks and logs. A tool with `type Error = ToolExecutionError`
//! gets it from `#[guarded]` as it is.

use rig_core::tool::ToolExecutionError;

use crate::denied::Denied;

/// A denial as rig's explicit refusal (`ToolExecutionError::refused`): the model reads
/// [`Denied::model_feedback`] (the verdict, the policy, the sidecar's reason, and for
/// `ESCALATE` the escalation id), and hooks and logs get the [`Denied`] as its source. So a
/// rig tool with `type Error = ToolExecutionError` can put `#[guarded]` on its `call` and
/// the agent loop carries on after a denial; `frameworks/examples/rig_tools.rs` runs one.
#[cfg_attr(docsrs, doc(cfg(feature = "rig")))]
impl From<Denied> for ToolExecutionError {
    fn from(denied: Denied) -> Self {
        ToolExecutionError::refused(denied.to_string())
            .with_model_feedback(denied.model_feedback())
            .with_source(denied)
    }
}

#[cfg(test)]
mod tests {
    use rig_core::tool::{ToolErrorKind, ToolExecutionError, ToolResult};

    use crate::decision::{GuardDecision, Verdict};
    use crate::denied::Denied;

    #[test]
    fn a_denial_is_a_refusal_the_model_reads_with_the_denial_as_source() {
        let decision = GuardDecision::new(Verdict::Escalate, "rec_1", Vec::new())
            .with_reason("needs review")
            .with_escalation_id("esc_1");
        let denied = Denied::new(decision, "payment", "fintech.payments");
        let error = ToolExecutionError::from(denied.clone());
        assert!(error.is_refusal());
        assert_eq!(error.kind(), ToolErrorKind::PermissionDenied);
        assert_eq!(error.model_feedback(), Some(denied.model_feedback().as_str()));
        assert_eq!(error.message(), denied.to_string());
        assert_eq!(error.downcast_ref::<Denied>(), Some(&denied));
        let result = ToolResult::failed(error);
        assert!(result.is_refused());
        assert_eq!(result.output().as_text(), Some(denied.model_feedback().as_str()));
    }
}
