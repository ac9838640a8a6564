//! The benchmark report: medians, p99s, allocation counts and ratios against a baseline
//! measured in the same run, printed as markdown tables (BENCHMARKS.md explains them).
//!
//! ```text
//! cargo bench -p sentinel-benches --bench report                          # every section, ~2 min
//! cargo bench -p sentinel-benches --bench report -- loopback attribute    # some sections
//! cargo bench -p sentinel-benches --bench report -- --quick               # a tenth of the samples (a smoke run)
//! taskset -c 0 cargo bench -p sentinel-benches --bench report -- cpu async  # everything on one core
//! ```
//!
//! The `loopback` section pins its own threads (client and server on one core, then on two),
//! so it needs no `taskset`; under `taskset -c 0` it can only do the first.
//!
//! Sections: `cpu`, `loopback`, `connections`, `attribute`, `async`, `throughput`; and,
//! not run by default, `profile` (200 000 in-process guards and nothing else, for
//! `valgrind --tool=callgrind`) and `profile-http` (50 000 guards over loopback, for `perf`).
//!
//! Every timed loop is bounded in count or time; the loopback server listens on 127.0.0.1
//! only and stops with the run. Nothing here asserts on time.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{
    http_client, in_process_client, lean_client, pin_current_thread, recorded_body, typical_action,
    typical_context, usable_cores, GuardRequest, PlainUreq, RawClient, Server, ALLOW_CASE, LARGEST_CASE,
    POLICY,
};
use sentinel::{Action, Context, Denied, GuardDecision, SentinelClient};
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Counting allocator

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static REALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting allocations (`alloc`, `alloc_zeroed`), reallocations and
/// bytes requested.
struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size.saturating_sub(layout.size()) as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap traffic of one call of `f`, averaged over `n` calls (single-threaded use only).
#[derive(Clone, Copy)]
struct Heap {
    allocations: f64,
    reallocations: f64,
    bytes: f64,
}

fn heap_per_call(n: u64, mut f: impl FnMut()) -> Heap {
    let before = (
        ALLOCATIONS.load(Ordering::SeqCst),
        REALLOCATIONS.load(Ordering::SeqCst),
        BYTES.load(Ordering::SeqCst),
    );
    for _ in 0..n {
        f();
    }
    let per = |now: u64, then: u64| (now - then) as f64 / n as f64;
    Heap {
        allocations: per(ALLOCATIONS.load(Ordering::SeqCst), before.0),
        reallocations: per(REALLOCATIONS.load(Ordering::SeqCst), before.1),
        bytes: per(BYTES.load(Ordering::SeqCst), before.2),
    }
}

// ---------------------------------------------------------------------------------------
// Timing

/// Per-call latencies in nanoseconds.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    /// Times `n` calls of `f`, one by one.
    fn take(&mut self, n: usize, mut f: impl FnMut()) {
        self.0.reserve(n);
        for _ in 0..n {
            let started = Instant::now();
            f();
            self.0.push(started.elapsed().as_nanos() as u64);
        }
    }

    fn stats(&mut self) -> Stats {
        self.0.sort_unstable();
        let at = |q: f64| self.0[((self.0.len() - 1) as f64 * q).round() as usize] as f64;
        Stats {
            median: at(0.5),
            p99: at(0.99),
            count: self.0.len(),
        }
    }
}

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    p99: f64,
    count: usize,
}

