//! The sidecar's production deployment (`peers/README.md`): two `--protocol` replicas
//! sharing one PostgreSQL (`SENTINEL_POSTGRES_SCRIPT`, `SENTINEL_SIDECAR_SCRIPT`; `.ci/run`
//! sets both). One nonce ledger: a receipt validated on one replica is refused on the other.
//! One chain: the export of either verifies the records written through both. And a soak
//! spread over both, one of them killed and restarted mid-run, gives no wrong outcome.
#![cfg(feature = "verify")]

mod live_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use live_support::{pinned_keys, Replicas};
use sentinel::adjudication::{
    AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient, ReceiptError,
};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

fn client(endpoint: &str) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_secs(10))
        .verify_decisions(pinned_keys())
        .build()
        .unwrap()
}

fn receipts(endpoint: &str) -> ReceiptClient {
    ReceiptClient::new(
        client(endpoint),
        pinned_keys(),
        ExecutorKey::from_seed([9; 32], "live-replicas-test"),
    )
}

fn payment(amount: u64) -> Action {
    Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}))
}

#[test]
#[ignore = "needs a real sidecar and PostgreSQL (SENTINEL_SIDECAR_SCRIPT, SENTINEL_POSTGRES_SCRIPT; .ci/run sets them)"]
fn a_receipt_validated_on_one_replica_is_refused_on_the_other() {
    let Some(replicas) = Replicas::start() else {
        return;
    };
    let (on_a, on_b) = (receipts(&replicas.a.endpoint()), receipts(&replicas.b.endpoint()));
    let action = CanonicalAction::new(
        "payment",
        "core-banking",
        "transfer",
        "agent-7",
        json!({"amount": 120, "from": "acct_ops", "to": "vendor_42"}),
    )
    .unwrap();
    let request = AdjudicationRequest::new(action, Context::new("run-replicas"), "fintech.payments");
    let adjudication = on_a.adjudicate(&request).unwrap();
    assert_eq!(adjudication.verdict, Verdict::Allow, "{}", adjudication.reason);
    let receipt = adjudication.receipt.expect("an ALLOW carries a receipt");

    assert_eq!(on_a.validate(&receipt, &request.binding()).unwrap(), 1);
    match on_b.validate(&receipt, &request.binding()) {
        Err(ReceiptError::Rejected { code, .. }) => assert_eq!(code, "REPLAY_DETECTED"),
        other => panic!("replica B accepted a receipt replica A consumed: {other:?}"),
    }
    // And the other way round, with a fresh receipt issued by B.
    let receipt = on_b.adjudicate(&request).unwrap().receipt.unwrap();
    assert_eq!(on_b.validate(&receipt, &request.binding()).unwrap(), 1);
    assert!(matches!(
        on_a.validate(&receipt, &request.binding()),
        Err(ReceiptError::Rejected { .. })
    ));
}

#[test]
#[ignore = "needs a real sidecar and PostgreSQL (SENTINEL_SIDECAR_SCRIPT, SENTINEL_POSTGRES_SCRIPT; .ci/run sets them)"]
fn the_export_of_either_replica_verifies_the_records_written_through_both() {
    let Some(replicas) = Replicas::start() else {
        return;
    };
    let (a, b) = (client(&replicas.a.endpoint()), client(&replicas.b.endpoint()));
    let mut written = Vec::new();
    for call in 0..20_u64 {
        let through = if call % 2 == 0 { &a } else { &b };
        let decision = through.guard(
            &payment(100 + call),
            &Context::new("run-replicas-chain"),
            "fintech.payments",
        );
        assert_eq!(decision.verdict(), Verdict::Allow, "{decision:?}");
        written.push(decision.record_id().expect("a signed decision").to_owned());
    }
    for (name, reader) in [("A", &a), ("B", &b)] {
        let verified = reader
            .verify_export(&pinned_keys())
            .unwrap_or_else(|e| panic!("replica {name}: {e}"));
        assert_eq!(verified.records, 20, "replica {name}");
        // Each replica serves the records the other wrote.
        for record_id in &written {
            assert_eq!(reader.record(record_id).unwrap().id(), record_id);
        }
    }
}

