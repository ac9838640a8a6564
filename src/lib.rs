//! # Sentinel for Rust
//!
//! Gate an AI agent's consequential actions behind a Sentinel sidecar. Annotate a tool
//! function once; from then on its body runs only after the sidecar said `ALLOW` for
//! exactly the arguments it was called with. When no trustworthy answer can be had, the
//! call is denied: Sentinel fails closed.
//!
//! (The full guide is written in the README; this page grows with it.)
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use sentinel_runtime::*;

pub use sentinel_macros::guarded;

/// What `#[guarded]` expands to names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use sentinel_runtime::macro_support::{Call, Payload};
}
