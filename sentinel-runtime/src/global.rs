//! The process-wide client that `#[guarded]` functions use.

use std::fmt;

use once_cell::sync::OnceCell;

use crate::client::SentinelClient;

static GLOBAL: OnceCell<SentinelClient> = OnceCell::new();

/// Installs the client every `#[guarded]` function uses (unless it names its own with
/// `client = …`). Call it once, at startup.
///
/// A second call returns [`AlreadyInitialized`] and leaves the first client in place: the
/// gate is never replaced silently. Until `init` is called, guarded calls are denied.
pub fn init(client: SentinelClient) -> Result<(), AlreadyInitialized> {
    GLOBAL.set(client).map_err(|_| AlreadyInitialized(()))
}

/// The client installed by [`init`], if any.
pub fn client() -> Option<&'static SentinelClient> {
    GLOBAL.get()
}

/// [`init`] was called before; the client it installed stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyInitialized(());

impl fmt::Display for AlreadyInitialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sentinel::init was already called; the first client stays in place")
    }
}

impl std::error::Error for AlreadyInitialized {}
