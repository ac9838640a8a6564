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
mod canonical;
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
mod sidecar_error;
mod strict_json;
mod telemetry;
#[cfg(feature = "tls")]
mod tls;
mod transport;

pub mod unversioned;

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
pub use escalation::{Escalation, EscalationState, Resolution, Resolved, ReviewStatus};
pub use global::{client, init, AlreadyInitialized};
pub use sidecar_error::SidecarError;
pub use transport::TransportError;

// The types users share across threads (a client in shared state, a decision or an error
// sent to another thread, a receipt client behind a global) are `Send + Sync`. A change
// that loses it fails the build here, not in a user's crate.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<SentinelClient>();
    shared::<SentinelClientBuilder>();
    shared::<GuardDecision>();
    shared::<CheckResult>();
    shared::<Details>();
    shared::<Action>();
    shared::<Context>();
    shared::<Denied>();
    shared::<Escalation>();
    shared::<Resolved>();
    shared::<ReviewStatus>();
    shared::<BuildError>();
    shared::<DecisionError>();
    shared::<EnvError>();
    shared::<InitError>();
    shared::<AlreadyInitialized>();
    shared::<SidecarError>();
    shared::<TransportError>();
    shared::<transport::HttpRequest>();
    shared::<transport::HttpResponse>();
    shared::<transport::UreqTransport>();
    #[cfg(feature = "verify")]
    {
        shared::<adjudication::ReceiptClient>();
        shared::<adjudication::AuthorizationReceipt>();
        shared::<adjudication::ExecutionReceipt>();
        shared::<adjudication::ExecutorKey>();
        shared::<adjudication::ReceiptError>();
        shared::<provenance::Record>();
        shared::<provenance::TrustedKeys>();
        shared::<provenance::ProvenanceError>();
        shared::<records::ExportError>();
        shared::<records::RecordQuery>();
    }
    #[cfg(feature = "testing")]
    shared::<testing::MockSidecar>();
};
