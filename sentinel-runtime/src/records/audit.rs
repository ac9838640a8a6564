//! [`SentinelClient::protocol_audit`]: the sidecar's own audit of its adjudication-protocol
//! receipts (`GET /v1/audit/verify`, served with `--protocol`).

use serde::Deserialize;

use crate::client::SentinelClient;
use crate::sidecar_error::SidecarError;

/// The sidecar's audit of complete mediation: every execution receipt it holds checked
/// against the authorization receipts (signatures, validity window, action, replays).
///
/// It is the sidecar's report about its own store, not an independent check: it says what
/// the sidecar found, for an auditor to read beside an independent verification of the
/// chain.
///
/// ```no_run
/// use sentinel_runtime::SentinelClient;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// let audit = client.protocol_audit()?;
/// println!("valid {}, {} executions, coverage {}", audit.valid, audit.executions_checked, audit.coverage);
/// for violation in &audit.violations {
///     let unauthorized = violation.is_execution_without_authorization();
///     println!("{} (execution {:?}, receipt {:?}, unauthorized: {unauthorized}): {}", violation.kind,
///         violation.execution_id, violation.authorization_receipt_id, violation.detail);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ProtocolAudit {
    /// No violation found.
    pub valid: bool,
    /// How many execution receipts were checked.
    pub executions_checked: u64,
    /// The fraction of executions with exactly one valid, matching authorization (1 = every
    /// execution was mediated).
    pub coverage: f64,
    /// What was found, execution by execution.
    #[serde(default)]
    pub violations: Vec<AuditViolation>,
}

/// One finding of [`ProtocolAudit`] (see the example there).
///
/// ```
/// use sentinel_runtime::records::ProtocolAudit;
///
/// fn unmediated(audit: &ProtocolAudit) -> usize {
///     audit.violations.iter().filter(|v| v.is_execution_without_authorization()).count()
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditViolation {
    /// The kind, as the sidecar names it: `EXECUTION_WITHOUT_AUTHORIZATION`,
    /// `ACTION_SUBSTITUTION`, `REPLAYED_AUTHORIZATION`, `EXPIRED_AUTHORIZATION`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The execution receipt concerned, if any.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The authorization receipt concerned, if any.
    #[serde(default)]
    pub authorization_receipt_id: Option<String>,
    /// What the sidecar says about it.
    pub detail: String,
}

impl AuditViolation {
    /// Whether this is an execution that no authorization receipt covers.
    #[must_use]
    pub fn is_execution_without_authorization(&self) -> bool {
        self.kind == "EXECUTION_WITHOUT_AUTHORIZATION"
    }
}

impl SentinelClient {
    /// The sidecar's audit of its adjudication-protocol receipts (`GET /v1/audit/verify`):
    /// whether every execution was authorized, the coverage, and each violation. A sidecar
    /// started without the protocol answers 404 ([`SidecarError::NotFound`]).
    ///
    /// ```no_run
    /// let client = sentinel_runtime::SentinelClient::builder("http://localhost:4000").build()?;
    /// let audit = client.protocol_audit()?;
    /// assert!(audit.valid && audit.coverage == 1.0, "an execution was not mediated: {:?}", audit.violations);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protocol_audit(&self) -> Result<ProtocolAudit, SidecarError> {
        let answer = self.read_json(&format!("{}/v1/audit/verify", self.endpoint()))?;
        serde_json::from_value(answer).map_err(|e| SidecarError::Malformed(format!("the audit report: {e}")))
    }
}
