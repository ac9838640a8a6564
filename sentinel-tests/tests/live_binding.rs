//! Every ALLOW bound to the call it opens (issue 19), against the real sidecar: the key id
//! it prints at start-up pins it.

mod live_support;

use std::time::Duration;

use live_support::proxy::RewritingProxy;
use live_support::OwnSidecar;
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

fn payment(amount: u64) -> Action {
    Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}))
}

/// The `signer ed25519:…` id from the sidecar's start-up line.
fn printed_key_id(sidecar: &OwnSidecar) -> String {
    let log = sidecar.log();
    let at = log
        .find("signer ed25519:")
        .unwrap_or_else(|| panic!("no `signer ed25519:` in the sidecar's log:\n{log}"));
    log[at + "signer ".len()..]
        .chars()
        .take("ed25519:".len() + 64)
        .collect()
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn the_key_id_the_sidecar_prints_pins_it() {
    // A key of its own, so nothing here depends on the default seed.
    let Some(sidecar) = OwnSidecar::start(&["--seed-hex", &"5a".repeat(32)]) else {
        return;
    };
    let key_id = printed_key_id(&sidecar);
    let pinned = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(10))
        .trusted_key_id(&key_id)
        .build()
        .unwrap();
    assert!(pinned.verifies_decisions());
    let decision = pinned.guard(&payment(100), &Context::new("run_pin_1"), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Allow, "{decision:?}");
    assert!(!decision.is_fallback());

    // The id of another sidecar's key (the default seed's): its genuine ALLOW is not trusted.
    let elsewhere = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(10))
        .trusted_key_id("ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c")
        .build()
        .unwrap();
    let decision = elsewhere.guard(&payment(100), &Context::new("run_pin_2"), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(
        decision.reason().unwrap().contains("untrusted key"),
        "{decision:?}"
    );
}

/// The sidecar is JavaScript: 2^53 + 1 would be judged as 2^53. Such a payload is denied
/// before it is sent; the largest exact integer is judged as sent.
#[test]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
fn an_integer_beyond_what_javascript_reads_exactly_is_never_sent() {
    let Some(endpoint) = live_support::live_endpoint() else {
        return;
    };
    let client = SentinelClient::builder(&endpoint)
        .timeout(Duration::from_secs(10))
        .verify_decisions(live_support::pinned_keys())
        .build()
        .unwrap();
    let refused = client.guard(
        &payment(9_007_199_254_740_993),
        &Context::new("run_precision"),
        "fintech.payments",
    );
    assert_eq!(refused.verdict(), Verdict::Block, "{refused:?}");
    assert!(refused.is_fallback(), "{refused:?}");
    assert!(refused.reason().unwrap().contains("2^53"), "{refused:?}");

    let judged = client.guard(
        &payment(9_007_199_254_740_991),
        &Context::new("run_precision"),
        "fintech.payments",
    );
    assert!(!judged.is_fallback(), "the sidecar judged it: {judged:?}");
    let record = client.record(judged.record_id().unwrap()).unwrap();
    assert_eq!(
        record.action().payload()["amount"],
        json!(9_007_199_254_740_991_u64)
    );
}

/// A proxy that asks under a laxer policy: the real sidecar ALLOWs a payment of 60 000
/// under `healthcare.record_write` (no payment rules) that `fintech.payments` escalates. The
/// signed record is genuine, about this action and run, but names the other policy.
#[test]
#[ignore = "needs a real sidecar (SENTINEL_LIVE_ENDPOINT; .ci/run starts one)"]
fn an_allow_judged_under_another_policy_than_asked_is_blocked() {
    let Some(endpoint) = live_support::live_endpoint() else {
        return;
    };
    let proxy = RewritingProxy::start(
        &endpoint,
        |path, body| {
            if path != "/v1/guard" {
                return false;
            }
            body["policy"] = json!("healthcare.record_write");
            true
        },
        |_, _| false,
    );
    let client = SentinelClient::builder(proxy.endpoint())
        .timeout(Duration::from_secs(10))
        .verify_decisions(live_support::pinned_keys())
        .build()
        .unwrap();
    let decision = client.guard(
        &payment(60_000),
        &Context::new("run_policy_swap"),
        "fintech.payments",
    );
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert!(
        decision
            .reason()
            .unwrap()
            .contains("not judged under policy fintech.payments"),
        "{decision:?}"
    );
}

/// A parked escalation resumes after 10 000 records were written since it was approved
/// (300 of them in its own run): the approval's `human.review` record is found by the
/// original record's run, the review's verdict and the resolution time.
#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn a_parked_escalation_resumes_after_ten_thousand_records() {
    let Some(sidecar) = OwnSidecar::start(&[]) else {
        return;
    };
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(30))
        .verify_decisions(live_support::pinned_keys())
        .build()
        .unwrap();
    let context = Context::new("run_parked");
    let action = payment(42_000);
    let escalated = client.guard(&action, &context, "fintech.payments");
    assert_eq!(escalated.verdict(), Verdict::Escalate, "{escalated:?}");
    let escalation_id = escalated.escalation_id().unwrap().to_owned();
    client
        .resolve(&escalation_id, sentinel::Resolution::Approve, "treasury_ops")
        .unwrap();

    let started = std::time::Instant::now();
    let mut written = 0_u64;
    for chunk in 0..40_u64 {
        let requests: Vec<_> = (0..250_u64)
            .map(|i| {
                let n = chunk * 250 + i;
                // 300 in the parked call's own run, the rest in other runs.
                let run = if n < 300 {
                    "run_parked".to_owned()
                } else {
                    format!("run_busy_{}", n % 50)
                };
                (payment(1 + n), Context::new(run), "fintech.payments")
            })
            .collect();
        let decisions = client.guard_batch(&requests);
        written += decisions.iter().filter(|d| d.allowed()).count() as u64;
    }
    assert!(written >= 10_000, "only {written} ALLOW records were written");
    println!(
        "{written} ALLOW records written after the approval in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = std::time::Instant::now();
    assert!(matches!(
        client.escalation_status(&escalation_id).unwrap(),
        sentinel::ReviewStatus::Approved { .. }
    ));
    let resumed = client.resume(&escalation_id, &action, &context, "fintech.payments");
    assert_eq!(resumed.verdict(), Verdict::Allow, "{resumed:?}");
    println!(
        "status and resume after {written} records: {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