fn ns(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} µs", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.2} µs", v / 1000.0)
    } else {
        format!("{v:.0} ns")
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// How many samples to take: `full`, or a tenth with `--quick`.
struct Scale {
    quick: bool,
}

impl Scale {
    fn n(&self, full: usize) -> usize {
        if self.quick {
            (full / 10).max(1)
        } else {
            full
        }
    }
}

// ---------------------------------------------------------------------------------------
// Guarded functions under test

#[sentinel::guarded(policy = "p", kind = "k", client = client)]
fn pay_sync(client: &SentinelClient, amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    let _ = (from, to);
    Ok(amount)
}

#[sentinel::guarded(policy = "p", kind = "k", client = client)]
async fn pay_async(client: &SentinelClient, amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    let _ = (from, to);
    Ok(amount)
}

/// What a user writes: no `client =`, so the global client (`sentinel::init`) is asked.
#[sentinel::guarded(policy = "p", kind = "k")]
fn pay_global(amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    let _ = (from, to);
    Ok(amount)
}

/// What `pay_sync` does, written by hand.
fn pay_by_hand(client: &SentinelClient, amount: u64, from: &str, to: &str) -> Result<u64, Denied> {
    let action = Action::of("k", json!({"amount": amount, "from": from, "to": to}));
    let decision = client.guard(&action, &Context::current(), "p");
    if !decision.allowed() {
        return Err(Denied::new(decision, "k", "p"));
    }
    Ok(amount)
}

// ---------------------------------------------------------------------------------------
// Sections

/// 1. Client-side CPU per guard, no network.
fn cpu(scale: &Scale) {
    println!("## 1. Client-side CPU per guard (in-process transport, no network)\n");
    let allow = recorded_body(ALLOW_CASE);
    let largest = recorded_body(LARGEST_CASE);
    let allow_client = in_process_client(allow.clone());
    let largest_client = in_process_client(largest.clone());
    let (action, context) = (typical_action(), typical_context());
    assert!(allow_client.guard(&action, &context, POLICY).allowed());
    assert!(!largest_client.guard(&action, &context, POLICY).is_fallback());

    type Op<'a> = (String, Box<dyn FnMut() + 'a>);
    let mut ops: Vec<Op<'_>> = vec![
        (
            "timer only (`Instant::now` + `elapsed`, subtract nothing)".into(),
            Box::new(|| {}),
        ),
        (
            format!("`client.guard`, {ALLOW_CASE} ({} B)", allow.len()),
            Box::new(|| {
                let _ = black_box(allow_client.guard(black_box(&action), black_box(&context), POLICY));
            }),
        ),
        (
            format!("`client.guard`, {LARGEST_CASE} ({} B)", largest.len()),
            Box::new(|| {
                let _ = black_box(largest_client.guard(black_box(&action), black_box(&context), POLICY));
            }),
        ),
        (
            format!("new `Action` + `client.guard`, {ALLOW_CASE}"),
            Box::new(|| {
                let _ = black_box(allow_client.guard(&typical_action(), black_box(&context), POLICY));
            }),
        ),
        (
            format!("`GuardDecision::from_json`, {ALLOW_CASE}"),
            Box::new(|| {
                black_box(GuardDecision::from_json(black_box(&allow)).is_ok());
            }),
        ),
        (
            format!("`GuardDecision::from_json`, {LARGEST_CASE}"),
            Box::new(|| {
                black_box(GuardDecision::from_json(black_box(&largest)).is_ok());
            }),
        ),
        (
            "request serialization (`serde_json::to_vec`)".into(),
            Box::new(|| {
                black_box(serde_json::to_vec(&GuardRequest {
                    action: black_box(&action),
                    context: black_box(&context),
                    policy: POLICY,
                }))
                .ok();
            }),
        ),
        (
            "`Action::payment(json!({amount, from, to}))`".into(),
            Box::new(|| {
                black_box(typical_action());
            }),
        ),
    ];

    let heap: Vec<Heap> = ops.iter_mut().map(|(_, op)| heap_per_call(1000, op)).collect();
    let mut samples: Vec<Samples> = ops.iter().map(|_| Samples::default()).collect();
    // Rounds interleave the operations so that a load spike hits them all alike.
    let (rounds, per_round) = (20, scale.n(10_000));
    for _ in 0..rounds {
        for ((_, op), samples) in ops.iter_mut().zip(&mut samples) {
            samples.take(per_round, op);
        }
    }
    println!("| operation | median | p99 | allocations | reallocations | bytes allocated |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (((name, _), samples), heap) in ops.iter().zip(&mut samples).zip(heap) {
        let stats = samples.stats();
        println!(
            "| {name} | {} | {} | {:.1} | {:.1} | {:.0} |",
            ns(stats.median),
            ns(stats.p99),
            heap.allocations,
            heap.reallocations,
            heap.bytes
        );
    }
    println!(
        "\n{} samples per row, timed one call at a time (the timer row is the cost of timing itself). load: {}\n",
        rounds * per_round,
        load_average()
    );
}

