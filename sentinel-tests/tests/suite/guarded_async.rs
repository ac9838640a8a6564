//! Behaviour of `#[sentinel::guarded]` on `async fn`s: the guard is awaited without
//! blocking the executor, the context follows each task (`WithContextExt::with_context`),
//! and a future dropped before its guard completed never runs the body.
//!
//! Every test names its own client pointing at its own loopback mock (see `tests/guarded.rs`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, SentinelClient, Verdict, WithContextExt};
use serde_json::json;

/// Declares a mock sidecar answering by `rule` and a client pointing at it.
macro_rules! sidecar {
    ($mock:ident, $client:ident) => {
        sidecar!($mock, $client, |_| MockAnswer::allow());
    };
    ($mock:ident, $client:ident, $rule:expr) => {
        static $mock: LazyLock<MockSidecar> = LazyLock::new(|| MockSidecar::start($rule));
        static $client: LazyLock<SentinelClient> = LazyLock::new(|| {
            SentinelClient::builder($mock.endpoint())
                .timeout(Duration::from_secs(5))
                .build()
                .expect("a client for the mock")
        });
    };
}

/// A mock rule that answers ALLOW after 300 ms.
fn slow_allow(_: &sentinel::testing::MockRequest) -> MockAnswer {
    std::thread::sleep(Duration::from_millis(300));
    MockAnswer::allow()
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

#[test]
fn allow_runs_the_body_and_the_payload_is_sent() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT)]
    async fn pay(amount: u64, from: String, to: &str) -> Result<u64, Denied> {
        tokio::task::yield_now().await;
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = (from, to);
        Ok(amount)
    }

    let future = assert_send(pay(42_000, "acct_ops".into(), "vendor_42"));
    let amount = current_thread().block_on(future.with_context(Context::new("run-async")));
    assert_eq!(amount.unwrap(), 42_000);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    let requests = MOCK.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].payload,
        json!({"amount": 42_000, "from": "acct_ops", "to": "vendor_42"})
    );
    assert_eq!(requests[0].kind, "payment");
    assert_eq!(requests[0].run_id, "run-async");
}

#[test]
fn block_never_runs_the_body() {
    sidecar!(MOCK, CLIENT, |_| MockAnswer::block("sanctioned counterparty"));
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &CLIENT)]
    async fn pay(amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let denied = current_thread().block_on(pay(5)).unwrap_err();
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert_eq!(denied.verdict(), Verdict::Block);
    assert_eq!(
        denied.to_string(),
        "sentinel BLOCK payment under fintech.payments: sanctioned counterparty"
    );
}

struct Agent {
    name: String,
}

impl Agent {
    #[sentinel::guarded(policy = "agents", client = &AGENT_CLIENT, context = ctx)]
    async fn act(&self, ctx: &Context, what: &str) -> Result<String, Denied> {
        Ok(format!("{} {what}", self.name))
    }
}

sidecar!(AGENT_MOCK, AGENT_CLIENT);

#[test]
fn async_methods_with_a_context_parameter() {
    let agent = Agent { name: "ada".into() };
    let ctx = Context::new("run-param");
    let done = current_thread().block_on(assert_send(agent.act(&ctx, "plans")));
    assert_eq!(done.unwrap(), "ada plans");
    let requests = AGENT_MOCK.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].payload, json!({"what": "plans"}));
    assert_eq!(requests[0].run_id, "run-param");
}

#[test]
fn sixty_four_tasks_on_a_multi_threaded_runtime_each_send_their_own_run() {
    sidecar!(MOCK, CLIENT);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    async fn act(task: usize, round: usize) -> Result<(), Denied> {
        tokio::task::yield_now().await;
        let _ = (task, round);
        Ok(())
    }

    const TASKS: usize = 64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .expect("a multi-threaded runtime");
    runtime.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|task| {
                tokio::spawn(
                    async move {
                        for round in 0..2 {
                            act(task, round).await.unwrap();
                            // Give the scheduler a chance to move the task to another thread.
                            tokio::task::yield_now().await;
                            assert_eq!(Context::current().run_id(), format!("run-{task}"));
                        }
                    }
                    .with_context(Context::new(format!("run-{task}"))),
                )
            })
            .collect();
        for handle in handles {
            handle.await.expect("the task finished");
        }
        assert_eq!(
            Context::current().run_id(),
            Context::process_default().run_id(),
            "no task's context leaked into the runtime's own"
        );
    });
    let requests = MOCK.requests();
    assert_eq!(requests.len(), TASKS * 2);
    for request in requests {
        assert_eq!(
            request.run_id,
            format!("run-{}", request.payload["task"]),
            "{request:?}"
        );
    }
}

