//! A verified `ALLOW` (feature `verify`): the client fetches the decision's signed record
//! and honours the `ALLOW` only when it checks out against a pinned key, is about the very
//! call that asked, and was not used before.

use std::time::Instant;

use super::SentinelClient;
use crate::action::Action;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::protocol;
use crate::provenance::{action_fingerprint, verify_record, Record, TrustedKeys};

#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
impl SentinelClient {
    /// Checks an `ALLOW` from the sidecar against its record `GET /v1/records/{recordId}`,
    /// within the guard's own `deadline`: the record verifies with a trusted key, is the
    /// record the decision named, says `ALLOW`, is about exactly `action` (its fingerprint),
    /// this run (`context.runId`), this tenant and `policy` (its `policy:<name>` check), and
    /// has not let another call through before (a replay).
    ///
    /// Anything else is evidence that the answer did not come from the trusted sidecar, so
    /// the result is a `BLOCK` whatever the fail mode, with a reason naming what did not
    /// match.
    pub(super) fn verified(
        &self,
        decision: GuardDecision,
        trusted: &TrustedKeys,
        action: &Action,
        context: &Context,
        policy: &str,
        deadline: Instant,
    ) -> GuardDecision {
        let checked = decision
            .record_id()
            .ok_or_else(|| "the decision names no record".to_owned())
            .and_then(|record_id| self.fetch_record(record_id, deadline))
            .and_then(|record| {
                check_allow_record(&record, &decision, trusted, action, context, policy)?;
                if !self.inner.seen_records.first_use(&record.id) {
                    return Err(format!(
                        "record {} already let an earlier call through (a replay)",
                        record.id
                    ));
                }
                Ok(())
            });
        match checked {
            Ok(()) => decision,
            Err(why) => GuardDecision::refused(format!("ALLOW not verified: {why}")),
        }
    }

    /// `GET /v1/records/{id}`, read strictly.
    pub(crate) fn fetch_record(&self, record_id: &str, deadline: Instant) -> Result<Record, String> {
        let url = format!("{}{}", self.endpoint(), protocol::record_path(record_id));
        let response = self
            .exchange_until("GET", &url, Vec::new(), deadline, &mut 0)
            .map_err(|e| e.to_string())?;
        if !protocol::is_success(response.status) {
            return Err(format!(
                "record {record_id} could not be fetched (HTTP {})",
                response.status
            ));
        }
        let text = std::str::from_utf8(&response.body).map_err(|_| "record is not UTF-8".to_owned())?;
        let record = Record::from_json(text).map_err(|e| format!("record is malformed: {e}"))?;
        if record.id != record_id {
            return Err(format!(
                "asked for record {record_id}, the answer is record {}",
                record.id
            ));
        }
        Ok(record)
    }
}

/// `Ok` when `record` verifies with a trusted key, is the record `decision` named, says
/// `ALLOW`, and is about exactly `action` (its fingerprint), this run (`context.runId`),
/// this tenant and `policy`; otherwise what did not match.
pub(crate) fn check_allow_record(
    record: &Record,
    decision: &GuardDecision,
    trusted: &TrustedKeys,
    action: &Action,
    context: &Context,
    policy: &str,
) -> Result<(), String> {
    verify_record(record, trusted).map_err(|e| format!("record signature: {e}"))?;
    if Some(record.id.as_str()) != decision.record_id() {
        return Err(format!(
            "record id {} is not the decision's {}",
            record.id,
            decision.record_id().unwrap_or_default()
        ));
    }
    if record.verdict != "ALLOW" {
        return Err(format!("the signed record says {}, not ALLOW", record.verdict));
    }
    if record.action_fingerprint != action_fingerprint(action.kind(), action.payload()) {
        return Err("the signed record is about another action (actionFingerprint differs)".into());
    }
    if record.context.get("runId").and_then(|r| r.as_str()) != Some(context.run_id()) {
        return Err("the signed record is about another run (context.runId differs)".into());
    }
    // The sidecar records no tenant for an empty one (`tenant: ""` is dropped).
    let tenant = context.tenant().filter(|tenant| !tenant.is_empty());
    if record.tenant.as_deref() != tenant {
        return Err("the signed record is about another tenant".into());
    }
    if !judged_under(record, policy) {
        return Err(format!(
            "the signed record was not judged under policy {policy} (it has no `policy:{policy}` check)"
        ));
    }
    Ok(())
}

/// Whether `record` holds the check the sidecar names `policy:<name>` for the policy pack
/// `policy`: the one mark in a record of the policy that judged it.
pub(crate) fn judged_under(record: &Record, policy: &str) -> bool {
    let wanted = format!("policy:{policy}");
    record.checks.as_array().is_some_and(|checks| {
        checks
            .iter()
            .any(|check| check.get("check").and_then(serde_json::Value::as_str) == Some(wanted.as_str()))
    })
}
