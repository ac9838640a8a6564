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
pub fn init(client: ReceiptClient) -> Result<(), AlreadyInitialized> {
    GLOBAL
        .set(client)
        .map_err(|_| AlreadyInitialized::new("sentinel::adjudication::init", "receipt client"))
}

/// The client installed by [`init`], if any.
#[must_use]
pub fn client() -> Option<&'static ReceiptClient> {
    GLOBAL.get()
}
