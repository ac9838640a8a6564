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
#![cfg_attr(docsrs, feature(doc_cfg))]

mod action;
mod blocking;
mod client;
mod context;
mod deadline;
mod decision;
mod denied;
mod env;
mod escalation;
mod frameworks;
mod global;
mod method_kind;
mod payload;
mod protocol;
mod reason;
mod strict_json;
mod telemetry;
#[cfg(feature = "tls")]
mod tls;
pub mod transport;

#[doc(hidden)]
pub mod macro_support;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub mod provenance;

#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub mod records;

#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub mod adjudication;

pub use action::Action;
pub use client::{BuildError, SentinelClient, SentinelClientBuilder};
pub use context::{Actor, Context, TraceStep, WithContext, WithContextExt};
pub use decision::{
    CheckResult, DecisionError, Details, FailMode, FallbackKind, GuardDecision, Outcome, Verdict,
};
pub use denied::Denied;
pub use env::{init_from_env, EnvError, InitError};
pub use escalation::{Escalation, EscalationError, EscalationState, Resolution, Resolved, ReviewStatus};
pub use global::{client, init, AlreadyInitialized};
