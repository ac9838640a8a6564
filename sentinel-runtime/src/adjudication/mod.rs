//! Receipts: the guarded body as the adjudication protocol's protected executor (feature
//! `verify`; the sidecar must run with `--protocol`, `SENTINEL_PROTOCOL_ENABLED=1`).
//!
//! An `ALLOW` answers a proposal; nothing in it binds what runs afterwards. The sidecar's
//! adjudication protocol turns an `ALLOW` into a signed, single-use, expiring
//! [`AuthorizationReceipt`] bound to the [`CanonicalAction`]'s digest, a context digest,
//! a policy manifest and the evidence. [`ReceiptClient::execute`] is the executor:
//!
//! 1. `POST /v1/adjudications` → a receipt, checked here under the pinned issuer keys and
//!    against the digests of the request (a receipt never brings its own key);
//! 2. `POST /v1/receipts/validate` with the digests of the action and context actually
//!    run → the sidecar consumes the nonce (exactly one of two racing executors wins);
//! 3. the body runs, exactly once;
//! 4. an [`ExecutionReceipt`] (status, result digest) signed with the [`ExecutorKey`] goes
//!    to `POST /v1/executions`; if that fails it is logged and kept for
//!    [`ReceiptClient::retry_reports`].
//!
//! Anything short of step 2 succeeding is a [`Denied`](crate::Denied), and the body never
//! runs. Three round trips per call where a plain guard makes one.
//!
//! ```no_run
//! use sentinel_runtime::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
//! use sentinel_runtime::provenance::TrustedKeys;
//! use sentinel_runtime::{Context, Denied, SentinelClient};
//! use serde_json::json;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuers = TrustedKeys::new().with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")?;
//! let executor = ExecutorKey::from_seed([7; 32], "payments-worker"); // load from your secret store
//! let receipts = ReceiptClient::new(SentinelClient::builder("http://localhost:4000").build()?, issuers, executor);
//!
//! let params = json!({"amount": 100, "from": "acct_ops", "to": "vendor_42"});
//! let action = CanonicalAction::new("payment", "core-banking", "transfer", "agent-7", params)?;
//! let request = AdjudicationRequest::new(action, Context::new("run-42"), "fintech.payments");
//! let transfer_id: Result<String, Denied> = receipts.execute(&request, || {
//!     Ok("tx_1".to_owned()) // the side effect, run only on a validated receipt
//! });
//! # Ok(()) }
//! ```

mod action;
mod client;
mod error;
mod executor;
mod global;
mod judgement;
mod receipt;
mod time;

pub use action::{context_digest, evidence_digest, CanonicalAction, EvidenceItem, PolicyManifest};
pub use client::{
    Adjudication, AdjudicationRequest, AuditReport, AuditViolation, Coverage, ExecutionBinding,
    ReceiptClient, OUTBOX_CAPACITY,
};
pub use error::ReceiptError;
pub use global::{client, init};
pub use receipt::{AuthorizationReceipt, ExecutionReceipt, ExecutionStatus, ExecutorKey, PROTOCOL_VERSION};

#[cfg(feature = "testing")]
pub(crate) use client::check_binding;
#[cfg(feature = "testing")]
pub(crate) use time::{format_iso, parse_iso};
