//! Verified decisions (feature `verify`): an `ALLOW` is honoured only after its signed
//! record checks out against a pinned key and matches the call that asked.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::action::Action;
use crate::client::SentinelClient;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::escalation::path_segment;
use crate::provenance::{action_fingerprint, verify_record, Record, TrustedKeys};

/// How many honoured record ids a client remembers to refuse their replay.
const REMEMBERED_RECORDS: usize = 4096;

/// Record ids that already let an action through, so a replay of one is refused.
#[derive(Default)]
pub(crate) struct SeenRecords {
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl SeenRecords {
    /// Remembers `record_id`; `false` when it was already used.
    fn first_use(&self, record_id: &str) -> bool {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(record_id.to_owned()) {
            return false;
        }
        order.push_back(record_id.to_owned());
        if order.len() > REMEMBERED_RECORDS {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        true
    }
}

impl SentinelClient {
    /// Checks an `ALLOW` from the sidecar against its record `GET /v1/records/{recordId}`,
    /// within the guard's own `deadline`: the record verifies with a trusted key, is the
    /// record the decision named, says `ALLOW`, is about exactly `action` (its fingerprint),
    /// this run (`context.runId`) and this tenant, and has not let another call through
    /// before (a replay).
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
        deadline: Instant,
    ) -> GuardDecision {
        match self.check_record(&decision, trusted, action, context, deadline) {
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
        deadline: Instant,
    ) -> Result<(), String> {
        let record = self.fetch_record(decision.record_id(), deadline)?;
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
        // The sidecar records no tenant for an empty one (`tenant: ""` is dropped).
        let tenant = context.tenant_ref().filter(|tenant| !tenant.is_empty());
        if record.tenant.as_deref() != tenant {
            return Err("the signed record is about another tenant".into());
        }
        if !self.seen_records().first_use(&record.id) {
            return Err(format!(
                "record {} already let an earlier call through (a replay)",
                record.id
            ));
        }
        Ok(())
    }

    /// `GET /v1/records/{id}`, read strictly.
    pub(crate) fn fetch_record(&self, record_id: &str, deadline: Instant) -> Result<Record, String> {
        let url = format!("{}/v1/records/{}", self.endpoint(), path_segment(record_id));
        let response = self.exchange_until("GET", &url, Vec::new(), deadline, &mut 0)?;
        if !(200..300).contains(&response.status) {
            return Err(format!(
                "record {record_id} could not be fetched (HTTP {})",
                response.status
            ));
        }
        let text = std::str::from_utf8(&response.body).map_err(|_| "record is not UTF-8".to_owned())?;
        Record::from_json(text).map_err(|e| format!("record is malformed: {e}"))
    }
}