/// Threads guard unique actions, each call through replica A or B in turn; A is killed and
/// restarted mid-run. Every ALLOW is verified against the signed record of that very
/// action; while A is down its calls fail closed and B's go on.
#[test]
#[ignore = "needs a real sidecar and PostgreSQL (SENTINEL_SIDECAR_SCRIPT, SENTINEL_POSTGRES_SCRIPT; .ci/run sets them)"]
fn a_soak_over_two_replicas_one_killed_and_restarted_has_no_wrong_outcome() {
    const THREADS: u64 = 8;
    const MAX_CALLS_PER_THREAD: u64 = 1_000;
    let Some(mut replicas) = Replicas::start() else {
        return;
    };
    let clients = [
        SentinelClient::builder(replicas.a.endpoint())
            .timeout(Duration::from_secs(5))
            .verify_decisions(pinned_keys())
            .build()
            .unwrap(),
        SentinelClient::builder(replicas.b.endpoint())
            .timeout(Duration::from_secs(5))
            .verify_decisions(pinned_keys())
            .build()
            .unwrap(),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let (allow, fallback) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let allow_through_b_while_a_down = Arc::new(AtomicU64::new(0));
    let a_down = Arc::new(AtomicBool::new(false));
    let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (clients, stop, allow, fallback, wrong, a_down, b_while) = (
                clients.clone(),
                Arc::clone(&stop),
                Arc::clone(&allow),
                Arc::clone(&fallback),
                Arc::clone(&wrong),
                Arc::clone(&a_down),
                Arc::clone(&allow_through_b_while_a_down),
            );
            std::thread::spawn(move || {
                for call in 0..MAX_CALLS_PER_THREAD {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let replica = ((thread + call) % 2) as usize;
                    let amount = 1 + thread * MAX_CALLS_PER_THREAD + call;
                    let action = payment(amount).with_id(format!("act_replicas_{thread}_{call}"));
                    let decision = clients[replica].guard(
                        &action,
                        &Context::new(format!("replicas-{thread}")),
                        "fintech.payments",
                    );
                    match (decision.verdict(), decision.is_fallback()) {
                        (Verdict::Allow, false) => {
                            allow.fetch_add(1, Ordering::Relaxed);
                            if replica == 1 && a_down.load(Ordering::SeqCst) {
                                b_while.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        (_, true) => {
                            fallback.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        _ => wrong
                            .lock()
                            .unwrap()
                            .push(format!("{amount} via {replica}: {decision:?}")),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    a_down.store(true, Ordering::SeqCst);
    replicas.a.kill();
    std::thread::sleep(Duration::from_secs(2));
    let args = Replicas::args(&replicas.postgres);
    replicas
        .a
        .restart(&args.iter().map(String::as_str).collect::<Vec<_>>());
    a_down.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(4));
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let (allow, fallback, b_while) = (
        allow.load(Ordering::Relaxed),
        fallback.load(Ordering::Relaxed),
        allow_through_b_while_a_down.load(Ordering::Relaxed),
    );
    println!(
        "replicas soak: {THREADS} threads, {allow} verified ALLOW, {fallback} fallback BLOCK, \
         {b_while} ALLOW through B while A was down, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let wrong = wrong.lock().unwrap();
    assert!(
        wrong.is_empty(),
        "{} wrong outcomes, first: {:?}",
        wrong.len(),
        wrong.first()
    );
    assert!(fallback > 0, "A's calls failed closed while it was down");
    assert!(b_while > 0, "B answered while A was down");
    // The chain both wrote to still verifies end to end.
    clients[1].verify_export(&pinned_keys()).unwrap();
}
