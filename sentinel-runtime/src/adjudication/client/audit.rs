//! The complete-mediation audit, read back from the sidecar.

use serde::Deserialize;

use super::super::ReceiptError;
use super::{malformed, ReceiptClient};

/// The sidecar's complete-mediation audit (`GET /v1/audit/verify`).
///
/// ```no_run
/// # fn run(receipts: &sentinel_runtime::adjudication::ReceiptClient) -> Result<(), sentinel_runtime::adjudication::ReceiptError> {
/// let report = receipts.audit()?;
/// println!("valid {}, {} executions, coverage {}", report.valid, report.executions_checked, report.coverage);
/// for violation in &report.violations {
///     println!("{} (execution {:?}, authorization {:?}): {}", violation.kind,
///         violation.execution_id, violation.authorization_receipt_id, violation.detail);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditReport {
    /// No violation found.
    pub valid: bool,
    /// Executions audited (refusals are not executions).
    pub executions_checked: u64,
    /// Every violation found.
    pub violations: Vec<AuditViolation>,
    /// Fraction of executions with exactly one valid, matching authorization.
    pub coverage: f64,
}

/// One violation of complete mediation (see [`AuditReport`]'s example).
///
/// ```
/// use sentinel_runtime::adjudication::AuditReport;
///
/// fn replays(report: &AuditReport) -> usize {
///     report.violations.iter().filter(|v| v.kind == "REPLAYED_AUTHORIZATION").count()
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditViolation {
    /// `ACTION_SUBSTITUTION`, `REPLAYED_AUTHORIZATION`, `EXECUTION_WITHOUT_AUTHORIZATION`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The execution concerned.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The authorization concerned.
    #[serde(default)]
    pub authorization_receipt_id: Option<String>,
    /// What is wrong.
    pub detail: String,
}

/// The audit's headline (`GET /v1/audit/coverage`).
///
/// ```no_run
/// # fn run(receipts: &sentinel_runtime::adjudication::ReceiptClient) -> Result<(), sentinel_runtime::adjudication::ReceiptError> {
/// let headline = receipts.coverage()?;
/// assert!(headline.valid && headline.coverage == 1.0, "{} executions, not all mediated", headline.executions_checked);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Coverage {
    /// No violation found.
    pub valid: bool,
    /// Executions audited.
    pub executions_checked: u64,
    /// Fraction of executions with exactly one valid, matching authorization.
    pub coverage: f64,
}
impl ReceiptClient {
    /// `GET /v1/audit/verify`: the complete-mediation audit over every receipt the sidecar
    /// holds.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] without a well-formed report.
    ///
    /// ```no_run
    /// # fn run(receipts: &sentinel_runtime::adjudication::ReceiptClient) -> Result<(), sentinel_runtime::adjudication::ReceiptError> {
    /// let report = receipts.audit()?;
    /// assert!(report.valid, "{} violations", report.violations.len());
    /// # Ok(()) }
    /// ```
    pub fn audit(&self) -> Result<AuditReport, ReceiptError> {
        let answer = self.get("/v1/audit/verify")?;
        serde_json::from_value(answer).map_err(|e| malformed("audit", e))
    }

    /// `GET /v1/audit/coverage`: the audit's headline.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] without a well-formed answer.
    ///
    /// ```no_run
    /// # fn run(receipts: &sentinel_runtime::adjudication::ReceiptClient) -> Result<(), sentinel_runtime::adjudication::ReceiptError> {
    /// println!("coverage {}", receipts.coverage()?.coverage);
    /// # Ok(()) }
    /// ```
    pub fn coverage(&self) -> Result<Coverage, ReceiptError> {
        let answer = self.get("/v1/audit/coverage")?;
        serde_json::from_value(answer).map_err(|e| malformed("coverage", e))
    }
}
