//! Looking escalations up without blocking: the list, one escalation's review status, and
//! the `human.review` record a resolution wrote.

use std::time::Instant;

use serde_json::Value;

use super::{Escalation, EscalationState, ReviewStatus};
use crate::action::Action;
use crate::canonical::canonical_json;
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
    ///     println!("{} waits for one of {:?}", escalation.id(), escalation.approvers());
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
    ///     Some(escalation) => println!("{:?}, held since {}", escalation.status(), escalation.created_at()),
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
    /// Whether a guard of `action` under [`Context::resuming`]`(escalation_id)` resumes on
    /// that escalation: only when the escalation holds this very action (same type, and the
    /// same payload in the canonical form the sidecar's fingerprint is taken over, so no
    /// hash and no `verify` feature is needed to tell). Another action guarded in the same
    /// scope gets a guard of its own. When the escalation cannot be looked at (unknown, no
    /// answer), the guard resumes, and the resume refuses it with the reason.
    ///
    /// The escalation list is not signed, and need not be: a wrong answer here only
    /// chooses between asking the sidecar and the resume's own checks of the signed
    /// approval, never for an `ALLOW` without either.
    ///
    /// [`Context::resuming`]: crate::context::Context::resuming
    pub(crate) fn resumes_with(&self, escalation_id: &str, action: &Action, deadline: Instant) -> bool {
        let held = match self.find_escalation(escalation_id, deadline) {
            Ok(Some(escalation)) => escalation.action,
            Ok(None) | Err(_) => return true,
        };
        match held.get("type").and_then(Value::as_str) {
            Some(kind) => {
                let payload = held.get("payload").unwrap_or(&Value::Null);
                kind == action.kind() && canonical_json(payload) == canonical_json(action.payload())
            }
            None => true,
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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use serde_json::json;

    use crate::action::Action;
    use crate::client::SentinelClient;
    use crate::context::Context;

    /// A loopback sidecar holding the pending escalation `esc_1` of a payment of 5 (its
    /// payload's members in another order, its amount written as the sidecar writes a
    /// double), answering `ALLOW` to every guard; counts the guards. It stops after 20
    /// connections or 10 seconds.
    fn sidecar_holding_a_payment() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let guards = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&guards);
        std::thread::spawn(move || {
            let stop = Instant::now() + Duration::from_secs(10);
            let mut served = 0;
            while served < 20 && Instant::now() < stop {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                served += 1;
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut reader = BufReader::new(&stream);
                let (mut request, mut line, mut length) = (String::new(), String::new(), 0);
                let _ = reader.read_line(&mut request);
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(("content-length", value)) =
                        line.split_once(':').map(|(k, v)| (k.trim(), v.trim()))
                    {
                        length = value.parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let body = if request.starts_with("GET /v1/escalations?status=pending ") {
                    json!([{
                        "id": "esc_1",
                        "recordId": "rec_0",
                        "action": {"id": "a1", "type": "payment", "payload": {"to": "vendor_42", "amount": 5.0}},
                        "approvers": ["ops"],
                        "status": "pending",
                        "createdAt": "2026-12-05T10:00:00.000Z"
                    }])
                } else if request.starts_with("GET /v1/escalations") {
                    json!([])
                } else if request.starts_with("POST /v1/guard ") {
                    counted.fetch_add(1, Ordering::SeqCst);
                    json!({"verdict": "ALLOW", "recordId": "rec_new", "checks": []})
                } else {
                    json!({"error": "not found"})
                };
                let status = if body.get("error").is_some() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let body = body.to_string();
                let _ = write!(
                    &stream,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, guards)
    }

    /// Resuming applies to the action the escalation holds, compared by its canonical
    /// form (no hash: this holds without the `verify` feature, as CI runs `--lib`). Another
    /// action in a resuming scope is asked about as usual; the held one is never sent as a
    /// new guard.
    #[test]
    fn under_a_resuming_context_only_the_held_action_resumes_and_others_are_asked() {
        let (url, guards) = sidecar_holding_a_payment();
        let client = SentinelClient::builder(url).build().unwrap();
        let context = Context::new("run-1").resuming("esc_1");

        let other = Action::of("payment", json!({"amount": 6, "to": "vendor_42"}));
        let asked = client.guard(&other, &context, "fintech.payments");
        assert!(asked.allowed(), "{:?}", asked.reason());
        assert_eq!(asked.record_id(), Some("rec_new"));
        assert_eq!(guards.load(Ordering::SeqCst), 1);

        let another_type = Action::of("refund", json!({"amount": 5, "to": "vendor_42"}));
        assert!(client
            .guard(&another_type, &context, "fintech.payments")
            .allowed());
        assert_eq!(guards.load(Ordering::SeqCst), 2);

        // The held action (`5` and `5.0` are one number to the sidecar): it resumes, and
        // this escalation is still pending, so the resume is a refusal saying why.
        let held = Action::of("payment", json!({"amount": 5, "to": "vendor_42"}));
        let resumed = client.guard(&held, &context, "fintech.payments");
        assert!(!resumed.allowed());
        let reason = resumed.reason().unwrap_or_default();
        #[cfg(feature = "verify")]
        assert!(
            reason.contains("cannot resume on escalation esc_1: still pending"),
            "{reason}"
        );
        #[cfg(not(feature = "verify"))]
        assert!(reason.contains("needs the `verify` feature"), "{reason}");
        assert_eq!(
            guards.load(Ordering::SeqCst),
            2,
            "the held action was sent as a new guard"
        );
    }
}
