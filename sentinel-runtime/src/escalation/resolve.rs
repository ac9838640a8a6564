//! Resolving an escalation: a human's approval or denial, sent once.

use super::{Escalation, Resolution, Resolved};
use crate::client::SentinelClient;
use crate::protocol::{self, ResolveRefusal};
use crate::sidecar_error::SidecarError;

impl SentinelClient {
    /// Approves or denies an escalation as `approver`; returns the id of the signed
    /// `human.review` record. Never resent: a resolve the sidecar may have applied is not
    /// applied twice. [`resolve_escalation`](Self::resolve_escalation) also returns the
    /// escalation as the sidecar updated it.
    ///
    /// ```no_run
    /// use sentinel_runtime::{Resolution, SentinelClient, SidecarError};
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// match client.resolve("esc_6f1c", Resolution::Approve, "cfo@example.com") {
    ///     Ok(record_id) => println!("approved; signed in {record_id}"),
    ///     Err(SidecarError::AlreadyResolved(why)) => println!("too late: {why}"),
    ///     Err(other) => return Err(other.into()),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(
        &self,
        escalation_id: &str,
        resolution: Resolution,
        approver: &str,
    ) -> Result<String, SidecarError> {
        self.resolve_escalation(escalation_id, resolution, approver)
            .map(|resolved| resolved.record_id)
    }

    /// [`resolve`](Self::resolve), returning what the sidecar sent back: the escalation, now
    /// approved or denied (`resolvedBy`, `resolvedAt` set), and the id of its signed
    /// `human.review` record.
    ///
    /// ```no_run
    /// use sentinel_runtime::{Resolution, SentinelClient};
    ///
    /// let client = SentinelClient::builder("http://localhost:4000").build()?;
    /// let resolved = client.resolve_escalation("esc_6f1c", Resolution::Deny, "cfo@example.com")?;
    /// println!("{} resolved at {:?}", resolved.escalation().id(), resolved.escalation().resolved_at());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve_escalation(
        &self,
        escalation_id: &str,
        resolution: Resolution,
        approver: &str,
    ) -> Result<Resolved, SidecarError> {
        let url = format!("{}{}", self.endpoint(), protocol::resolve_path(escalation_id));
        let body = serde_json::to_vec(&protocol::ResolveRequest {
            decision: match resolution {
                Resolution::Approve => "approve",
                Resolution::Deny => "deny",
            },
            approver,
        })
        // Infallible for two strings; an empty body would be refused by the sidecar.
        .unwrap_or_default();
        let response = self
            .exchange("POST", &url, body)
            .map_err(SidecarError::Transport)?;
        if let Some(refusal) = protocol::resolve_refusal(response.status) {
            let error_text = self.redact(protocol::error_text(&response.body).unwrap_or_default());
            let message = || match error_text.is_empty() {
                true => format!("HTTP {}", response.status),
                false => error_text.clone(),
            };
            return Err(match refusal {
                ResolveRefusal::NotAnApprover => SidecarError::NotAnApprover(message()),
                ResolveRefusal::NotFound => SidecarError::NotFound(message()),
                ResolveRefusal::AlreadyResolved => SidecarError::AlreadyResolved(message()),
                ResolveRefusal::Other => SidecarError::Status {
                    status: response.status,
                    message: error_text,
                },
            });
        }
        let answer = crate::strict_json::parse(&response.body)
            .map_err(|e| SidecarError::Malformed(format!("the resolve answer: {e}")))?;
        let (escalation, record_id): (Escalation, String) = protocol::resolve_answer(answer)
            .and_then(|(e, record_id)| {
                serde_json::from_value(e)
                    .map(|e| (e, record_id))
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| SidecarError::Malformed(format!("the resolve answer: {e}")))?;
        if escalation.id != escalation_id {
            return Err(SidecarError::Malformed(format!(
                "the resolve answer is about escalation {}, not {escalation_id}",
                escalation.id
            )));
        }
        Ok(Resolved {
            escalation,
            record_id,
        })
    }
}
