//! The outbox: execution receipts whose report failed, kept (bounded) for a retry.

use std::collections::VecDeque;

use serde_json::{json, Value};

use super::super::receipt::ExecutionReceipt;
use super::super::ReceiptError;
use super::{malformed, ReceiptClient};

/// How many unreported execution receipts a [`ReceiptClient`] keeps for
/// [`retry_reports`](ReceiptClient::retry_reports); past it the oldest is dropped, with an
/// error logged.
pub const OUTBOX_CAPACITY: usize = 1024;

impl ReceiptClient {
    /// `POST /v1/executions`: hands a signed execution receipt to the sidecar's audit log.
    ///
    /// # Errors
    ///
    /// [`ReceiptError::Sidecar`] if it was not stored (the sidecar refuses a receipt whose
    /// executor key it does not trust).
    ///
    /// ```no_run
    /// # fn run(receipts: &sentinel_runtime::adjudication::ReceiptClient) {
    /// // After an outage of the sidecar: the receipts of executions it did not store.
    /// for execution in receipts.pending_reports() {
    ///     if let Err(e) = receipts.report(&execution) {
    ///         eprintln!("{} still not reported: {e}", execution.execution_id());
    ///     }
    /// }
    /// // Or all at once, in order:
    /// let still_pending = receipts.retry_reports();
    /// # }
    /// ```
    pub fn report(&self, execution: &ExecutionReceipt) -> Result<(), ReceiptError> {
        let answer = self.post("/v1/executions", &json!(execution), self.inner.client.deadline())?;
        match answer.get("stored") {
            Some(Value::Bool(true)) => Ok(()),
            _ => Err(malformed("execution report", "not stored")),
        }
    }

    /// Reports `execution`; if that fails, logs an error and keeps it for
    /// [`retry_reports`](Self::retry_reports).
    pub(crate) fn report_or_keep(&self, execution: ExecutionReceipt) {
        if let Err(err) = self.report(&execution) {
            log::error!(
                target: "sentinel",
                "execution receipt {} (authorization {}) not reported: {err}; kept for retry_reports()",
                execution.execution_id,
                execution.authorization_receipt_id
            );
            let mut outbox = self.outbox();
            if outbox.len() >= OUTBOX_CAPACITY {
                if let Some(dropped) = outbox.pop_front() {
                    log::error!(
                        target: "sentinel",
                        "outbox full: execution receipt {} dropped unreported",
                        dropped.execution_id
                    );
                }
            }
            outbox.push_back(execution);
        }
    }

    /// The execution receipts whose report failed, oldest first.
    #[must_use]
    pub fn pending_reports(&self) -> Vec<ExecutionReceipt> {
        self.outbox().iter().cloned().collect()
    }

    /// Reports the pending execution receipts again, oldest first; returns how many are
    /// still pending (those that failed again stay, in order).
    pub fn retry_reports(&self) -> usize {
        let pending: Vec<ExecutionReceipt> = self.outbox().drain(..).collect();
        let mut failed = Vec::new();
        for execution in pending {
            if let Err(err) = self.report(&execution) {
                log::warn!(target: "sentinel", "execution receipt {} still not reported: {err}", execution.execution_id);
                failed.push(execution);
            }
        }
        let mut outbox = self.outbox();
        // Receipts kept meanwhile by other threads stay after the older ones.
        for execution in failed.into_iter().rev() {
            outbox.push_front(execution);
        }
        while outbox.len() > OUTBOX_CAPACITY {
            outbox.pop_front();
        }
        outbox.len()
    }

    pub(super) fn outbox(&self) -> std::sync::MutexGuard<'_, VecDeque<ExecutionReceipt>> {
        self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}
