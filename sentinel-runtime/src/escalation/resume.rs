//! Park and resume (feature `verify`): an action that escalated is run later, once, on the
//! strength of the human approval of that very action.
//!
//! The reference sidecar opens a new escalation for every guard of an action that needs a
//! human, so "approve, then run the tool again" can never get an `ALLOW` by asking again.
//! Instead the rerun names the escalation a human approved ([`Context::resuming`]), and the
//! client honours it only on the signed `human.review` record of that approval.

use std::time::Instant;

use crate::action::Action;
use crate::client::{judged_under, SentinelClient};
use crate::context::Context;
use crate::decision::{human_decision, GuardDecision, Verdict};
use crate::protocol::request_error;
use crate::provenance::{action_fingerprint, verify_record, Record, TrustedKeys};

use super::ReviewStatus;
use crate::sidecar_error::SidecarError;

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl SentinelClient {
    /// Resumes `action` after a human approved the escalation `escalation_id`: an `ALLOW`
    /// whose record is the human review, only if
    ///
    /// - the escalation is approved, and its `human.review` record (fetched by id) says
    ///   `ALLOW` and names this escalation;
    /// - that record is about the identical action: its `actionFingerprint` (type and
    ///   payload; the action id may differ) is the fingerprint of `action`, and its tenant
    ///   is the context's;
    /// - the escalation was opened under `policy`: the original record the approval names
    ///   (`originalRecordId`) carries the `policy:<policy>` check, so an approval given
    ///   under one policy does not let the action through under another;
    /// - with [`verify_decisions`](crate::SentinelClientBuilder::verify_decisions), it
    ///   verifies under the pinned keys;
    /// - this client has not resumed on it before (each approval lets one call through per
    ///   client; the last 4096 are remembered).
    ///
    /// Anything else — pending, denied, unknown, another action, a record that does not
    /// verify, a second use, no answer from the sidecar — is a `BLOCK`, whatever the fail
    /// mode, with a reason saying which. `#[guarded]` functions resume through their
    /// context: `Context::new(run).resuming(escalation_id).scope(|| pay(…))`, and resume
    /// under the policy of the function.
    ///
    /// What it does not guarantee: that an approval is used once across processes (another
    /// client, or this one restarted, can resume on it again), nor that the approval is
    /// recent. Single use across processes needs the sidecar's authorization receipts.
    ///
    /// ```no_run
    /// use sentinel_runtime::{Action, Context, SentinelClient};
    /// use serde_json::json;
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// // The very action that escalated earlier (same type and payload), once approved:
    /// let pay = Action::payment(json!({"amount": 42000, "from": "acct_ops", "to": "vendor_42"}));
    /// let decision = client.resume("esc_6f1c", &pay, &Context::new("run-42"), "fintech.payments");
    /// if decision.allowed() {
    ///     // move the money, once
    /// }
    /// # Ok::<(), sentinel_runtime::BuildError>(())
    /// ```
    pub fn resume(
        &self,
        escalation_id: &str,
        action: &Action,
        context: &Context,
        policy: &str,
    ) -> GuardDecision {
        self.resume_until(escalation_id, action, context, policy, self.deadline())
    }

    /// [`resume`](Self::resume) within the caller's deadline.
    pub(crate) fn resume_until(
        &self,
        escalation_id: &str,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
    ) -> GuardDecision {
        if let Some(why) = request_error(action, context, policy) {
            return GuardDecision::refused(why);
        }
        match self.approval_of(
            escalation_id,
            action,
            context,
            Some(policy),
            self.trusted_keys(),
            deadline,
        ) {
            Ok(record_id) => human_decision(Verdict::Allow, record_id, escalation_id, "approved by a human"),
            Err(why) => GuardDecision::refused(format!("cannot resume on escalation {escalation_id}: {why}")),
        }
    }

    /// The id of the human-review record that approves `action` under `escalation_id`, for
    /// an escalation opened under `policy` when one is given, verified under `trusted` when
    /// given (and used once by this client).
    ///
    /// A resume passes its policy: an approval under a laxer policy must not resume a call
    /// asked under a stricter one. A receipt's executor passes none: the receipt's own
    /// policy is already bound by its verified decision record, and the approval attests
    /// only that a human approved this very action.
    pub(crate) fn approval_of(
        &self,
        escalation_id: &str,
        action: &Action,
        context: &Context,
        policy: Option<&str>,
        trusted: Option<&TrustedKeys>,
        deadline: Instant,
    ) -> Result<String, String> {
        let record_id = match self.poll(escalation_id, deadline) {
            Ok((_, ReviewStatus::Approved { record_id })) if !record_id.is_empty() => record_id,
            Ok((_, ReviewStatus::Approved { .. })) => {
                return Err("approved, but no human.review record was found".into())
            }
            Ok((_, ReviewStatus::Pending)) => return Err("still pending".into()),
            Ok((_, ReviewStatus::Denied { .. })) => return Err("denied by a human".into()),
            Err(SidecarError::NotFound(_)) => return Err("no such escalation".into()),
            Err(e) => return Err(e.to_string()),
        };
        let record = self.fetch_record(&record_id, deadline)?;
        if let Some(trusted) = trusted {
            verify_record(&record, trusted).map_err(|e| format!("the approval's record: {e}"))?;
        }
        let original_id = check_approval(&record, &record_id, escalation_id, action, context)?;
        if let Some(policy) = policy {
            self.check_opened_under(&original_id, policy, trusted, deadline)?;
        }
        if !self.first_use_of_record(&record.id) {
            return Err(format!(
                "the approval {} was already used by this client",
                record.id
            ));
        }
        Ok(record_id)
    }

    /// Whether the escalation's original record (named by the signed approval, not by the
    /// unsigned escalation list) was judged under `policy`.
    fn check_opened_under(
        &self,
        original_id: &str,
        policy: &str,
        trusted: Option<&TrustedKeys>,
        deadline: Instant,
    ) -> Result<(), String> {
        let original = self
            .fetch_record(original_id, deadline)
            .map_err(|e| format!("the escalation's original record: {e}"))?;
        if let Some(trusted) = trusted {
            verify_record(&original, trusted)
                .map_err(|e| format!("the escalation's original record: {e}"))?;
        }
        if original.id != original_id {
            return Err(format!(
                "asked for the escalation's original record {original_id}, got {}",
                original.id
            ));
        }
        if !judged_under(&original, policy) {
            return Err(format!(
                "the escalation was not opened under policy {policy} (its record {original_id} has no \
                 `policy:{policy}` check)"
            ));
        }
        Ok(())
    }
}

