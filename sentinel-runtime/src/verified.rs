//! Verified decisions (feature `verify`): whether a signed record backs an `ALLOW`, that
//! is, checks out against a pinned key and is about the very call that asked. Fetching
//! the record and refusing its replay are the client's part.

use crate::action::Action;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::provenance::{action_fingerprint, verify_record, Record, TrustedKeys};

/// `Ok` when `record` verifies with a trusted key, is the record `decision` named, says
/// `ALLOW`, and is about exactly `action` (its fingerprint), this run (`context.runId`)
/// and this tenant; otherwise what did not match.
pub(crate) fn check_allow_record(
    record: &Record,
    decision: &GuardDecision,
    trusted: &TrustedKeys,
    action: &Action,
    context: &Context,
) -> Result<(), String> {
    verify_record(record, trusted).map_err(|e| format!("record signature: {e}"))?;
    if record.id != decision.record_id() {
        return Err(format!(
            "record id {} is not the decision's {}",
            record.id,
            decision.record_id()
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
    Ok(())
}
