//! The process-wide receipt client that `#[guarded(…, receipt)]` functions use.

use once_cell::sync::OnceCell;

use super::ReceiptClient;
use crate::global::AlreadyInitialized;

static GLOBAL: OnceCell<ReceiptClient> = OnceCell::new();

/// Installs the receipt client every `#[guarded(…, receipt)]` function uses (unless it
/// names its own with `receipt = …`). Call it once, at startup. Until then, receipt-mode
/// calls are denied.
///
/// # Errors
///
/// [`AlreadyInitialized`] if a receipt client was installed before: the first stays in
/// place (the gate is never replaced silently).
///
/// ```no_run
/// use sentinel_runtime::adjudication::{self, ExecutorKey, ReceiptClient};
/// use sentinel_runtime::provenance::TrustedKeys;
/// use sentinel_runtime::SentinelClient;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
/// let executor = ExecutorKey::from_seed([7; 32], "payments-worker"); // from your secret store
/// adjudication::init(ReceiptClient::new(SentinelClient::builder("http://localhost:4701").build()?, issuers, executor))?;
/// assert!(adjudication::client().is_some());
/// # Ok(()) }
/// ```
pub fn init(client: ReceiptClient) -> Result<(), AlreadyInitialized> {
    GLOBAL
        .set(client)
        .map_err(|_| AlreadyInitialized::new("sentinel::adjudication::init", "receipt client"))
}

/// The client installed by [`init`], if any.
///
/// ```
/// if let Some(receipts) = sentinel_runtime::adjudication::client() {
///     println!("{} execution receipts wait to be reported", receipts.pending_reports().len());
/// }
/// ```
#[must_use]
pub fn client() -> Option<&'static ReceiptClient> {
    GLOBAL.get()
}
