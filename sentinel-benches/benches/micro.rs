//! Criterion micro benchmarks of the client-side CPU of a guard, without a network.
//!
//! ```text
//! cargo bench -p sentinel-benches --bench micro                      # all
//! cargo bench -p sentinel-benches --bench micro -- guard/            # one group
//! ```
//!
//! `benches/report.rs` measures the same paths with p99, allocation counts and ratios, and
//! the loopback, concurrency and async cases.

mod common;

use std::hint::black_box;
use std::sync::LazyLock;

use common::{
    in_process_client, recorded_body, typical_action, typical_context, GuardRequest, ALLOW_CASE,
    LARGEST_CASE, POLICY,
};
use criterion::{criterion_group, criterion_main, Criterion};
use sentinel::{Action, Context, Denied, GuardDecision, SentinelClient};
use serde_json::json;

static CLIENT: LazyLock<SentinelClient> = LazyLock::new(|| in_process_client(recorded_body(ALLOW_CASE)));

/// The attribute under test.
#[sentinel::guarded(policy = "p", kind = "k", client = &CLIENT)]
fn pay_guarded(amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    let _ = (from, to);
    Ok(amount)
}

/// What the attribute does, written by hand.
fn pay_by_hand(amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    let action = Action::of("k", json!({"amount": amount, "from": from, "to": to}));
    let decision = CLIENT.guard(&action, &Context::current(), "p");
    if !decision.allowed() {
        return Err(Denied::new(decision, "k", "p"));
    }
    Ok(amount)
}

fn guard(c: &mut Criterion) {
    let context = typical_context();
    let mut group = c.benchmark_group("guard");
    for case in [ALLOW_CASE, LARGEST_CASE] {
        let client = in_process_client(recorded_body(case));
        let action = typical_action();
        group.bench_function(format!("in_process/{case}"), |b| {
            b.iter(|| client.guard(black_box(&action), black_box(&context), POLICY))
        });
    }
    let client = in_process_client(recorded_body(ALLOW_CASE));
    group.bench_function(format!("in_process_with_new_action/{ALLOW_CASE}"), |b| {
        b.iter(|| client.guard(&typical_action(), black_box(&context), POLICY))
    });
    group.finish();
}

fn parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("parts");
    for case in [ALLOW_CASE, LARGEST_CASE] {
        let body = recorded_body(case);
        assert!(GuardDecision::from_json(&body).is_ok());
        group.bench_function(format!("from_json/{case}"), |b| {
            b.iter(|| GuardDecision::from_json(black_box(&body)))
        });
    }
    let (action, context) = (typical_action(), typical_context());
    group.bench_function("serialize_request", |b| {
        b.iter(|| {
            serde_json::to_vec(&GuardRequest {
                action: black_box(&action),
                context: black_box(&context),
                policy: POLICY,
            })
        })
    });
    group.bench_function("new_action", |b| b.iter(typical_action));
    group.finish();
}

fn attribute(c: &mut Criterion) {
    let context = typical_context();
    let mut group = c.benchmark_group("attribute");
    context.scope(|| {
        assert_eq!(pay_guarded(100, "acct_ops", "vendor_42").ok(), Some(100));
        assert_eq!(pay_by_hand(100, "acct_ops", "vendor_42").ok(), Some(100));
        group.bench_function("guarded_fn", |b| {
            b.iter(|| pay_guarded(black_box(100), black_box("acct_ops"), black_box("vendor_42")))
        });
        group.bench_function("by_hand", |b| {
            b.iter(|| pay_by_hand(black_box(100), black_box("acct_ops"), black_box("vendor_42")))
        });
    });
    group.finish();
}

criterion_group!(benches, guard, parts, attribute);
criterion_main!(benches);
