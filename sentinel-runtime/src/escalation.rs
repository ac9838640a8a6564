//! Escalations: actions the sidecar held for a human. List them, resolve them, look one up
//! without blocking, or wait (always bounded) for a human's answer.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::Action;
use crate::client::{deadline_after, SentinelClient};
use crate::decision::{CheckResult, Details, GuardDecision, Verdict};
use crate::protocol::{self, path_segment};

/// Where an escalation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EscalationState {
    /// Waiting for a human.
    Pending,
    /// A human approved it.
    Approved,
    /// A human denied it.
    Denied,
}

impl EscalationState {
    fn as_str(self) -> &'static str {
        match self {
            EscalationState::Pending => "pending",
            EscalationState::Approved => "approved",
            EscalationState::Denied => "denied",
        }
    }
}

/// An escalation as the sidecar lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Escalation {
    /// `esc_…`.
    pub id: String,
    /// The record of the decision that escalated.
    pub record_id: String,
    /// The action held (`{id, type, payload, meta?}`).
    pub action: Value,
    /// Who may resolve it.
    pub approvers: Vec<String>,
    /// Why it was escalated.
    #[serde(default)]
    pub reason: Option<String>,
    /// Where it stands.
    pub status: EscalationState,
    /// When it was created (ISO 8601).
    pub created_at: String,
    /// Who resolved it.
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// When it was resolved (ISO 8601).
    #[serde(default)]
    pub resolved_at: Option<String>,
}

/// What [`SentinelClient::resolve_escalation`] got back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
    /// The escalation as the sidecar updated it.
    pub escalation: Escalation,
    /// The signed `human.review` record of the resolution.
    pub record_id: String,
}

/// A human's answer to an escalation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Let the action go ahead.
    Approve,
    /// Refuse it.
    Deny,
}

/// The non-blocking answer of [`SentinelClient::escalation_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EscalationStatus {
    /// No human has answered yet.
    Pending,
    /// Approved; the signed `human.review` record is `record_id`.
    Approved {
        /// The human-review record.
        record_id: String,
    },
    /// Denied.
    Denied {
        /// The human-review record, when it could be found.
        record_id: Option<String>,
    },
}

/// Why an escalation call failed. Resolve's refusals carry the sidecar's message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EscalationError {
    /// 403: the approver is not on the escalation's list.
    NotAnApprover(String),
    /// 404: no escalation with that id.
    NotFound(String),
    /// 409: it was already resolved.
    AlreadyResolved(String),
    /// Anything else: transport failure, another status, a malformed answer.
    Sidecar(String),
}

impl fmt::Display for EscalationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscalationError::NotAnApprover(m) => write!(f, "not an approver of this escalation: {m}"),
            EscalationError::NotFound(m) => write!(f, "escalation not found: {m}"),
            EscalationError::AlreadyResolved(m) => write!(f, "escalation already resolved: {m}"),
            EscalationError::Sidecar(m) => write!(f, "sidecar error: {m}"),
        }
    }
}

impl std::error::Error for EscalationError {}

/// The first poll interval of [`SentinelClient::wait_for_resolution`]; it doubles up to
/// [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The longest pause between two polls.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// How many record pages are searched for a human-review record.
const MAX_RECORD_PAGES: usize = 20;
const RECORD_PAGE: usize = 100;

impl SentinelClient {
    /// Lists escalations, optionally only those in `state`.
    pub fn escalations(&self, state: Option<EscalationState>) -> Result<Vec<Escalation>, EscalationError> {
        self.escalations_until(state, self.deadline())
    }

    fn escalations_until(
        &self,
        state: Option<EscalationState>,
        deadline: Instant,
    ) -> Result<Vec<Escalation>, EscalationError> {
        let url = match state {
            Some(state) => format!(
                "{}{}?status={}",
                self.endpoint(),
                protocol::ESCALATIONS,
                state.as_str()
            ),
            None => format!("{}{}", self.endpoint(), protocol::ESCALATIONS),
        };
        let list = self.get_json(&url, deadline)?;
        serde_json::from_value(list)
            .map_err(|e| EscalationError::Sidecar(format!("malformed escalation list: {e}")))
    }

    /// Approves or denies an escalation as `approver`; returns the id of the signed
    /// `human.review` record. Never resent: a resolve the sidecar may have applied is not
    /// applied twice. [`resolve_escalation`](Self::resolve_escalation) also returns the
    /// escalation as the sidecar updated it.
    pub fn resolve(
        &self,
        escalation_id: &str,
        resolution: Resolution,
        approver: &str,
    ) -> Result<String, EscalationError> {
        self.resolve_escalation(escalation_id, resolution, approver)
            .map(|resolved| resolved.record_id)
    }