#[test]
fn a_single_threaded_executor_keeps_running_while_a_guard_waits() {
    sidecar!(MOCK, CLIENT, slow_allow);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    async fn slow(n: u8) -> Result<u8, Denied> {
        Ok(n)
    }

    let ticks = Arc::new(AtomicUsize::new(0));
    let (during, elapsed) = current_thread().block_on(async {
        let ticker = {
            let ticks = Arc::clone(&ticks);
            tokio::spawn(async move {
                for _ in 0..500 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let started = Instant::now();
        let before = ticks.load(Ordering::SeqCst);
        assert_eq!(slow(7).await.unwrap(), 7);
        let during = ticks.load(Ordering::SeqCst) - before;
        ticker.abort();
        (during, started.elapsed())
    });
    assert!(
        elapsed >= Duration::from_millis(300),
        "the sidecar took 300 ms, the guard {elapsed:?}"
    );
    assert!(
        during >= 10,
        "the other task ticked only {during} times in {elapsed:?}: the guard blocked the executor"
    );
}

#[test]
fn a_dropped_guarded_future_never_runs_the_body() {
    sidecar!(MOCK, CLIENT, slow_allow);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    async fn pay(amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let runtime = current_thread();
    // Never polled: nothing is asked, nothing runs.
    drop(pay(1));
    // Polled until the guard is in flight, then dropped by the timeout.
    let timed_out = runtime.block_on(async { tokio::time::timeout(Duration::from_millis(50), pay(2)).await });
    assert!(timed_out.is_err(), "the guard takes 300 ms");
    // Let the abandoned guard's request complete.
    let deadline = Instant::now() + Duration::from_secs(5);
    while MOCK.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        0,
        "the body of a dropped future must never run"
    );
    let requests = MOCK.requests();
    assert_eq!(requests.len(), 1, "only the polled future asked");
    assert_eq!(requests[0].payload, json!({"amount": 2}));
}

#[test]
fn an_unreachable_sidecar_fails_closed_without_blocking() {
    static CLIENT: LazyLock<SentinelClient> = LazyLock::new(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("an address"));
        drop(listener);
        SentinelClient::builder(endpoint)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    });
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    async fn act(n: u8) -> Result<u8, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(n)
    }

    let denied = current_thread().block_on(act(1)).unwrap_err();
    assert!(denied.is_fallback());
    assert_eq!(denied.verdict(), Verdict::Block);
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
}

/// Serializes to an error.
struct Unserializable;

impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("not representable"))
    }
}

#[test]
fn an_argument_that_fails_to_serialize_is_a_denial() {
    sidecar!(MOCK, CLIENT);
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "p", client = &CLIENT)]
    async fn upload(handle: Unserializable) -> Result<(), Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let _ = handle;
        Ok(())
    }

    let denied = current_thread().block_on(upload(Unserializable)).unwrap_err();
    assert!(denied.is_fallback());
    assert!(
        denied
            .reason()
            .contains("argument `handle` cannot be sent to the sidecar: not representable"),
        "{}",
        denied.reason()
    );
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);
    assert!(MOCK.requests().is_empty());
}

/// A tool trait as agent frameworks declare them with `#[async_trait]`.
#[async_trait::async_trait]
trait AsyncTool {
    async fn call(&self, input: String, limit: u8) -> Result<String, Denied>;
    async fn pay(&self, req: Parameters<Transfer>) -> Result<u64, Denied>;
}

#[derive(serde::Serialize)]
struct Transfer {
    to: String,
    amount: u64,
}

struct Parameters<T>(T);

struct WebSearch;

static ASYNC_TRAIT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[async_trait::async_trait]
impl AsyncTool for WebSearch {
    #[sentinel::guarded(policy = "tools", client = &ASYNC_TRAIT_CLIENT)]
    async fn call(&self, input: String, limit: u8) -> Result<String, Denied> {
        ASYNC_TRAIT_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{input}:{limit}"))
    }

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = &ASYNC_TRAIT_CLIENT, payload = req)]
    async fn pay(&self, Parameters(req): Parameters<Transfer>) -> Result<u64, Denied> {
        ASYNC_TRAIT_RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(req.amount)
    }
}

sidecar!(ASYNC_TRAIT_MOCK, ASYNC_TRAIT_CLIENT, |request| {
    if request.payload["to"] == "attacker" {
        MockAnswer::block("sanctioned counterparty")
    } else {
        MockAnswer::allow()
    }
});

#[test]
fn async_trait_methods_are_guarded_like_async_fns() {
    let runtime = current_thread();
    let tool: &dyn AsyncTool = &WebSearch;
    assert_eq!(runtime.block_on(tool.call("rust".into(), 3)).unwrap(), "rust:3");
    let pay = |to: &str| {
        runtime.block_on(WebSearch.pay(Parameters(Transfer {
            to: to.into(),
            amount: 7,
        })))
    };
    assert_eq!(pay("vendor").unwrap(), 7);
    let denied = pay("attacker").unwrap_err();
    assert_eq!(denied.verdict(), Verdict::Block);
    assert!(!denied.is_fallback());
    assert_eq!(
        ASYNC_TRAIT_RUNS.load(Ordering::SeqCst),
        2,
        "the blocked call's body never ran"
    );
    let sent: Vec<_> = ASYNC_TRAIT_MOCK
        .requests()
        .into_iter()
        .map(|r| (r.kind, r.payload))
        .collect();
    assert_eq!(
        sent,
        [
            ("web_search.call".to_owned(), json!({"input": "rust", "limit": 3})),
            ("payment".to_owned(), json!({"to": "vendor", "amount": 7})),
            ("payment".to_owned(), json!({"to": "attacker", "amount": 7})),
        ]
    );
}

#[test]
fn io_result_functions_get_a_permission_denied_error_carrying_the_denial() {
    sidecar!(MOCK, CLIENT, |_| MockAnswer::block("no writes today"));

    #[sentinel::guarded(policy = "fs", kind = "write", client = &CLIENT)]
    async fn write(path: &str) -> std::io::Result<usize> {
        Ok(path.len())
    }

    let error = current_thread().block_on(write("/etc/passwd")).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
    let denied = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Denied>())
        .expect("the Denied inside");
    assert_eq!(denied.reason(), "no writes today");
    assert_eq!(MOCK.requests().len(), 1);
}
