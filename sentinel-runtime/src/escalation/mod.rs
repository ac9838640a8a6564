//! Escalations: actions the sidecar held for a human. List them, resolve them, look one up
//! without blocking, or wait (always bounded) for a human's answer.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(doc)]
use crate::client::SentinelClient;

// Each file adds one concern's methods to `SentinelClient`.
mod lookup;
mod resolve;
#[cfg(feature = "verify")]
mod resume;
mod wait;

/// Where an escalation stands, as the sidecar lists it (and as a filter of
/// [`SentinelClient::escalations`]). [`ReviewStatus`] adds the human-review record.
///
/// ```no_run
/// use sentinel_runtime::{EscalationState, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let waiting = client.escalations(Some(EscalationState::Pending))?;
/// println!("{} actions wait for a human", waiting.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

/// An escalation as the sidecar lists it ([`SentinelClient::escalations`]).
///
/// ```no_run
/// use sentinel_runtime::SentinelClient;
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// for escalation in client.escalations(None)? {
///     println!(
///         "{} ({:?}): {} since {}, for {}",
///         escalation.id(),
///         escalation.status(),
///         escalation.reason().unwrap_or("no reason given"),
///         escalation.created_at(),
///         escalation.approvers().join(", "),
///     );
///     println!("  held: {} (decision record {})", escalation.action()["payload"], escalation.record_id());
///     if let (Some(by), Some(at)) = (escalation.resolved_by(), escalation.resolved_at()) {
///         println!("  resolved by {by} at {at}");
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Escalation {
    id: String,
    record_id: String,
    action: Value,
    approvers: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
    status: EscalationState,
    created_at: String,
    #[serde(default)]
    resolved_by: Option<String>,
    #[serde(default)]
    resolved_at: Option<String>,
}

impl Escalation {
    /// `esc_…`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The record of the decision that escalated.
    #[must_use]
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The action held (`{id, type, payload, meta?}`).
    #[must_use]
    pub fn action(&self) -> &Value {
        &self.action
    }

    /// Who may resolve it.
    #[must_use]
    pub fn approvers(&self) -> &[String] {
        &self.approvers
    }

    /// Why it was escalated, if the sidecar said.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// Where it stands.
    #[must_use]
    pub fn status(&self) -> EscalationState {
        self.status
    }

    /// When it was created (ISO 8601).
    #[must_use]
    pub fn created_at(&self) -> &str {
        &self.created_at
    }

    /// Who resolved it, once resolved.
    #[must_use]
    pub fn resolved_by(&self) -> Option<&str> {
        self.resolved_by.as_deref()
    }

    /// When it was resolved (ISO 8601), once resolved.
    #[must_use]
    pub fn resolved_at(&self) -> Option<&str> {
        self.resolved_at.as_deref()
    }
}

/// What [`SentinelClient::resolve_escalation`] got back.
///
/// ```no_run
/// use sentinel_runtime::{Resolution, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let resolved = client.resolve_escalation("esc_6f1c", Resolution::Approve, "cfo@example.com")?;
/// println!("{:?} by {:?}, signed record {}", resolved.escalation().status(),
///     resolved.escalation().resolved_by(), resolved.record_id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
    escalation: Escalation,
    record_id: String,
}

impl Resolved {
    /// The escalation as the sidecar updated it.
    #[must_use]
    pub fn escalation(&self) -> &Escalation {
        &self.escalation
    }

    /// The signed `human.review` record of the resolution.
    #[must_use]
    pub fn record_id(&self) -> &str {
        &self.record_id
    }
}

/// A human's answer to an escalation, given with [`SentinelClient::resolve`].
///
/// ```no_run
/// use sentinel_runtime::{Resolution, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let review_record = client.resolve("esc_6f1c", Resolution::Deny, "cfo@example.com")?;
/// println!("denied; the signed human review is {review_record}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Let the action go ahead.
    Approve,
    /// Refuse it.
    Deny,
}

/// Where a human's review of an escalation stands: pending, or resolved with its signed
/// `human.review` record. The non-blocking answer of [`SentinelClient::escalation_status`].
///
/// ```no_run
/// use sentinel_runtime::{ReviewStatus, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// match client.escalation_status("esc_6f1c")? {
///     ReviewStatus::Pending => println!("still waiting for a human"),
///     ReviewStatus::Approved { record_id } => println!("approved ({record_id}): resume the action"),
///     ReviewStatus::Denied { .. } => println!("denied"),
///     _ => println!("a state this version does not know"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

/// The first poll interval of [`SentinelClient::wait_for_resolution`]; it doubles up to
/// [`SentinelClient::MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(100);