    /// [`resolve`](Self::resolve), returning what the sidecar sent back: the escalation, now
    /// approved or denied (`resolvedBy`, `resolvedAt` set), and the id of its signed
    /// `human.review` record.
    pub fn resolve_escalation(
        &self,
        escalation_id: &str,
        resolution: Resolution,
        approver: &str,
    ) -> Result<Resolved, EscalationError> {
        let url = format!("{}{}", self.endpoint(), protocol::resolve_path(escalation_id));
        let decision = match resolution {
            Resolution::Approve => "approve",
            Resolution::Deny => "deny",
        };
        let body = serde_json::to_vec(&serde_json::json!({"decision": decision, "approver": approver}))
            .map_err(|e| EscalationError::Sidecar(e.to_string()))?;
        let response = self
            .exchange("POST", &url, body)
            .map_err(EscalationError::Sidecar)?;
        let message = || {
            self.redact(
                protocol::error_text(&response.body).unwrap_or_else(|| format!("HTTP {}", response.status)),
            )
        };
        match response.status {
            status if protocol::is_success(status) => {}
            403 => return Err(EscalationError::NotAnApprover(message())),
            404 => return Err(EscalationError::NotFound(message())),
            409 => return Err(EscalationError::AlreadyResolved(message())),
            _ => return Err(EscalationError::Sidecar(message())),
        }
        let mut answer = crate::strict_json::parse(&response.body)
            .map_err(|e| EscalationError::Sidecar(format!("malformed resolve answer: {e}")))?;
        let record_id = match answer.get("recordId") {
            Some(Value::String(record_id)) if !record_id.is_empty() => record_id.clone(),
            _ => {
                return Err(EscalationError::Sidecar(
                    "malformed resolve answer: no `recordId`".into(),
                ))
            }
        };
        let escalation: Escalation = answer
            .get_mut("escalation")
            .map(Value::take)
            .ok_or_else(|| "no `escalation`".to_owned())
            .and_then(|e| serde_json::from_value(e).map_err(|e| e.to_string()))
            .map_err(|e| EscalationError::Sidecar(format!("malformed resolve answer: {e}")))?;
        if escalation.id != escalation_id {
            return Err(EscalationError::Sidecar(format!(
                "the resolve answer is about escalation {}, not {escalation_id}",
                escalation.id
            )));
        }
        Ok(Resolved {
            escalation,
            record_id,
        })
    }

    /// Where an escalation stands, without waiting. An agent can return "pending" to its
    /// model, park the job, and call this (or re-run the tool) later.
    pub fn escalation_status(&self, escalation_id: &str) -> Result<EscalationStatus, EscalationError> {
        let (_, status) = self.poll(escalation_id, self.deadline())?;
        match status {
            EscalationStatus::Approved { record_id } if record_id.is_empty() => {
                Err(EscalationError::Sidecar(format!(
                    "no human.review record found for approved {escalation_id}"
                )))
            }
            status => Ok(status),
        }
    }

    /// Polls with backoff until a human approves or denies `escalation_id`, or `timeout`
    /// passes; every request made while waiting ends by then too. Approved: an `ALLOW`
    /// whose record is the human review (verified, with `verify_decisions`). Denied:
    /// `BLOCK`. Still pending at the timeout, an unknown escalation, or an approval that
    /// cannot be confirmed: a fallback `BLOCK`, whatever the fail mode (a pending
    /// escalation is never an `ALLOW`). A sidecar error while polling does not end the
    /// wait early; the last one is named in the reason if the wait runs out.
    pub fn wait_for_resolution(&self, escalation_id: &str, timeout: Duration) -> GuardDecision {
        self.wait(escalation_id, timeout, None, &AtomicBool::new(false))
    }

