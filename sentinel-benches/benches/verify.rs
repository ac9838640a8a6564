//! What verifying an ALLOW costs per guard (BENCHMARKS.md, "Verified decisions"): the same
//! guard with and without a pinned key, on loopback (the mock sidecar, which signs its records
//! as the real one does) and against a real sidecar (`SENTINEL_ENDPOINT`, default seed key).
//! Each action is unique (a verified ALLOW's record is used once). Prints medians, p90 and the
//! ratio; asserts only that the answers are right.
//!
//! `cargo bench -p sentinel-benches --bench verify` (`-- --calls N`, default 2000).

use std::time::{Duration, Instant};

use sentinel::testing::MockSidecar;
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

const KEY_ID: &str = "ed25519:56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c";

fn client(endpoint: &str, pinned: bool) -> SentinelClient {
    let builder = SentinelClient::builder(endpoint).timeout(Duration::from_secs(10));
    if pinned {
        builder.trusted_key_id(KEY_ID).build().unwrap()
    } else {
        builder.build().unwrap()
    }
}

/// Per-call times of `calls` guards, alternating unverified and verified in rounds so drift
/// of the machine hits both alike.
fn measure(endpoint: &str, calls: u64, offset: u64) -> (Vec<Duration>, Vec<Duration>) {
    let (plain, verified) = (client(endpoint, false), client(endpoint, true));
    let context = Context::new("bench-verify");
    let (mut plain_times, mut verified_times) = (Vec::new(), Vec::new());
    for call in 0..calls {
        for (which, times) in [(&plain, &mut plain_times), (&verified, &mut verified_times)] {
            let amount = offset + call * 2 + u64::from(std::ptr::eq(which, &verified));
            let action = Action::payment(
                json!({"amount": 1 + amount % 20_000, "from": "acct_ops", "to": "vendor_42"}),
            );
            let started = Instant::now();
            let decision = which.guard(&action, &context, "fintech.payments");
            times.push(started.elapsed());
            assert_eq!(decision.verdict(), Verdict::Allow, "{decision:?}");
        }
    }
    (plain_times, verified_times)
}

fn quantile(times: &mut [Duration], q: f64) -> Duration {
    times.sort_unstable();
    times[((times.len() - 1) as f64 * q) as usize]
}

fn report(what: &str, (mut plain, mut verified): (Vec<Duration>, Vec<Duration>)) {
    let (p50, v50) = (quantile(&mut plain, 0.5), quantile(&mut verified, 0.5));
    let (p90, v90) = (quantile(&mut plain, 0.9), quantile(&mut verified, 0.9));
    println!(
        "| {what} | {} | {:.1} µs | {:.1} µs | {:.1} µs | {:.1} µs | **{:.2}×** | {:.2}× |",
        plain.len(),
        p50.as_secs_f64() * 1e6,
        v50.as_secs_f64() * 1e6,
        p90.as_secs_f64() * 1e6,
        v90.as_secs_f64() * 1e6,
        v50.as_secs_f64() / p50.as_secs_f64(),
        v90.as_secs_f64() / p90.as_secs_f64(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls = args
        .iter()
        .position(|a| a == "--calls")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000_u64);
    println!("| sidecar | calls each | unverified median | verified median | unverified p90 | verified p90 | median ratio | p90 ratio |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mock = MockSidecar::allow_all();
    let _ = measure(&mock.endpoint(), 50, 1_000_000); // warm-up
    report("loopback (mock sidecar)", measure(&mock.endpoint(), calls, 0));
    match std::env::var("SENTINEL_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {
            let _ = measure(&endpoint, 20, 3_000_000);
            report(
                "real sidecar (SENTINEL_ENDPOINT)",
                measure(&endpoint, calls, 2_000_000),
            );
        }
        _ => println!("(real sidecar skipped: SENTINEL_ENDPOINT not set)"),
    }
}