/// 2. Loopback round trip with keep-alive vs a raw HTTP/1.1 client sending the same bytes.
fn loopback(scale: &Scale) {
    println!("## 2. Loopback round trip, keep-alive: guard vs raw HTTP/1.1 baseline\n");
    // Where the scheduler puts the two ends decides a loopback round trip on a VM (an idle
    // vCPU woken for every message costs more than everything else here), so each run pins
    // them: on one core, then on two.
    let cores = usable_cores();
    let mut placements = vec![("client and server on one core", cores[0], cores[0])];
    if let Some(&other) = cores.get(1) {
        placements.push(("client and server on two cores", cores[0], other));
    }
    for (title, client_core, server_core) in placements {
        println!("### {title}\n");
        std::thread::scope(|s| {
            s.spawn(|| {
                pin_current_thread(client_core);
                loopback_placed(scale, server_core);
            });
        });
    }
}

fn loopback_placed(scale: &Scale, server_core: usize) {
    let body = recorded_body(ALLOW_CASE);
    let server = Server::start_on(&body, Some(server_core));
    let client = http_client(&server.endpoint());
    let lean = lean_client(&server.endpoint());
    let (action, context) = (typical_action(), typical_context());
    for _ in 0..2000 {
        assert!(client.guard(&action, &context, POLICY).allowed());
        assert!(lean.guard(&action, &context, POLICY).allowed());
    }
    let request = server.first_request().expect("the server saw a request");
    let mut raw = RawClient::connect(server.addr());
    assert_eq!(raw.round_trip(&request), &body[..]);
    for _ in 0..2000 {
        black_box(raw.round_trip(&request));
    }

    let head_len = request.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let plain = PlainUreq::new(&server.endpoint());
    assert_eq!(plain.post(&request[head_len..]), body);
    let (mut baseline, mut split, mut plain_ureq, mut guard, mut guard_new_action, mut guard_lean) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    let (rounds, per_round) = (40, scale.n(500));
    for round in 0..rounds {
        let mut base = || {
            baseline.take(per_round, || {
                black_box(raw.round_trip(&request));
            });
            split.take(per_round, || {
                black_box(raw.round_trip_split(&request, head_len));
            });
            plain_ureq.take(per_round, || {
                black_box(plain.post(&request[head_len..]));
            });
        };
        let mut ours = || {
            guard.take(per_round, || {
                let _ = black_box(client.guard(&action, &context, POLICY));
            });
            guard_new_action.take(per_round, || {
                let _ = black_box(client.guard(&typical_action(), &context, POLICY));
            });
            guard_lean.take(per_round, || {
                let _ = black_box(lean.guard(&action, &context, POLICY));
            });
        };
        // Alternate who goes first so that neither always follows the other.
        if round % 2 == 0 {
            base();
            ours();
        } else {
            ours();
            base();
        }
    }
    let base = baseline.stats();
    println!(
        "request: {} bytes ({} head + body), response: {} bytes of body\n",
        request.len(),
        head_len,
        body.len()
    );
    println!("| client | median | p99 | median ratio | p99 ratio |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| raw `TcpStream`, same request bytes (baseline) | {} | {} | 1.00 | 1.00 |",
        ns(base.median),
        ns(base.p99)
    );
    for (name, samples) in [
        (
            "raw `TcpStream`, head and body in two writes (as ureq sends them)",
            &mut split,
        ),
        (
            "plain `ureq` POST of the same body, default agent (the HTTP client alone)",
            &mut plain_ureq,
        ),
        ("`client.guard` (ureq, pooled)", &mut guard),
        ("new `Action` + `client.guard`", &mut guard_new_action),
        (
            "`client.guard`, prototype std transport (benches/common/lean.rs)",
            &mut guard_lean,
        ),
    ] {
        let s = samples.stats();
        println!(
            "| {name} | {} | {} | **{:.2}×** | {:.2}× |",
            ns(s.median),
            ns(s.p99),
            s.median / base.median,
            s.p99 / base.p99
        );
    }
    println!(
        "\n{} samples per row, interleaved in {rounds} rounds. connections opened by the client: {:?} (prototype: {:?}); accepted by the server: {} (one of them the baseline's). load: {}\n",
        base.count,
        client.connections_opened(),
        lean.connections_opened(),
        server.accepted(),
        load_average()
    );
}

