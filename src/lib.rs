//! # Sentinel for Rust
//!
//! Gate an AI agent's consequential actions (moving money, writing a medical record,
//! sending an email, deploying) behind a Sentinel sidecar. Annotate a tool function once;
//! from then on its body runs only after the sidecar said `ALLOW` for exactly the arguments
//! it was called with. The sidecar decides and signs; this crate never decides, and when it
//! cannot get a trustworthy answer it **fails closed**.
//!
//! - [Quick start](#quick-start)
//! - [The attribute](#the-attribute)
//! - [Fail modes, and why closed is the default](#fail-modes-and-why-closed-is-the-default)
//! - [Context scoping](#context-scoping)
//! - [Escalations](#escalations)
//! - [Testing your own guarded tools](#testing-your-own-guarded-tools)
//! - [Verifying the sidecar's signatures](#verifying-the-sidecars-signatures)
//! - [Configuration from the environment](#configuration-from-the-environment)
//! - [Feature flags](#feature-flags)
//!
//! ## Quick start
//!
//! ```no_run
//! use sentinel::{Context, Denied, SentinelClient};
//!
//! #[derive(Debug)]
//! struct Receipt(u64);
//!
//! /// Moves money. Runs only on ALLOW.
//! #[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
//! fn pay(amount: u64, from: &str, to: &str) -> Result<Receipt, Denied> {
//!     Ok(Receipt(amount))
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Once, at startup: the client every guarded function uses.
//!     sentinel::init(SentinelClient::builder("http://localhost:4000").build()?)?;
//!
//!     let ctx = Context::new("run-42").with_provider("anthropic").with_actor("agent-007", ["ops"]);
//!     match ctx.scope(|| pay(42_000, "acct_ops", "vendor_42")) {
//!         Ok(receipt) => println!("paid: {receipt:?}"),
//!         Err(denied) if denied.is_escalated() => println!("waiting for a human: {denied}"),
//!         Err(denied) => println!("refused: {denied}"),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! The call sends `POST /v1/guard` with the action
//! `{"id": "act_<uuid>", "type": "payment", "payload": {"amount": 42000, "from": "acct_ops", "to": "vendor_42"}}`,
//! the context in scope and the policy. `cargo run --example quickstart` shows it against an
//! embedded mock sidecar.
//!
//! ## The attribute
//!
//! [`#[guarded]`](guarded) works on free functions, methods (`&self`, `&mut self`, `self`;
//! the receiver is never sent), trait impls (also `#[async_trait]` ones), generic functions
//! and `async fn`s. The function must return `Result<T, E>` with `E: From<Denied>`
//! (`Denied` itself, `std::io::Error`, `anyhow::Error` and `Box<dyn Error + Send + Sync>`
//! all qualify); on anything but `ALLOW` it returns `Err(Denied.into())` and the body does
//! not run.
//!
//! Its options (`policy`, `kind`, `payload`, `skip`, `rename`, `fields`, `meta`, `id`,
//! `client`, `context`, `on_escalate`, `crate`) are described once, in
//! [the attribute's own documentation](guarded#options).
//!
//! Misuse is a compile error on the offending token: an unknown or repeated option, a
//! missing `policy`, `skip`/`rename`/`context` naming no parameter, two payload members with
//! the same name, a parameter that does not implement `serde::Serialize`, a pattern
//! parameter with no role, a `Context` or `SentinelClient` parameter without its option,
//! the attribute applied twice, a return type that is not a `Result`. What cannot be
//! checked at compile time (an argument whose serialization repeats a key, holds NaN, nests
//! too deep or panics) denies the call at run time, before anything is sent.
//!
//! ```
//! use sentinel::{Context, Denied, SentinelClient};
//!
//! struct Db;
//!
//! #[sentinel::guarded(
//!     policy = "fintech.payments",
//!     kind = "payment",
//!     skip(db),
//!     rename(to = "recipient"),
//!     fields(currency = "USD"),
//!     meta(source = "planner"),
//!     id = format!("invoice-{invoice}"),
//!     client = client,
//!     context = ctx,
//! )]
//! fn pay_invoice(
//!     client: &SentinelClient,
//!     ctx: &Context,
//!     db: &Db,
//!     invoice: u64,
//!     amount: u64,
//!     to: &str,
//! ) -> Result<u64, Denied> {
//!     Ok(amount)
//! }
//! // Sent: id "invoice-7", payload {"invoice": 7, "amount": 100, "recipient": "v", "currency": "USD"}.
//!
//! // Nothing listens on port 9: the client fails closed and the body never runs.
//! let client = SentinelClient::builder("http://127.0.0.1:9").build().unwrap();
//! let denied = pay_invoice(&client, &Context::new("run-1"), &Db, 7, 100, "v").unwrap_err();
//! assert!(denied.is_fallback());
//! ```
//!
//! ## Fail modes, and why closed is the default
//!
//! Only a 2xx answer whose body is a well-formed decision is honoured. A sidecar that is
//! down, slow past the deadline, redirecting, rate-limiting past the deadline, answering
//! with a malformed or oversized body: each yields a *fallback* decision, with an empty
//! record id and a single `sentinel.transport` check, so callers can tell it from a real
//! verdict ([`GuardDecision::is_fallback`]).
//!
//! With [`FailMode::Closed`] (the default) the fallback is `BLOCK`: an action nobody could
//! check does not happen. [`FailMode::Open`] makes it `ALLOW` instead, for actions whose
//! being blocked costs more than their happening unchecked; it must be chosen explicitly,
//! building such a client logs a warning, and every fail-open `ALLOW` is marked as a
//! fallback and logged. Some refusals ignore the fail mode because asking could not settle
//! them: a payload that cannot be serialized, an escalation no human answered in time, a
//! signed record that does not match the call; and a sidecar's 4xx (an unknown policy, a
//! missing credential): the sidecar is up and said no, which is not an outage.
//!
//! ```
//! use std::time::Duration;
//! use sentinel::{FailMode, SentinelClient};
//!
//! let client = SentinelClient::builder("http://localhost:4000")
//!     .fail_mode(FailMode::Closed)            // the default
//!     .timeout(Duration::from_secs(5))        // the whole request, retries included
//!     .header("authorization", "Bearer my-token")    // never printed by Debug, logs or errors
//!     .build()?;
//! # Ok::<(), sentinel::BuildError>(())
//! ```
//!
//! ## Context scoping
//!
//! Every guard carries a [`Context`]: the run, the model, the actor. Synchronous code
//! scopes one with [`Context::scope`] (nestable, restored on panic); futures carry one with
//! [`WithContextExt::with_context`], which enters it on every poll, so it follows a task
//! across the threads of a multi-threaded executor and never leaks into other tasks. With
//! no context in scope, a guard uses [`Context::process_default`], whose `runId` is
//! `run_<uuid>`, generated once per process (the sidecar requires a run id).
//!
//! ```
//! use sentinel::{Context, WithContextExt};
//!
//! let outer = Context::new("run-1");
//! outer.scope(|| {
//!     assert_eq!(Context::current().run_id(), "run-1");
//!     Context::new("run-2").scope(|| assert_eq!(Context::current().run_id(), "run-2"));
//!     assert_eq!(Context::current().run_id(), "run-1");
//! });
//!
//! async fn tool() -> String {
//!     Context::current().run_id().to_owned()
//! }
//! let future = tool().with_context(Context::new("run-3")); // poll it on any executor
//! # drop(future);
//! ```
//!
//! A guarded `async fn` never blocks its executor thread: the request runs on a small
//! thread pool of this crate and the guard is awaited, with tokio, async-std, smol or a
//! hand-written executor alike. A future dropped before it finishes never runs the body.
//!
//! ## Escalations
//!
//! `ESCALATE` means a human must decide. A guarded call returns it at once as a [`Denied`]
//! with [`Denied::is_escalated`] and [`Denied::escalation_id`]. Then either resume later
//! (tell the model "pending", park the job, and check
//! [`SentinelClient::escalation_status`] without blocking), or wait, always bounded, with
//! `on_escalate = wait(timeout = "10m")` on the attribute or
//! [`SentinelClient::wait_for_resolution`] by hand: approved gives an `ALLOW` on the human-review
//! record, denied a `BLOCK`, still pending at the timeout a fallback `BLOCK`. Humans (or
//! tools acting for them) resolve with [`SentinelClient::resolve`]. See
//! `examples/escalation.rs`.
//!
//! ```no_run
//! use std::time::Duration;
//! use sentinel::{ReviewStatus, SentinelClient};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = SentinelClient::builder("http://localhost:4000").build()?;
//! # let escalation_id = "esc_1";
//! match client.escalation_status(escalation_id)? {
//!     ReviewStatus::Pending => { /* park the job; try again later */ }
//!     ReviewStatus::Approved { record_id } => { /* re-run the tool */ }
//!     _ => { /* denied: tell the model */ }
//! }
//! let decision = client.wait_for_resolution(escalation_id, Duration::from_secs(600));
//! # Ok(()) }
//! ```
//!
//! [`SentinelClient::guard_batch`] asks about many actions in one request per 256.
//!
//! ## Testing your own guarded tools
//!
//! The `testing` feature gives [`testing::MockSidecar`]:
//! a real HTTP/1.1 sidecar on `127.0.0.1` (port 0) answering from a rule you write. It
//! records every request (assert on the payload your tool sent), counts connections, serves
//! escalations, and closes everything when dropped. Point a client at it, and give the
//! tool that client with `client = …` (or install it with [`init`] in a test binary of its
//! own). `cargo run --example testing` walks through it.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use sentinel::testing::{MockAnswer, MockSidecar};
//! use sentinel::{Denied, SentinelClient};
//!
//! #[sentinel::guarded(policy = "comms", kind = "email.send", client = client)]
//! fn send(client: &SentinelClient, to: &str) -> Result<(), Denied> {
//!     Ok(())
//! }
//!
//! let sidecar = MockSidecar::start(|req| {
//!     if req.payload["to"] == "ceo@elsewhere.example" {
//!         MockAnswer::block("external recipient")
//!     } else {
//!         MockAnswer::allow()
//!     }
//! });
//! let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
//! assert!(send(&client, "team@acme.example").is_ok());
//! assert_eq!(send(&client, "ceo@elsewhere.example").unwrap_err().reason(), "external recipient");
//! assert_eq!(sidecar.requests()[0].payload["to"], "team@acme.example");
//! # }
//! ```
//!
//! ## Verifying the sidecar's signatures
//!
//! The sidecar appends a signed record to a hash chain for every verdict. With the
//! `verify` feature (on by default), [`provenance`] checks
//! records and chains against keys you pin, and
//! [`SentinelClientBuilder::verify_decisions`] makes the client honour an `ALLOW` only after
//! its record verifies and is about this very action and run: a forged or replayed `ALLOW`
//! becomes a `BLOCK`.
//!
//! ## Configuration from the environment
//!
//! [`SentinelClient::from_env`] and [`init_from_env`] read `SENTINEL_ENDPOINT` (required),
//! `SENTINEL_FAIL_MODE` (`closed`/`open`), `SENTINEL_TIMEOUT_MS`, `SENTINEL_BODY_LIMIT` and
//! `SENTINEL_HEADERS` (`name=value,…`); a bad value is an error naming the variable (the
//! table is on [`SentinelClient::from_env`]).
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `verify` | yes | [`provenance`]: canonical JSON, Ed25519 record and chain verification, `verify_decisions` |
//! | `tls` | no | `https://` sidecars through rustls: platform roots or a given CA, optional client certificate |
//! | `tracing` | no | a `sentinel.guard` span per guard and a warning per fallback; never payload or header values |
//! | `testing` | no | [`testing::MockSidecar`] for your own tests |
//! | `rmcp` | no | MCP tools (rmcp): a denial is a tool result with `isError: true` and [`Denied::model_feedback`] as its text |
//! | `rig` | no | rig tools (rig-core 0.44): `Denied` converts into a `ToolExecutionError` refusal the model reads |
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// One path per item: what is not listed here is not part of the API.
pub use sentinel_runtime::{
    client, init, init_from_env, Action, Actor, AlreadyInitialized, BuildError, CheckResult, Context,
    DecisionError, Denied, Details, EnvError, Escalation, EscalationState, FailMode, FallbackKind,
    GuardDecision, InitError, Outcome, Resolution, Resolved, ReviewStatus, SentinelClient,
    SentinelClientBuilder, SidecarError, TraceStep, TransportError, Verdict, WithContext, WithContextExt,
};

