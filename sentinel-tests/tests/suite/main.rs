//! The integration tests that need no process of their own, in one binary: one build and
//! link instead of a dozen. Run one file's tests with a filter:
//! `cargo test -p sentinel-tests --all-features --test suite -- loopback::`.
//!
//! Tests that touch process-wide state have binaries of their own: `global.rs`
//! (`sentinel::init`), `proxy_env.rs` (environment variables), `fail_open_warning.rs` (the
//! `log` logger), `soak.rs` (a counting global allocator; descriptor, thread and memory
//! counts of the whole process) and `hostile.rs` (call-time bounds, kept clear of the
//! other tests' load).

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "verify")]
mod adjudication_fixtures;
mod batch_sizing;
mod client_parity;
mod conformance;
mod doc_examples;
mod escalations_and_batches;
mod fallback_reasons;
mod feature_marks;
#[cfg(feature = "testing")]
mod guarded;
#[cfg(feature = "testing")]
mod guarded_async;
#[cfg(feature = "testing")]
mod guarded_escalation;
#[cfg(feature = "testing")]
mod guarded_payload;
#[cfg(feature = "testing")]
mod guarded_receipts;
mod hardening;
mod loopback;
#[cfg(feature = "testing")]
mod mock_receipts;
#[cfg(feature = "testing")]
mod mock_sidecar;
mod parser_props;
mod readme_excerpts;
mod resume_policy;
mod tls;
mod tracing_spans;
mod verified_decisions;
