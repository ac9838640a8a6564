//! Verified decisions (feature `verify`): an `ALLOW` is honoured only after its signed
//! record checks out against a pinned key and matches the call that asked.

use crate::action::Action;
use crate::client::SentinelClient;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::provenance::{action_fingerprint, verify_record, Record, TrustedKeys};

impl SentinelClient {
    /// Checks an `ALLOW` from the sidecar against its record `GET /v1/records/{recordId}`:
    /// the record verifies with a trusted key, is the record the decision named, says
    /// `ALLOW`, is about exactly `action` (its fingerprint) and this run (`context.runId`).
    ///
    /// Anything else is evidence that the answer did not come from the trusted sidecar, so
    /// the result is a `BLOCK` whatever the fail mode, with a reason naming what did not
    /// match.
    pub(crate) fn verified(
        &self,
        decision: GuardDecision,
        trusted: &TrustedKeys,
        action: &Action,
        context: &Context,
    ) -> GuardDecision {
        match self.check_record(&decision, trusted, action, context) {
            Ok(()) => decision,
            Err(why) => GuardDecision::refused(format!("ALLOW not verified: {why}")),
        }
    }

    fn check_record(
        &self,
        decision: &GuardDecision,
        trusted: &TrustedKeys,
        action: &Action,
        context: &Context,
    ) -> Result<(), String> {
        let url = format!("{}/v1/records/{}", self.endpoint(), decision.record_id());
        let response = self.exchange("GET", &url, Vec::new())?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "record {} could not be fetched (HTTP {})",
                decision.record_id(),
                response.status
            ));
        }
        let text = std::str::from_utf8(&response.body).map_err(|_| "record is not UTF-8".to_owned())?;
        let record = Record::from_json(text).map_err(|e| format!("record is malformed: {e}"))?;
        verify_record(&record, trusted).map_err(|e| format!("record signature: {e}"))?;
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
        Ok(())
    }
}