pub use sentinel_runtime::unversioned;

#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub use sentinel_runtime::adjudication;
#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub use sentinel_runtime::provenance;
#[cfg(feature = "verify")]
#[cfg_attr(docsrs, doc(cfg(feature = "verify")))]
pub use sentinel_runtime::records;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use sentinel_runtime::testing;

pub use sentinel_macros::guarded;

/// What `#[guarded]` expands to names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::__sentinel_receipt_mode as receipt_mode;
    pub use sentinel_runtime::macro_support::{
        method_kind, Arg, Call, ClientArg, ClientHasItsOwnOption, ContextArg, ContextHasItsOwnOption,
        ContextOrClient, ErasedArg, EscalationTimeout, FromDenied, Member, Pending, SendArg, SendClient,
        SendContext, Sent,
    };
    #[cfg(feature = "verify")]
    pub use sentinel_runtime::macro_support::{
        receipt_error, receipt_output, receipt_result, ReceiptError, ReceiptOutput,
    };

    /// Without `verify`, the one error of receipt mode, reported by rustc where the
    /// expansion names [`receipt_mode_needs`]: at the user's `receipt`.
    #[cfg(not(feature = "verify"))]
    #[diagnostic::on_unimplemented(
        message = "`receipt` needs the `verify` feature of montanalabs-sentinel, which is off in this build",
        label = "receipt mode needs the `verify` feature",
        note = "enable it in Cargo.toml: montanalabs-sentinel = {{ version = \"…\", features = [\"verify\"] }} (it is a default feature; `default-features = false` turns it off)"
    )]
    pub trait VerifyFeature {}

    /// What receipt mode needs, named in the expansion.
    #[cfg(not(feature = "verify"))]
    pub struct ReceiptMode;

    /// Never called: its bound fails to compile without `verify`.
    #[cfg(not(feature = "verify"))]
    pub fn receipt_mode_needs<T: VerifyFeature>() -> ! {
        unreachable!("receipt mode without the `verify` feature does not compile")
    }
}

/// Receipt mode's call as `#[guarded(…, receipt)]` expands it, after a check spanned at the
/// user's `receipt`: with `verify` the call, the check unused.
#[cfg(feature = "verify")]
#[doc(hidden)]
#[macro_export]
macro_rules! __sentinel_receipt_mode {
    ($check:expr; $($call:tt)*) => { $($call)* };
}

/// Without `verify` there is no receipt client, so only the check is kept: one error, at
/// the user's `receipt`, naming the feature (the attribute cannot see this crate's
/// features, and the call would fail with rustc's "no method named …").
#[cfg(not(feature = "verify"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __sentinel_receipt_mode {
    ($check:expr; $($call:tt)*) => {
        $check
    };
}

/// The README's code blocks, compiled and run as doctests so they cannot go stale (the
/// `rust,ignore` excerpts of the framework examples are held to their files by
/// `sentinel-tests/tests/suite/readme_excerpts.rs`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
