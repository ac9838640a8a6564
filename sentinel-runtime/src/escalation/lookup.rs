//! Looking escalations up without blocking: the list, one escalation's review status, and
//! the `human.review` record a resolution wrote.

use std::time::Instant;

use serde_json::Value;

use super::{Escalation, EscalationState, ReviewStatus};
use crate::client::SentinelClient;
use crate::protocol;
use crate::sidecar_error::SidecarError;

impl SentinelClient {
    /// Lists escalations, optionally only those in `state`.
    ///
    /// ```no_run
    /// use sentinel_runtime::{EscalationState, SentinelClient};
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// for escalation in client.escalations(Some(EscalationState::Pending))? {
    ///     println!("{} waits for one of {:?}", escalation.id, escalation.approvers);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn escalations(&self, state: Option<EscalationState>) -> Result<Vec<Escalation>, SidecarError> {
        self.escalations_until(state, self.deadline())
    }

    fn escalations_until(
        &self,
        state: Option<EscalationState>,
        deadline: Instant,
    ) -> Result<Vec<Escalation>, SidecarError> {
        let url = format!(
            "{}{}",
            self.endpoint(),
            protocol::escalations_path(state.map(EscalationState::as_str))
        );
        let list = self.get_json(&url, deadline)?;
        serde_json::from_value(list).map_err(|e| SidecarError::Malformed(format!("the escalation list: {e}")))
    }

    /// One escalation by its id (`esc_…`), or `None` if the sidecar holds none with it.
    ///
    /// The sidecar serves no `GET /v1/escalations/{id}` (only the list, filtered by state,
    /// and `POST /v1/escalations/{id}/resolve`), so this reads the lists: pending first (the
    /// short one, where a person looks), then approved, then denied, and stops at the first
    /// match. That is exact: ids are unique (the sidecar mints `esc_<uuid>` and keys its
    /// store by it). It is bounded: at most three requests, under one deadline (the client's
    /// timeout), each answer under the client's body limit (too long a list is an error,
    /// never a partial read taken for "not there").
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// match client.escalation("esc_6f1c")? {
    ///     Some(escalation) => println!("{:?}, held since {}", escalation.status, escalation.created_at),
    ///     None => println!("no such escalation"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn escalation(&self, escalation_id: &str) -> Result<Option<Escalation>, SidecarError> {
        self.find_escalation(escalation_id, self.deadline())
    }

    /// Where an escalation stands, without waiting. An agent can return "pending" to its
    /// model, park the job, and call this (or re-run the tool) later.
    ///
    /// ```no_run
    /// use sentinel_runtime::{ReviewStatus, SentinelClient};
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// if let ReviewStatus::Approved { record_id } = client.escalation_status("esc_6f1c")? {
    ///     println!("approved in {record_id}");
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn escalation_status(&self, escalation_id: &str) -> Result<ReviewStatus, SidecarError> {
        let (_, status) = self.poll(escalation_id, self.deadline())?;
        match status {
            ReviewStatus::Approved { record_id } if record_id.is_empty() => Err(SidecarError::Malformed(
                format!("no human.review record found for approved {escalation_id}"),
            )),
            status => Ok(status),
        }
    }
    /// Finds an escalation (pending first: the short list) and, once resolved, its
    /// human-review record.
    pub(crate) fn poll(
        &self,
        id: &str,
        deadline: Instant,
    ) -> Result<(Escalation, ReviewStatus), SidecarError> {
        let escalation = self
            .find_escalation(id, deadline)?
            .ok_or_else(|| SidecarError::NotFound(id.to_owned()))?;
        let status = match escalation.status {
            EscalationState::Pending => ReviewStatus::Pending,
            EscalationState::Approved => ReviewStatus::Approved {
                record_id: self
                    .human_review_record(&escalation, "ALLOW", deadline)?
                    .unwrap_or_default(),
            },
            EscalationState::Denied => ReviewStatus::Denied {
                record_id: self
                    .human_review_record(&escalation, "BLOCK", deadline)
                    .ok()
                    .flatten(),
            },
        };
        Ok((escalation, status))
    }

    /// Finds an escalation by id, pending first (the short list), as the sidecar lists it.
    pub(crate) fn find_escalation(
        &self,
        id: &str,
        deadline: Instant,
    ) -> Result<Option<Escalation>, SidecarError> {
        for state in [
            EscalationState::Pending,
            EscalationState::Approved,
            EscalationState::Denied,
        ] {
            let found = self
                .escalations_until(Some(state), deadline)?
                .into_iter()
                .find(|e| e.id == id);
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Finds the `human.review` record written when `escalation` was resolved: among the
    /// records of the original decision's run (the sidecar writes the review under the
    /// original record's context), with the review's verdict, written since the
    /// resolution. What identifies it bounds the search, not a page count: the pages of a
    /// busy sidecar's other runs are never read, and the search ends with the records or
    /// with the deadline.
    fn human_review_record(
        &self,
        escalation: &Escalation,
        verdict: &str,
        deadline: Instant,
    ) -> Result<Option<String>, SidecarError> {
        let run_id = self.run_of_record(&escalation.record_id, &escalation.id, deadline)?;
        // The review is written after the resolution; before it is known, after creation.
        let since = escalation
            .resolved_at
            .as_deref()
            .unwrap_or(&escalation.created_at);
        for page in 0.. {
            let url = format!(
                "{}{}",
                self.endpoint(),
                protocol::human_review_page_path(page, verdict, &run_id, since)
            );
            let records = protocol::record_page(self.get_json(&url, deadline)?).ok_or_else(|| {
                SidecarError::Malformed(
                    "a record page is an array, or an object with a `records` array".into(),
                )
            })?;
            let found = records
                .iter()
                .find(|record| protocol::is_human_review_of(record, &escalation.id));
            if let Some(id) = found.and_then(|r| r["id"].as_str()) {
                return Ok(Some(id.to_owned()));
            }
            if records.len() < protocol::RECORD_PAGE {
                break;
            }
        }
        Ok(None)
    }

    /// The `runId` the sidecar writes an escalation's review under: that of its original
    /// record, or `escalation_<id>` when the sidecar no longer has it.
    fn run_of_record(
        &self,
        record_id: &str,
        escalation_id: &str,
        deadline: Instant,
    ) -> Result<String, SidecarError> {
        let url = format!("{}{}", self.endpoint(), protocol::record_path(record_id));
        let response = self
            .exchange_until("GET", &url, Vec::new(), deadline, &mut 0)
            .map_err(SidecarError::Transport)?;
        if response.status == 404 {
            return Ok(format!("escalation_{escalation_id}"));
        }
        if !protocol::is_success(response.status) {
            return Err(SidecarError::Status {
                status: response.status,
                message: format!("the escalation's original record {record_id}"),
            });
        }
        let record = crate::strict_json::parse(&response.body)
            .map_err(|e| SidecarError::Malformed(format!("the escalation's original record: {e}")))?;
        if record.get("id").and_then(Value::as_str) != Some(record_id) {
            return Err(SidecarError::Malformed(format!(
                "asked for the escalation's original record {record_id}, got another"
            )));
        }
        record
            .pointer("/context/runId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| SidecarError::Malformed(format!("the original record {record_id} has no runId")))
    }

    /// `GET url`, a 2xx answer read strictly (no duplicate keys).
    fn get_json(&self, url: &str, deadline: Instant) -> Result<Value, SidecarError> {
        let response = self
            .exchange_until("GET", url, Vec::new(), deadline, &mut 0)
            .map_err(SidecarError::Transport)?;
        if !protocol::is_success(response.status) {
            let message = self.redact(protocol::error_text(&response.body).unwrap_or_default());
            return Err(SidecarError::Status {
                status: response.status,
                message,
            });
        }
        crate::strict_json::parse(&response.body).map_err(|e| SidecarError::Malformed(e.to_string()))
    }
}
