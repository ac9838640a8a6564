//! Escalations: actions the sidecar held for a human. List them, resolve them, look one up
//! without blocking, or wait (always bounded) for a human's answer.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::SentinelClient;
use crate::protocol::{self, path_segment};
use crate::transport::TransportError;

mod wait;

#[cfg(feature = "verify")]
pub(crate) use wait::human_decision;

/// Where an escalation stands, as the sidecar lists it (and as a filter of
/// [`SentinelClient::escalations`]). [`ReviewStatus`] adds the human-review record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
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

/// Where a human's review of an escalation stands: pending, or resolved with its signed
/// `human.review` record. The non-blocking answer of [`SentinelClient::escalation_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReviewStatus {
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
#[derive(Debug)]
#[non_exhaustive]
pub enum EscalationError {
    /// 403: the approver is not on the escalation's list.
    NotAnApprover(String),
    /// 404: no escalation with that id.
    NotFound(String),
    /// 409: it was already resolved.
    AlreadyResolved(String),
    /// The sidecar could not be reached, or did not answer in time.
    Transport(TransportError),
    /// Anything else: another status, a malformed answer.
    Sidecar(String),
}

impl fmt::Display for EscalationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscalationError::NotAnApprover(m) => write!(f, "not an approver of this escalation: {m}"),
            EscalationError::NotFound(m) => write!(f, "escalation not found: {m}"),
            EscalationError::AlreadyResolved(m) => write!(f, "escalation already resolved: {m}"),
            EscalationError::Transport(e) => write!(f, "the sidecar could not be asked: {e}"),
            EscalationError::Sidecar(m) => write!(f, "sidecar error: {m}"),
        }
    }
}

impl std::error::Error for EscalationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EscalationError::Transport(e) => Some(e),
            _ => None,
        }
    }
}

/// The first poll interval of [`SentinelClient::wait_for_resolution`]; it doubles up to
/// [`SentinelClient::MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How many record pages are searched for a human-review record.
const MAX_RECORD_PAGES: usize = 20;
const RECORD_PAGE: usize = 100;

impl SentinelClient {
    /// The longest pause between two polls of a wait for a human's answer.
    pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(5);

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
            .map_err(EscalationError::Transport)?;
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
    pub fn escalation_status(&self, escalation_id: &str) -> Result<ReviewStatus, EscalationError> {
        let (_, status) = self.poll(escalation_id, self.deadline())?;
        match status {
            ReviewStatus::Approved { record_id } if record_id.is_empty() => Err(EscalationError::Sidecar(
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
    ) -> Result<(Escalation, ReviewStatus), EscalationError> {
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
            .map_err(EscalationError::Transport)?;
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
