//! The process-wide receipt client that `#[guarded(…, receipt)]` functions use.

use once_cell::sync::OnceCell;

use super::ReceiptClient;

static GLOBAL: OnceCell<ReceiptClient> = OnceCell::new();

/// Installs the receipt client every `#[guarded(…, receipt)]` function uses (unless it
/// names its own with `receipt = …`). Call it once, at startup. A second call changes
/// nothing and hands its client back. Until then, receipt-mode calls are denied.
///
/// # Errors
///
/// The client given, if one was installed before.
pub fn init(client: ReceiptClient) -> Result<(), ReceiptClient> {
    GLOBAL.set(client)
}

/// The client installed by [`init`], if any.
#[must_use]
pub fn client() -> Option<&'static ReceiptClient> {
    GLOBAL.get()
}
