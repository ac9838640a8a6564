//! The runtime of [Sentinel for Rust](https://docs.rs/sentinel): a fail-closed client of a
//! Sentinel sidecar. Most users depend on the `sentinel` crate, which re-exports all of
//! this and adds the `#[sentinel::guarded]` attribute.
//!
//! Before an agent does something that matters, [`SentinelClient::guard`] asks the sidecar
//! whether it may. The answer is a [`GuardDecision`]: `ALLOW`, `BLOCK` or `ESCALATE`. When
//! no trustworthy answer can be had (the sidecar is down, slow, or says something
//! malformed) the client makes up a fallback decision by its [`FailMode`], `BLOCK` by
//! default, and never returns an error or panics.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod action;
mod blocking;
mod client;
mod context;
mod decision;
mod denied;
pub mod env;
mod escalation;
mod frameworks;
mod global;
mod http;
mod method_kind;
mod payload;
mod strict_json;
#[cfg(feature = "tracing")]
mod telemetry;
#[cfg(feature = "tls")]
mod tls;
mod transport;
#[cfg(feature = "verify")]
mod verified;

#[doc(hidden)]
pub mod macro_support;

#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "verify")]
pub mod provenance;

pub use action::Action;
pub use client::{
    BuildError, FailMode, SentinelClient, SentinelClientBuilder, DEFAULT_BODY_LIMIT, DEFAULT_POOL_SIZE,
    DEFAULT_TIMEOUT, MAX_BATCH,
};
pub use context::{Actor, Context, TraceStep, WithContext, WithContextExt};
pub use decision::{CheckResult, DecisionError, Details, GuardDecision, Outcome, Verdict, TRANSPORT_CHECK};
pub use denied::Denied;
pub use env::{init_from_env, EnvError, InitError};
pub use escalation::{
    Escalation, EscalationError, EscalationState, EscalationStatus, Resolution, MAX_POLL_INTERVAL,
};
pub use global::{client, init, AlreadyInitialized};
pub use http::UreqTransport;
pub use transport::{HttpRequest, HttpResponse, Transport, TransportError};
