//! A verified `ALLOW` (feature `verify`): the client fetches the decision's signed record
//! and honours the `ALLOW` only when [`crate::verified`] finds it matches the call and it
//! was not used before.

use std::time::Instant;

use super::SentinelClient;
use crate::action::Action;
use crate::context::Context;
use crate::decision::GuardDecision;
use crate::protocol;
use crate::provenance::{Record, TrustedKeys};

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
    pub(super) fn verified(
        &self,
        decision: GuardDecision,
        trusted: &TrustedKeys,
        action: &Action,
        context: &Context,
        deadline: Instant,
    ) -> GuardDecision {
        let checked = self
            .fetch_record(decision.record_id(), deadline)
            .and_then(|record| {
                crate::verified::check_allow_record(&record, &decision, trusted, action, context)?;
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
        let response = self.exchange_until("GET", &url, Vec::new(), deadline, &mut 0)?;
        if !protocol::is_success(response.status) {
            return Err(format!(
                "record {record_id} could not be fetched (HTTP {})",
                response.status
            ));
        }
        let text = std::str::from_utf8(&response.body).map_err(|_| "record is not UTF-8".to_owned())?;
        Record::from_json(text).map_err(|e| format!("record is malformed: {e}"))
    }
}