    /// [`wait_for_resolution`](Self::wait_for_resolution) for the escalation `decision`
    /// opened for `action`: the escalation must name the decision's record and the action's
    /// id (an `ESCALATE` pointing at someone else's approved escalation is refused), and
    /// with `verify_decisions` the approval's record must name that original record.
    /// Stops early, denying, once `cancelled` is set.
    pub(crate) fn wait_on_escalated(
        &self,
        decision: &GuardDecision,
        action: &Action,
        timeout: Duration,
        cancelled: &AtomicBool,
    ) -> GuardDecision {
        let Some(escalation_id) = decision.escalation_id() else {
            return GuardDecision::refused("ESCALATE without an escalation id");
        };
        let binding = Binding {
            record_id: decision.record_id(),
            action_id: action.id(),
        };
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
                        EscalationStatus::Pending => {}
                        EscalationStatus::Approved { record_id } => {
                            return self.approved(id, record_id, binding.as_ref(), deadline)
                        }
                        EscalationStatus::Denied {
                            record_id: Some(record_id),
                        } => return human_decision(Verdict::Block, record_id, id, "denied by a human"),
                        EscalationStatus::Denied { record_id: None } => {
                            return GuardDecision::refused(format!("escalation {id} was denied by a human"))
                        }
                    }
                }
                Err(EscalationError::NotFound(_)) => {
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
            pause = (pause * 2).min(MAX_POLL_INTERVAL);
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
        }
        Ok(())
    }

    /// Finds an escalation (pending first: the short list) and, once resolved, its
    /// human-review record.
    pub(crate) fn poll(
        &self,
        id: &str,
        deadline: Instant,
    ) -> Result<(Escalation, EscalationStatus), EscalationError> {
        for state in [
            EscalationState::Pending,
            EscalationState::Approved,
            EscalationState::Denied,
        ] {
            let Some(escalation) = self
                .escalations_until(Some(state), deadline)?
                .into_iter()
                .find(|e| e.id == id)
            else {
                continue;
            };
            let status = match escalation.status {
                EscalationState::Pending => EscalationStatus::Pending,
                EscalationState::Approved => EscalationStatus::Approved {
                    record_id: self
                        .human_review_record(&escalation, "ALLOW", deadline)?
                        .unwrap_or_default(),
                },
                EscalationState::Denied => EscalationStatus::Denied {
                    record_id: self
                        .human_review_record(&escalation, "BLOCK", deadline)
                        .ok()
                        .flatten(),
                },
            };
            return Ok((escalation, status));
        }
        Err(EscalationError::NotFound(id.to_owned()))
    }

    /// Finds the `human.review` record written when `escalation` was resolved.
    fn human_review_record(
        &self,
        escalation: &Escalation,
        verdict: &str,
        deadline: Instant,
    ) -> Result<Option<String>, EscalationError> {
        for page in 0..MAX_RECORD_PAGES {
            let url = format!(
                "{}{}?limit={RECORD_PAGE}&offset={}&verdict={verdict}&since={}",
                self.endpoint(),
                protocol::RECORDS,
                page * RECORD_PAGE,
                path_segment(&escalation.created_at)
            );
            let records = match self.get_json(&url, deadline)? {
                Value::Array(records) => records,
                Value::Object(mut page) => match page.remove("records") {
                    Some(Value::Array(records)) => records,
                    _ => return Err(EscalationError::Sidecar("malformed record page".into())),
                },
                _ => return Err(EscalationError::Sidecar("malformed record page".into())),
            };
            let found = records.iter().find(|record| {
                record["checks"].as_array().is_some_and(|checks| {
                    checks.iter().any(|c| {
                        c["check"] == "human.review" && c["details"]["escalationId"] == escalation.id
                    })
                })
            });
            if let Some(id) = found.and_then(|r| r["id"].as_str()) {
                return Ok(Some(id.to_owned()));
            }
            if records.len() < RECORD_PAGE {
                break;
            }
        }
        Ok(None)
    }

    /// `GET url`, a 2xx answer read strictly (no duplicate keys).
    fn get_json(&self, url: &str, deadline: Instant) -> Result<Value, EscalationError> {
        let response = self
            .exchange_until("GET", url, Vec::new(), deadline, &mut 0)
            .map_err(EscalationError::Sidecar)?;
        if !protocol::is_success(response.status) {
            let message = self.redact(protocol::error_text(&response.body).unwrap_or_default());
            return Err(EscalationError::Sidecar(format!(
                "HTTP {}: {message}",
                response.status
            )));
        }
        crate::strict_json::parse(&response.body)
            .map_err(|e| EscalationError::Sidecar(format!("malformed answer: {e}")))
    }
}

/// What a waited-on escalation must name to belong to the call that waits.
struct Binding<'a> {
    record_id: &'a str,
    action_id: &'a str,
}

impl Binding<'_> {
    fn matches(&self, escalation: &Escalation) -> bool {
        escalation.record_id == self.record_id
            && escalation.action.get("id").and_then(Value::as_str) == Some(self.action_id)
    }
}

pub(crate) fn human_decision(
    verdict: Verdict,
    record_id: String,
    escalation_id: &str,
    reason: &str,
) -> GuardDecision {
    let check = CheckResult {
        check: "human.review".to_owned(),
        outcome: if verdict == Verdict::Allow {
            crate::decision::Outcome::Pass
        } else {
            crate::decision::Outcome::Fail
        },
        verdict,
        reason: Some(reason.to_owned()),
        details: Details::try_from(Map::from_iter([(
            "escalationId".to_owned(),
            Value::String(escalation_id.to_owned()),
        )]))
        .ok(),
        latency_ms: None,
    };
    GuardDecision::new(verdict, record_id, vec![check])
        .with_reason(format!("{reason} (escalation {escalation_id})"))
        .with_escalation_id(escalation_id)
}
