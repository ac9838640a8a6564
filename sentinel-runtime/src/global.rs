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
///
/// ```
/// use sentinel_runtime::SentinelClient;
///
/// let client = SentinelClient::builder("http://localhost:4000").build()?;
/// sentinel_runtime::init(client.clone())?;
/// assert!(sentinel_runtime::init(client).is_err(), "the first client stays");
/// assert_eq!(sentinel_runtime::client().unwrap().endpoint(), "http://localhost:4000");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn init(client: SentinelClient) -> Result<(), AlreadyInitialized> {
    GLOBAL
        .set(client)
        .map_err(|_| AlreadyInitialized::new("sentinel::init", "client"))
}

/// The client installed by [`init`], if any: for code that guards by hand what the
/// `#[guarded]` functions guard.
///
/// ```
/// use sentinel_runtime::{Action, Context};
/// use serde_json::json;
///
/// match sentinel_runtime::client() {
///     Some(client) => {
///         let decision = client.guard(&Action::payment(json!({"amount": 5})), &Context::new("r"), "fintech.payments");
///         println!("{}", decision.verdict());
///     }
///     None => println!("sentinel::init was not called: guarded calls are denied"),
/// }
/// ```
pub fn client() -> Option<&'static SentinelClient> {
    GLOBAL.get()
}

/// An `init` was called before ([`init`], or `adjudication::init` for the receipt client);
/// the client it installed stays, and the one given is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadyInitialized {
    init: &'static str,
    what: &'static str,
}

impl AlreadyInitialized {
    pub(crate) fn new(init: &'static str, what: &'static str) -> Self {
        AlreadyInitialized { init, what }
    }
}

impl fmt::Display for AlreadyInitialized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was already called; the first {} stays in place",
            self.init, self.what
        )
    }
}

impl std::error::Error for AlreadyInitialized {}