/// 3. Connection reuse: sequential and 8 threads sharing one client.
fn connections(scale: &Scale) {
    println!("## 3. Connection reuse\n");
    let body = recorded_body(ALLOW_CASE);
    let context = typical_context();
    println!(
        "| workload | guards | not ALLOW | connections opened (client) | accepted (server) | wall time |"
    );
    println!("|---|---:|---:|---:|---:|---:|");

    let server = Server::start(&body);
    let client = http_client(&server.endpoint());
    let n = scale.n(10_000);
    let started = Instant::now();
    let denied = (0..n)
        .filter(|_| !client.guard(&typical_action(), &context, POLICY).allowed())
        .count();
    println!(
        "| sequential, one thread | {n} | {denied} | {} | {} | {:.2?} |",
        client.connections_opened().unwrap_or(0),
        server.accepted(),
        started.elapsed()
    );
    drop(client);
    drop(server);

    let threads = 8;
    let server = Server::start(&body);
    let client = http_client(&server.endpoint());
    let per_thread = scale.n(2000);
    let barrier = Barrier::new(threads);
    let started = Instant::now();
    let denied: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    (0..per_thread)
                        .filter(|_| !client.guard(&typical_action(), &context, POLICY).allowed())
                        .count()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a guard thread"))
            .sum()
    });
    println!(
        "| {threads} threads, one shared client (pool size 16) | {} | {denied} | {} | {} | {:.2?} |",
        threads * per_thread,
        client.connections_opened().unwrap_or(0),
        server.accepted(),
        started.elapsed()
    );
    println!("\nload: {}\n", load_average());
}

/// 4. `#[guarded]` vs the same call by hand, in-process transport.
fn attribute(scale: &Scale) {
    println!("## 4. Attribute overhead: `#[sentinel::guarded]` vs `client.guard` by hand\n");
    let client = in_process_client(recorded_body(ALLOW_CASE));
    let context = typical_context();
    context.scope(|| {
        assert_eq!(pay_sync(&client, 100, "acct_ops", "vendor_42").ok(), Some(100));
        assert_eq!(pay_by_hand(&client, 100, "acct_ops", "vendor_42").ok(), Some(100));
        let guarded = || {
            black_box(pay_sync(&client, black_box(100), black_box("acct_ops"), black_box("vendor_42")).is_ok());
        };
        let by_hand = || {
            black_box(pay_by_hand(&client, black_box(100), black_box("acct_ops"), black_box("vendor_42")).is_ok());
        };
        let heap_guarded = heap_per_call(1000, guarded);
        let heap_by_hand = heap_per_call(1000, by_hand);
        let (mut a, mut b) = (Samples::default(), Samples::default());
        let (rounds, per_round) = (40, scale.n(5000));
        for round in 0..rounds {
            if round % 2 == 0 {
                a.take(per_round, guarded);
                b.take(per_round, by_hand);
            } else {
                b.take(per_round, by_hand);
                a.take(per_round, guarded);
            }
        }
        let (a, b) = (a.stats(), b.stats());
        println!("| call | median | p99 | allocations |");
        println!("|---|---:|---:|---:|");
        println!(
            "| by hand: `Action::of(json!)` + `client.guard` + `Denied` on refusal | {} | {} | {:.1} |",
            ns(b.median),
            ns(b.p99),
            heap_by_hand.allocations
        );
        println!(
            "| `#[sentinel::guarded(policy = \"p\", kind = \"k\", client = client)]` | {} | {} | {:.1} |",
            ns(a.median),
            ns(a.p99),
            heap_guarded.allocations
        );
        println!(
            "\noverhead of the attribute: **{:+.0} ns ({:+.1} %)** at the median. {} samples each, interleaved. load: {}\n",
            a.median - b.median,
            (a.median / b.median - 1.0) * 100.0,
            a.count,
            load_average()
        );
    });
}

