//! Waiting, always bounded, for a human's answer to an escalation, and the guard that
//! waits on the escalation it opened.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Escalation, ReviewStatus, FIRST_POLL_INTERVAL};
use crate::action::Action;
use crate::client::SentinelClient;
use crate::context::Context;
use crate::deadline::deadline_after;
use crate::decision::{human_decision, GuardDecision, Verdict};
use crate::sidecar_error::SidecarError;

impl SentinelClient {
    /// The longest pause between two polls of a wait for a human's answer.
    pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

    /// Polls with backoff until a human approves or denies `escalation_id`, or `timeout`
    /// passes; every request made while waiting ends by then too. Approved: an `ALLOW`
    /// whose record is the human review (verified, with `verify_decisions`). Denied:
    /// `BLOCK`. Still pending at the timeout, an unknown escalation, or an approval that
    /// cannot be confirmed: a fallback `BLOCK`, whatever the fail mode (a pending
    /// escalation is never an `ALLOW`). A sidecar error while polling does not end the
    /// wait early; the last one is named in the reason if the wait runs out.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sentinel_runtime::SentinelClient;
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// let decision = client.wait_for_resolution("esc_6f1c", Duration::from_secs(60));
    /// println!("{}: {}", decision.verdict(), decision.reason().unwrap_or_default());
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    #[must_use = "the action may happen only if this decision allows it"]
    pub fn wait_for_resolution(&self, escalation_id: &str, timeout: Duration) -> GuardDecision {
        self.wait(escalation_id, timeout, None, &AtomicBool::new(false))
    }

    /// [`guard`](Self::guard), and on `ESCALATE` a wait of at most `timeout` for a human,
    /// as `on_escalate = wait(timeout = …)` does for a `#[guarded]` function: approved
    /// gives an `ALLOW` on the human-review record, denied a `BLOCK`. Still pending at the
    /// timeout (or unconfirmable) gives a fallback `BLOCK` that keeps the escalation id, so
    /// the caller can report it and resume later. The escalation must belong to this call
    /// (the decision's record and the action's id): an `ESCALATE` pointing at someone
    /// else's approved escalation is refused. A zero `timeout` does not wait: the
    /// `ESCALATE` is returned as it came.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sentinel_runtime::{Action, Context, SentinelClient};
    /// use serde_json::json;
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// let pay = Action::payment(json!({"amount": 42000, "from": "acct_ops", "to": "vendor_42"}));
    /// let decision = client.guard_and_wait(&pay, &Context::new("run-42"), "fintech.payments",
    ///     Duration::from_secs(120));
    /// if decision.allowed() {
    ///     // a human approved (or no approval was needed)
    /// }
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    #[must_use = "the action may happen only if this decision allows it"]
    pub fn guard_and_wait(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        timeout: Duration,
    ) -> GuardDecision {
        self.guard_and_wait_cancellable(action, context, policy, timeout, &AtomicBool::new(false))
    }

    /// [`guard_and_wait`](Self::guard_and_wait) that stops waiting, denying, once
    /// `cancelled` is set (a dropped future of a guarded `async fn`).
    pub(crate) fn guard_and_wait_cancellable(
        &self,
        action: &Action,
        context: &Context,
        policy: &str,
        timeout: Duration,
        cancelled: &AtomicBool,
    ) -> GuardDecision {
        let decision = self.guard(action, context, policy);
        if timeout.is_zero() || decision.verdict() != Verdict::Escalate || decision.is_fallback() {
            return decision;
        }
        let mut resolved = self.wait_on_escalated(&decision, action, timeout, cancelled);
        if resolved.escalation_id().is_none() {
            // Still pending at the timeout (or the sidecar failed while polled): the
            // escalation is still there for a human, so the denial keeps its id to report
            // and resume with.
            resolved.set_escalation_id(decision.escalation_id().unwrap_or_default());
        }
        resolved
    }

    /// [`wait_for_resolution`](Self::wait_for_resolution) for the escalation `decision`
    /// opened for `action`: the escalation must name the decision's record and the action's
    /// id (an `ESCALATE` pointing at someone else's approved escalation is refused), and
    /// with `verify_decisions` the approval's record must name that original record.
    /// Stops early, denying, once `cancelled` is set.
    fn wait_on_escalated(
        &self,
        decision: &GuardDecision,
        action: &Action,
        timeout: Duration,
        cancelled: &AtomicBool,
    ) -> GuardDecision {
        let Some(escalation_id) = decision.escalation_id() else {
            return GuardDecision::refused("ESCALATE without an escalation id");
        };
        let Some(record_id) = decision.record_id() else {
            return GuardDecision::refused("ESCALATE without a record id");
        };
        let binding = Binding { record_id, action };
        self.wait(escalation_id, timeout, Some(binding), cancelled)
    }

