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
///         escalation.id,
///         escalation.status,
///         escalation.reason.as_deref().unwrap_or("no reason given"),
///         escalation.created_at,
///         escalation.approvers.join(", "),
///     );
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```no_run
/// use sentinel_runtime::{Resolution, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let resolved = client.resolve_escalation("esc_6f1c", Resolution::Approve, "cfo@example.com")?;
/// println!("{:?} by {:?}, signed record {}", resolved.escalation.status,
///     resolved.escalation.resolved_by, resolved.record_id);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
    /// The escalation as the sidecar updated it.
    pub escalation: Escalation,
    /// The signed `human.review` record of the resolution.
    pub record_id: String,
}

/// A human's answer to an escalation, given with [`SentinelClient::resolve`].
///
/// ```no_run
/// use sentinel_runtime::{Resolution, SentinelClient};
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let review_record = client.resolve("esc_6f1c", Resolution::Deny, "cfo@example.com")?;
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