/// Whether `record` is the approval, by a human, of exactly `action` under `escalation_id`;
/// the id of the escalation's original record it names.
fn check_approval(
    record: &Record,
    record_id: &str,
    escalation_id: &str,
    action: &Action,
    context: &Context,
) -> Result<String, String> {
    if record.id != record_id || record.verdict != "ALLOW" {
        return Err(format!(
            "record {} says {}, not an approval",
            record.id, record.verdict
        ));
    }
    let review = record.checks.as_array().and_then(|checks| {
        checks.iter().find(|c| {
            c["check"] == "human.review"
                && c["verdict"] == "ALLOW"
                && c["details"]["escalationId"] == escalation_id
        })
    });
    let Some(review) = review else {
        return Err("the record holds no human approval of this escalation".into());
    };
    let Some(original_id) = review["details"]["originalRecordId"]
        .as_str()
        .filter(|id| !id.is_empty())
    else {
        return Err("the approval names no original record (`originalRecordId`)".into());
    };
    if record.action_fingerprint != action_fingerprint(action.kind(), action.payload()) {
        return Err("the approval is for another action (actionFingerprint differs)".into());
    }
    let tenant = context.tenant().filter(|tenant| !tenant.is_empty());
    if record.tenant.as_deref() != tenant {
        return Err("the approval is for another tenant".into());
    }
    Ok(original_id.to_owned())
}
