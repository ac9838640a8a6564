//! A soak against the real sidecar (a sidecar of the test's own, `SENTINEL_SIDECAR_SCRIPT`),
//! killed and restarted mid-run by its script: 16 threads guard actions that are each unique
//! (their payload, so their fingerprint, names the thread and the call); every ALLOW is
//! verified against the sidecar's signed record of that very action, so no ALLOW stands that
//! the sidecar did not give; while it is down every guard fails closed; once it is back the
//! client recovers by itself, with no new client. The figures go to RELIABILITY.md
//! (`SENTINEL_WRITE_RELIABILITY=1`) and `target/reliability-live-restart.md`.

mod live_support;
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use live_support::{pinned_keys, OwnSidecar};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

const THREADS: u64 = 16;
/// Each thread's calls are bounded in count as well as in time.
const MAX_CALLS_PER_THREAD: u64 = 1_500;
/// An agent whose tool was refused does not call it again at once.
const PAUSE_AFTER_FALLBACK: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Tally {
    real_allow: AtomicU64,
    real_other: AtomicU64,
    fallback: AtomicU64,
    /// Real ALLOWs after the restarted sidecar answered its first probe.
    allow_after_restart: AtomicU64,
}

#[test]
#[ignore = "needs a real sidecar (SENTINEL_SIDECAR_SCRIPT starts one; .ci/run sets it)"]
fn the_real_sidecar_killed_and_restarted_mid_run() {
    let Some(mut sidecar) = OwnSidecar::start(&[]) else {
        return;
    };
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(Duration::from_secs(5))
        .verify_decisions(pinned_keys())
        .build()
        .unwrap();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
    // The kinds of fallback reasons seen (digits dropped), a few.
    let reasons: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();

    let workers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let reasons = Arc::clone(&reasons);
            let (client, tally, stop, restarted, wrong) = (
                client.clone(),
                Arc::clone(&tally),
                Arc::clone(&stop),
                Arc::clone(&restarted),
                Arc::clone(&wrong),
            );
            std::thread::spawn(move || {
                for call in 0..MAX_CALLS_PER_THREAD {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let after_restart = restarted.load(Ordering::SeqCst);
                    // Unique per thread and call (below the 25 000 that escalates).
                    let amount = 1 + thread * MAX_CALLS_PER_THREAD + call;
                    let action =
                        Action::payment(json!({"amount": amount, "from": "acct_ops", "to": "vendor_42"}))
                            .with_id(format!("act_soak_{thread}_{call}"));
                    let decision = client.guard(
                        &action,
                        &Context::new(format!("soak-{thread}")),
                        "fintech.payments",
                    );
                    match (decision.verdict(), decision.is_fallback()) {
                        (Verdict::Allow, false) => {
                            tally.real_allow.fetch_add(1, Ordering::Relaxed);
                            if after_restart {
                                tally.allow_after_restart.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        (Verdict::Allow, true) => wrong
                            .lock()
                            .unwrap()
                            .push(format!("fail-open ALLOW: {decision:?}")),
                        (_, false) => {
                            tally.real_other.fetch_add(1, Ordering::Relaxed);
                            wrong.lock().unwrap().push(format!("{amount}: {decision:?}"));
                        }
                        (_, true) => {
                            tally.fallback.fetch_add(1, Ordering::Relaxed);
                            let reason = decision.reason().unwrap_or_default();
                            let mut reasons = reasons.lock().unwrap();
                            let key: String =
                                reason.chars().filter(|c| !c.is_ascii_digit()).take(90).collect();
                            if reasons.len() < 8 && !reasons.contains(&key) {
                                reasons.push(key);
                            }
                            drop(reasons);
                            std::thread::sleep(PAUSE_AFTER_FALLBACK);
                        }
                    }
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(5));
    let killed_at = started.elapsed();
    let before_kill = tally.real_allow.load(Ordering::Relaxed);
    sidecar.kill();
    std::thread::sleep(Duration::from_secs(2));
    sidecar.restart(&[]);
    restarted.store(true, Ordering::SeqCst);
    let back_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.join().unwrap();
    }
    let wall = started.elapsed();

    let (allow, other, fallback, recovered) = (
        tally.real_allow.load(Ordering::Relaxed),
        tally.real_other.load(Ordering::Relaxed),
        tally.fallback.load(Ordering::Relaxed),
        tally.allow_after_restart.load(Ordering::Relaxed),
    );
    let report = format!(
        "| threads | calls | verified ALLOW | fallback BLOCK | other | ALLOW before kill | ALLOW after restart | killed at | back at | wall |\n\
         |---|---|---|---|---|---|---|---|---|---|\n\
         | {THREADS} | {} | {allow} | {fallback} | {other} | {before_kill} | {recovered} | {:.1} s | {:.1} s | {:.1} s |\n\n\
         Every ALLOW was verified against the restarted or original sidecar's signed record of that \
         action (`verify_decisions`, pinned key); a fallback is a fail-closed BLOCK while the sidecar \
         was down or restarting, or too slow (5 s deadline, a 50 ms pause after each).",
        allow + other + fallback,
        killed_at.as_secs_f64(),
        back_at.as_secs_f64(),
        wall.as_secs_f64(),
    );
    let reasons = reasons.lock().unwrap().join("`, `");
    let report = format!("{report}\n\nKinds of fallback reasons seen (digits removed): `{reasons}`.");
    // RELIABILITY.md quotes these figures from a run against the real sidecar.
    println!("figures:\n{report}");

    let wrong = wrong.lock().unwrap();
    assert!(
        wrong.is_empty(),
        "{} unexpected outcomes, first: {:?}",
        wrong.len(),
        wrong.first()
    );
    assert!(before_kill > 0, "the sidecar answered before it was killed");
    assert!(fallback > 0, "the kill was seen (guards failed closed)");
    assert!(recovered > 0, "the client recovered by itself after the restart");
}