/// 5. A guarded `async fn` on tokio (current-thread and multi-threaded) vs the sync path.
fn asynchronous(scale: &Scale) {
    println!("## 5. Async: guarded `async fn` vs the sync guarded fn\n");
    let body = recorded_body(ALLOW_CASE);
    let server = Server::start(&body);
    let in_process: &'static SentinelClient = Box::leak(Box::new(in_process_client(body.clone())));
    let loopback: &'static SentinelClient = Box::leak(Box::new(http_client(&server.endpoint())));
    let current = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let multi = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("a runtime");

    println!("| transport | sync fn median | async, current-thread: median (p99) | added | async, multi-thread: median (p99) | added |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, client, full) in [
        ("in-process", in_process, 20_000),
        ("loopback HTTP", loopback, 5_000),
    ] {
        let n = scale.n(full);
        let sync_call = || {
            black_box(pay_sync(client, 100, "acct_ops", "vendor_42").is_ok());
        };
        let timed_async = move || async move {
            let mut samples = Samples::default();
            for _ in 0..n {
                let started = Instant::now();
                black_box(pay_async(client, 100, "acct_ops", "vendor_42").await.is_ok());
                samples.0.push(started.elapsed().as_nanos() as u64);
            }
            samples
        };
        // Warm up (the blocking pool's threads, the connection pool).
        for _ in 0..1000 {
            sync_call();
        }
        current.block_on(async {
            for _ in 0..1000 {
                assert!(pay_async(client, 100, "acct_ops", "vendor_42").await.is_ok());
            }
        });
        let (mut sync, mut on_current, mut on_multi) =
            (Samples::default(), Samples::default(), Samples::default());
        for _ in 0..4 {
            sync.take(n / 4, sync_call);
            on_current.0.extend(current.block_on(timed_async()).0);
            on_multi
                .0
                .extend(multi.block_on(multi.spawn(timed_async())).expect("the task").0);
        }
        let (s, c, m) = (sync.stats(), on_current.stats(), on_multi.stats());
        println!(
            "| {name} | {} | {} ({}) | **{}** | {} ({}) | **{}** |",
            ns(s.median),
            ns(c.median),
            ns(c.p99),
            ns(c.median - s.median),
            ns(m.median),
            ns(m.p99),
            ns(m.median - s.median)
        );
    }
    println!(
        "\nThe async path runs the guard on the runtime's small blocking pool (`sentinel-guard` threads) and wakes the task. load: {}\n",
        load_average()
    );
    drop(current);
    multi.shutdown_timeout(Duration::from_secs(1));
}

