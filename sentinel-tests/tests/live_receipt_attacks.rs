//! The receipt attacks of issue 19, each against the real `--protocol` sidecar with a
//! rewriting proxy (or an agent's own request) in front of it; in every one the body never
//! runs. The issuer is pinned by key id only (`ed25519:…`, what the sidecar prints), so the
//! receipt's key comes from the signed decision record.
#![cfg(feature = "verify")]

mod live_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use live_support::proxy::RewritingProxy;
use live_support::OwnSidecar;
use sentinel::adjudication::{
    Adjudication, AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient,
};
use sentinel::provenance::TrustedKeys;
use sentinel::{Context, Denied, SentinelClient, Verdict};
use serde_json::{json, Value};

const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";
const POLICY: &str = "fintech.payments";

fn executor() -> ExecutorKey {
    ExecutorKey::from_seed([11; 32], "live-receipt-attacks")
}

/// A `--protocol` sidecar trusting this test's executor.
fn sidecar() -> Option<OwnSidecar> {
    let setting = format!("SENTINEL_PROTOCOL_EXECUTOR_KEYS={}", executor().sidecar_setting());
    OwnSidecar::start(&["--protocol", &setting])
}

/// An executor talking to `endpoint`, the issuer pinned by its key id only.
fn receipts(endpoint: &str) -> ReceiptClient {
    let client = SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    ReceiptClient::new(
        client,
        TrustedKeys::new().with_key_id(KEY_ID).unwrap(),
        executor(),
    )
}

fn payment(amount: u64) -> AdjudicationRequest {
    let action = CanonicalAction::new(
        "payment",
        "core-banking",
        "transfer",
        "agent-7",
        json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}),
    )
    .unwrap();
    AdjudicationRequest::new(action, Context::new("run-attacks"), POLICY)
}

/// Runs `adjudication`'s receipt for `request`; the body counts its runs.
fn run(
    client: &ReceiptClient,
    adjudication: &Adjudication,
    request: &AdjudicationRequest,
    runs: &AtomicUsize,
) -> Result<(), Denied> {
    client.execute_receipt(adjudication, request, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Denied>(())
    })
}

fn denied_with(result: Result<(), Denied>, expected: &str) {
    let denied = result.expect_err("the body must not run");
    assert!(
        denied.reason().contains(expected),
        "expected {expected:?}: {}",
        denied.reason()
    );
}

/// A proxy that rewrites what an adjudication asks the policy (`guard`), leaving the
/// `action` the receipt binds.
fn rewriting_guard(endpoint: &str, rewrite: impl Fn(&mut Value) + Send + Sync + 'static) -> RewritingProxy {
    RewritingProxy::start(
        endpoint,
        move |path, body| {
            if path != "/v1/adjudications" {
                return false;
            }
            rewrite(body);
            true
        },
        |_, _| false,
    )
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn the_policy_judging_another_payload_than_the_receipt_binds_runs_no_body() {
    let Some(sidecar) = sidecar() else {
        return;
    };
    let runs = AtomicUsize::new(0);
    // A proxy turns the amount the policy sees from 60 000 (escalated above 25 000) into 100.
    let proxy = rewriting_guard(&sidecar.endpoint(), |body| {
        body["guard"]["action"]["payload"]["amount"] = json!(100);
    });
    let through_proxy = receipts(&proxy.endpoint());
    let request = payment(60_000);
    let result = through_proxy.execute(&request, || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Denied>(())
    });
    denied_with(result, "another action");

    // An agent that posts its own adjudication (guard 100, action 1 000 000) and hands the
    // genuine receipt it got to the executor.
    let proxy = rewriting_guard(&sidecar.endpoint(), |body| {
        body["guard"]["action"]["payload"]["amount"] = json!(100);
    });
    let million = payment(1_000_000);
    let adjudication = receipts(&proxy.endpoint()).adjudicate(&million).unwrap();
    assert_eq!(
        adjudication.verdict,
        Verdict::Allow,
        "the sidecar issued a receipt for it"
    );
    let executor = receipts(&sidecar.endpoint());
    denied_with(run(&executor, &adjudication, &million, &runs), "another action");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn a_guard_under_another_policy_than_the_manifest_runs_no_body() {
    let Some(sidecar) = sidecar() else {
        return;
    };
    let runs = AtomicUsize::new(0);
    // The guard runs under healthcare.record_write (no payment rules: ALLOW for 60 000),
    // the receipt commits to the manifest of fintech.payments.
    let proxy = rewriting_guard(&sidecar.endpoint(), |body| {
        body["guard"]["policy"] = json!("healthcare.record_write");
    });
    let request = payment(60_000);
    let adjudication = receipts(&proxy.endpoint()).adjudicate(&request).unwrap();
    assert_eq!(adjudication.verdict, Verdict::Allow);
    denied_with(
        run(&receipts(&sidecar.endpoint()), &adjudication, &request, &runs),
        "the policy that judged is not fintech.payments",
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT; .ci/run sets it)"]
fn unsigned_validation_answers_and_chosen_max_executions_run_no_extra_body() {
    let Some(sidecar) = sidecar() else {
        return;
    };
    let runs = AtomicUsize::new(0);

    // A proxy that says every validation succeeded, first execution: one receipt, three
    // tries in one process, one run.
    let always_ok = RewritingProxy::answers(&sidecar.endpoint(), |path, answer| {
        if path != "/v1/receipts/validate" {
            return false;
        }
        *answer = json!({"ok": true, "executionCount": 1});
        true
    });
    let client = receipts(&always_ok.endpoint());
    let request = payment(100);
    let adjudication = client.adjudicate(&request).unwrap();
    run(&client, &adjudication, &request, &runs).unwrap();
    for _ in 0..2 {
        denied_with(
            run(&client, &adjudication, &request, &runs),
            "already backed an execution",
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    // A requester that chose maxExecutions 3: this executor asked for a single-use receipt.
    let proxy = RewritingProxy::start(
        &sidecar.endpoint(),
        |path, body| {
            if path != "/v1/adjudications" {
                return false;
            }
            body["maxExecutions"] = json!(3);
            true
        },
        |_, _| false,
    );
    let request = payment(101);
    let adjudication = receipts(&proxy.endpoint()).adjudicate(&request).unwrap();
    assert_eq!(adjudication.receipt.as_ref().unwrap().max_executions(), 3);
    denied_with(
        run(&receipts(&sidecar.endpoint()), &adjudication, &request, &runs),
        "allows 3 runs, this request asked for 1",
    );

    // A validation answer of execution 5 of a single-use receipt.
    let fifth = RewritingProxy::answers(&sidecar.endpoint(), |path, answer| {
        if path != "/v1/receipts/validate" || answer["ok"] != true {
            return false;
        }
        answer["executionCount"] = json!(5);
        true
    });
    let client = receipts(&fifth.endpoint());
    let request = payment(102);
    let adjudication = client.adjudicate(&request).unwrap();
    denied_with(
        run(&client, &adjudication, &request, &runs),
        "execution 5 of a receipt allowing 1",
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1, "no attack ran a body");
}
