//! Test helpers (feature `testing`): [`MockSidecar`], a real HTTP/1.1 sidecar on loopback
//! that answers from a rule you give, so you can test your own guarded tools end to end.
//!
//! ```
//! use sentinel_runtime::testing::{MockAnswer, MockSidecar};
//! use sentinel_runtime::{Action, Context, SentinelClient};
//! use serde_json::json;
//!
//! let sidecar = MockSidecar::start(|request| {
//!     if request.payload["to"] == "acct_evil" {
//!         MockAnswer::block("sanctioned counterparty")
//!     } else {
//!         MockAnswer::allow()
//!     }
//! });
//! let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
//! let decision = client.guard(
//!     &Action::payment(json!({"amount": 5, "from": "a", "to": "acct_evil"})),
//!     &Context::new("run-1"),
//!     "fintech.payments",
//! );
//! assert!(!decision.allowed());
//! assert_eq!(sidecar.requests().len(), 1);
//! ```

use std::sync::Mutex;

use serde_json::Value;

mod chain;
mod routes;
mod rule;
mod server;
mod sidecar;

use chain::Chain;
use rule::{parse_guard_request, Rule};

pub use rule::{MockAnswer, MockRequest};
pub use sidecar::MockSidecar;

mod signed_chain;
pub use signed_chain::SignedChain;

// The adjudication protocol's routes (receipts), kept apart from the guard routes.
#[cfg(feature = "verify")]
mod adjudication;

struct Seen {
    requests: Vec<MockRequest>,
    connections: usize,
    escalations: Vec<Value>,
    chain: Chain,
    protocol: adjudication::Protocol,
}

#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
impl Default for Seen {
    fn default() -> Self {
        Seen {
            requests: Vec::new(),
            connections: 0,
            escalations: Vec::new(),
            chain: Chain::new(chain::DEFAULT_SEED),
            protocol: adjudication::Protocol::default(),
        }
    }
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|e| e.into_inner())
}