/// 6. Throughput with 1, 2, 4 and 8 threads sharing one client.
fn throughput(scale: &Scale) {
    println!("## 6. Throughput: threads sharing the global client against the in-bench server\n");
    let body = recorded_body(ALLOW_CASE);
    let context = typical_context();
    let window = if scale.quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(2)
    };
    let server = Server::start(&body);
    // The client every `#[guarded]` function without `client =` uses, as in an application.
    sentinel::init(http_client(&server.endpoint())).expect("the global client is set only here");
    let global = sentinel::client().expect("just set");
    // Counted per row, the first with its warm-up. The previous row's connections idle past
    // the pool's 4 s while the other clients run, so each row opens its own.
    let mut opened_before = 0;
    for _ in 0..200 {
        assert!(pay_global(100, "acct_ops", "vendor_42").is_ok());
    }
    let request = server.first_request().expect("a request");
    println!("| threads | guarded calls/s | median | p99 | connections opened in the row | raw baseline calls/s (a connection per thread) | ratio | prototype transport guards/s | ratio |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for threads in [1, 2, 4, 8] {
        let (rate, mut samples) = run_threads(threads, window, || {
            Box::new(|| {
                black_box(pay_global(100, "acct_ops", "vendor_42").is_ok());
            })
        });
        let lean = lean_client(&server.endpoint());
        let (lean_rate, _) = run_threads(threads, window, || {
            Box::new(|| {
                black_box(lean.guard(&typical_action(), &context, POLICY).allowed());
            })
        });
        let (raw_rate, _) = run_threads(threads, window, || {
            let mut raw = RawClient::connect(server.addr());
            let request = request.clone();
            Box::new(move || {
                black_box(raw.round_trip(&request));
            })
        });
        let stats = samples.stats();
        println!(
            "| {threads} | {rate:.0} | {} | {} | {} | {raw_rate:.0} | {:.2} | {lean_rate:.0} | {:.2} |",
            ns(stats.median),
            ns(stats.p99),
            global.connections_opened().unwrap_or(0) - opened_before,
            rate / raw_rate,
            lean_rate / raw_rate
        );
        opened_before = global.connections_opened().unwrap_or(0);
    }
    println!(
        "\n{:.1} s per row and client; `#[guarded]` functions on the global client; the server runs in the same process (a thread per connection) on the same {} core(s). load: {}\n",
        window.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
}

/// Runs `threads` threads for `window`, each calling the step `make` gives it in a loop;
/// returns calls per second and every call's latency.
fn run_threads<'a>(
    threads: usize,
    window: Duration,
    make: impl Fn() -> Box<dyn FnMut() + 'a> + Sync,
) -> (f64, Samples) {
    let barrier = Barrier::new(threads);
    let started = Instant::now();
    let all: Vec<Samples> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut step = make();
                    let mut samples = Samples::default();
                    barrier.wait();
                    let end = Instant::now() + window;
                    while Instant::now() < end {
                        samples.take(1, &mut step);
                    }
                    samples
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a thread")).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut merged = Samples::default();
    for s in all {
        merged.0.extend(s.0);
    }
    (merged.0.len() as f64 / elapsed, merged)
}

/// For `valgrind --tool=callgrind`: in-process guards and nothing else.
fn profile(scale: &Scale) {
    let client = in_process_client(recorded_body(ALLOW_CASE));
    let (action, context) = (typical_action(), typical_context());
    let n = scale.n(200_000);
    let allowed = (0..n)
        .filter(|_| black_box(client.guard(black_box(&action), black_box(&context), POLICY)).allowed())
        .count();
    println!("profile: {allowed} of {n} in-process guards allowed");
}

/// For profilers: guards over loopback through the default transport and nothing else.
fn profile_http(scale: &Scale) {
    let server = Server::start(&recorded_body(ALLOW_CASE));
    let client = http_client(&server.endpoint());
    let (action, context) = (typical_action(), typical_context());
    let n = scale.n(50_000);
    let allowed = (0..n)
        .filter(|_| black_box(client.guard(black_box(&action), black_box(&context), POLICY)).allowed())
        .count();
    println!("profile-http: {allowed} of {n} loopback guards allowed");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale = Scale {
        quick: args.iter().any(|a| a == "--quick"),
    };
    let chosen: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    type Section = fn(&Scale);
    let sections: [(&str, Section, bool); 8] = [
        ("cpu", cpu, true),
        ("loopback", loopback, true),
        ("connections", connections, true),
        ("attribute", attribute, true),
        ("async", asynchronous, true),
        ("throughput", throughput, true),
        ("profile", profile, false),
        ("profile-http", profile_http, false),
    ];
    println!(
        "# sentinel benchmark report\n\n{} cores; load at start: {}{}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        if scale.quick {
            "; --quick (a tenth of the samples)"
        } else {
            ""
        }
    );
    for (name, section, by_default) in sections {
        if (chosen.is_empty() && by_default) || chosen.contains(&name) {
            section(&scale);
        }
    }
}