    fn wait(
        &self,
        id: &str,
        timeout: Duration,
        binding: Option<Binding<'_>>,
        cancelled: &AtomicBool,
    ) -> GuardDecision {
        let wait_deadline = deadline_after(timeout);
        let mut pause = FIRST_POLL_INTERVAL;
        let mut last_error = None;
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return GuardDecision::refused(format!("escalation {id}: the caller stopped waiting"));
            }
            let deadline = wait_deadline.min(self.deadline());
            match self.poll(id, deadline) {
                Ok((escalation, status)) => {
                    if let Some(binding) = &binding {
                        if !binding.matches(&escalation) {
                            return GuardDecision::refused(format!(
                                "escalation {id} does not belong to this call (another record or action)"
                            ));
                        }
                    }
                    match status {
                        ReviewStatus::Pending => {}
                        ReviewStatus::Approved { record_id } => {
                            return self.approved(id, record_id, binding.as_ref(), deadline)
                        }
                        ReviewStatus::Denied {
                            record_id: Some(record_id),
                        } => return human_decision(Verdict::Block, record_id, id, "denied by a human"),
                        ReviewStatus::Denied { record_id: None } => {
                            return GuardDecision::refused(format!("escalation {id} was denied by a human"))
                        }
                    }
                }
                Err(SidecarError::NotFound(_)) => {
                    return GuardDecision::refused(format!("escalation {id} not found"));
                }
                // An error because the wait itself ran out says nothing about the sidecar.
                Err(e) if Instant::now() < wait_deadline => last_error = Some(e),
                Err(_) => {}
            }
            let now = Instant::now();
            if now >= wait_deadline {
                return GuardDecision::refused(match last_error {
                    Some(e) => format!("escalation {id} unresolved after {timeout:?} (last error: {e})"),
                    None => format!("escalation {id} still pending after {timeout:?}"),
                });
            }
            std::thread::sleep(pause.min(wait_deadline - now));
            pause = (pause * 2).min(Self::MAX_POLL_INTERVAL);
        }
    }

    /// An `ALLOW` for an approved escalation, once its human-review record is known (and,
    /// with `verify_decisions`, verified and about this escalation and call).
    #[cfg_attr(not(feature = "verify"), allow(unused_variables))]
    fn approved(
        &self,
        id: &str,
        record_id: String,
        binding: Option<&Binding<'_>>,
        deadline: Instant,
    ) -> GuardDecision {
        if record_id.is_empty() {
            return GuardDecision::refused(format!(
                "escalation {id} approved, but no human.review record was found"
            ));
        }
        #[cfg(feature = "verify")]
        if let Some(trusted) = self.trusted_keys() {
            if let Err(why) = self.check_review_record(&record_id, id, binding, trusted, deadline) {
                return GuardDecision::refused(format!("approval of escalation {id} not verified: {why}"));
            }
        }
        human_decision(Verdict::Allow, record_id, id, "approved by a human")
    }

    #[cfg(feature = "verify")]
    fn check_review_record(
        &self,
        record_id: &str,
        escalation_id: &str,
        binding: Option<&Binding<'_>>,
        trusted: &crate::provenance::TrustedKeys,
        deadline: Instant,
    ) -> Result<(), String> {
        let record = self.fetch_record(record_id, deadline)?;
        crate::provenance::verify_record(&record, trusted).map_err(|e| format!("record signature: {e}"))?;
        if record.id != record_id || record.verdict != "ALLOW" {
            return Err(format!(
                "record {} says {}, not an approval",
                record.id, record.verdict
            ));
        }
        let review = record
            .checks
            .as_array()
            .and_then(|checks| checks.iter().find(|c| c["check"] == "human.review"))
            .ok_or("the record holds no human.review check")?;
        if review["details"]["escalationId"] != escalation_id {
            return Err("the review is about another escalation".into());
        }
        if let Some(binding) = binding {
            if review["details"]["originalRecordId"] != binding.record_id {
                return Err("the review is about another decision".into());
            }
            // The escalation and the original record id come from unsigned answers; the
            // signed record must itself be about this action, and let one call through.
            let fingerprint =
                crate::provenance::action_fingerprint(binding.action.kind(), binding.action.payload());
            if record.action_fingerprint != fingerprint {
                return Err("the approval is for another action (actionFingerprint differs)".into());
            }
            if !self.first_use_of_record(&record.id) {
                return Err(format!(
                    "the approval {} was already used by this client",
                    record.id
                ));
            }
        }
        Ok(())
    }
}

/// What a waited-on escalation must name to belong to the call that waits.
struct Binding<'a> {
    record_id: &'a str,
    action: &'a Action,
}

impl Binding<'_> {
    fn matches(&self, escalation: &Escalation) -> bool {
        escalation.record_id == self.record_id
            && escalation.action.get("id").and_then(Value::as_str) == Some(self.action.id())
    }
}
