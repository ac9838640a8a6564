//! Escalations: actions the sidecar held for a human. List them, resolve them, look one up
//! without blocking, or wait (always bounded) for a human's answer.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::SentinelClient;
use crate::decision::{CheckResult, GuardDecision, Verdict};

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
        let url = match state {
            Some(state) => format!("{}/v1/escalations?status={}", self.endpoint(), state.as_str()),
            None => format!("{}/v1/escalations", self.endpoint()),
        };
        let body = self.get_ok(&url)?;
        serde_json::from_slice(&body)
            .map_err(|e| EscalationError::Sidecar(format!("malformed escalation list: {e}")))
    }

    /// Approves or denies an escalation as `approver`; returns the id of the signed
    /// `human.review` record.
    pub fn resolve(
        &self,
        escalation_id: &str,
        resolution: Resolution,
        approver: &str,
    ) -> Result<String, EscalationError> {
        let url = format!(
            "{}/v1/escalations/{}/resolve",
            self.endpoint(),
            path_segment(escalation_id)
        );
        let decision = match resolution {
            Resolution::Approve => "approve",
            Resolution::Deny => "deny",
        };
        let body = serde_json::to_vec(&serde_json::json!({"decision": decision, "approver": approver}))
            .map_err(|e| EscalationError::Sidecar(e.to_string()))?;
        let response = self
            .exchange("POST", &url, body)
            .map_err(EscalationError::Sidecar)?;
        let message = || error_message(&response.body).unwrap_or_else(|| format!("HTTP {}", response.status));
        match response.status {
            200..=299 => {}
            403 => return Err(EscalationError::NotAnApprover(message())),
            404 => return Err(EscalationError::NotFound(message())),
            409 => return Err(EscalationError::AlreadyResolved(message())),
            _ => return Err(EscalationError::Sidecar(message())),
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Resolved {
            record_id: String,
        }
        let resolved: Resolved = serde_json::from_slice(&response.body)
            .map_err(|e| EscalationError::Sidecar(format!("malformed resolve answer: {e}")))?;
        Ok(resolved.record_id)
    }

    /// Where an escalation stands, without waiting. An agent can return "pending" to its
    /// model, park the job, and call this (or re-run the tool) later.
    pub fn escalation_status(&self, escalation_id: &str) -> Result<EscalationStatus, EscalationError> {
        let escalation = self
            .escalations(None)?
            .into_iter()
            .find(|e| e.id == escalation_id)
            .ok_or_else(|| EscalationError::NotFound(escalation_id.to_owned()))?;
        match escalation.status {
            EscalationState::Pending => Ok(EscalationStatus::Pending),
            EscalationState::Approved => {
                let record_id = self.human_review_record(&escalation)?.ok_or_else(|| {
                    EscalationError::Sidecar(format!(
                        "no human.review record found for approved {escalation_id}"
                    ))
                })?;
                Ok(EscalationStatus::Approved { record_id })
            }
            EscalationState::Denied => Ok(EscalationStatus::Denied {
                record_id: self.human_review_record(&escalation).ok().flatten(),
            }),
        }
    }

    /// Polls with backoff until a human approves or denies `escalation_id`, or `timeout`
    /// passes. Approved: an `ALLOW` whose record is the human review. Denied: `BLOCK`.
    /// Still pending at the timeout, or any failure: the fail-safe decision (a pending
    /// escalation is never an `ALLOW`).
    pub fn wait_for_resolution(&self, escalation_id: &str, timeout: Duration) -> GuardDecision {
        let deadline = Instant::now() + timeout;
        let mut pause = FIRST_POLL_INTERVAL;
        loop {
            match self.escalation_status(escalation_id) {
                Ok(EscalationStatus::Approved { record_id }) => {
                    return human_decision(Verdict::Allow, record_id, escalation_id, "approved by a human");
                }
                Ok(EscalationStatus::Denied { record_id }) => {
                    return human_decision(
                        Verdict::Block,
                        record_id.unwrap_or_default(),
                        escalation_id,
                        "denied by a human",
                    );
                }
                Ok(EscalationStatus::Pending) => {}
                Err(e) => return self.fail_safe_closed(format!("escalation {escalation_id}: {e}")),
            }
            let now = Instant::now();
            if now >= deadline {
                return self.fail_safe_closed(format!(
                    "escalation {escalation_id} still pending after {timeout:?}"
                ));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(MAX_POLL_INTERVAL);
        }
    }

    /// A waited-on escalation that did not resolve is never allowed, whatever the fail
    /// mode: failing open here would turn "a human has not said yes" into yes.
    fn fail_safe_closed(&self, why: String) -> GuardDecision {
        GuardDecision::refused(why)
    }

    /// Finds the `human.review` record written when `escalation` was resolved.
    fn human_review_record(&self, escalation: &Escalation) -> Result<Option<String>, EscalationError> {
        for page in 0..MAX_RECORD_PAGES {
            let url = format!(
                "{}/v1/records?limit={RECORD_PAGE}&offset={}&since={}",
                self.endpoint(),
                page * RECORD_PAGE,
                path_segment(&escalation.created_at)
            );
            let body = self.get_ok(&url)?;
            let records: Vec<Value> = match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(records)) => records,
                Ok(Value::Object(mut page)) => match page.remove("records") {
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

    fn get_ok(&self, url: &str) -> Result<Vec<u8>, EscalationError> {
        let response = self
            .exchange("GET", url, Vec::new())
            .map_err(EscalationError::Sidecar)?;
        if !(200..300).contains(&response.status) {
            let message = error_message(&response.body).unwrap_or_default();
            return Err(EscalationError::Sidecar(format!(
                "HTTP {}: {message}",
                response.status
            )));
        }
        Ok(response.body)
    }
}

fn human_decision(verdict: Verdict, record_id: String, escalation_id: &str, reason: &str) -> GuardDecision {
    let check = CheckResult {
        check: "human.review".to_owned(),
        outcome: if verdict == Verdict::Allow {
            crate::decision::Outcome::Pass
        } else {
            crate::decision::Outcome::Fail
        },
        verdict,
        reason: Some(reason.to_owned()),
        details: Some(
            [("escalationId".to_owned(), Value::String(escalation_id.to_owned()))]
                .into_iter()
                .collect(),
        ),
        latency_ms: None,
    };
    GuardDecision::new(verdict, record_id, vec![check])
        .with_reason(format!("{reason} (escalation {escalation_id})"))
        .with_escalation_id(escalation_id)
}

fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("error")?
        .as_str()
        .map(str::to_owned)
}

/// Percent-encodes everything but unreserved characters, for ids and timestamps in URLs.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
