//! The global client that `#[sentinel::guarded]` functions use by default, in a test
//! binary of its own: `sentinel::init` can succeed once per process, so the steps run in
//! order in one test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Context, Denied, GuardDecision, SentinelClient, Verdict};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
fn pay(amount: u64) -> Result<u64, Denied> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

#[sentinel::guarded(policy = "fintech.payments", kind = "payment")]
async fn pay_async(amount: u64) -> Result<u64, Denied> {
    RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(amount)
}

fn client_of(mock: &MockSidecar) -> SentinelClient {
    SentinelClient::builder(mock.endpoint())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client for the mock")
}

fn assert_not_configured(denied: &Denied) {
    assert!(denied.is_fallback(), "{denied:?}");
    assert_eq!(denied.verdict(), Verdict::Block);
    let checks = denied.decision().checks();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].check, GuardDecision::TRANSPORT_CHECK);
    assert!(
        checks[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("no Sentinel client is configured"),
        "{checks:?}"
    );
    assert!(denied.reason().contains("sentinel::init"), "{}", denied.reason());
}

#[test]
fn guarded_functions_use_the_client_installed_once_by_init() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");

    // Before init: denied (fail closed), not a panic, and the body does not run.
    assert!(sentinel::client().is_none());
    assert_not_configured(&pay(1).unwrap_err());
    assert_not_configured(&runtime.block_on(pay_async(1)).unwrap_err());
    assert_eq!(RUNS.load(Ordering::SeqCst), 0);

    // init installs the client every guarded function uses.
    let first = MockSidecar::allow_all();
    sentinel::init(client_of(&first)).expect("the first init succeeds");
    assert_eq!(Context::new("run-global").scope(|| pay(2)).unwrap(), 2);
    assert_eq!(runtime.block_on(pay_async(3)).unwrap(), 3);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    let requests = first.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].run_id, "run-global");
    assert_eq!(requests[0].payload, serde_json::json!({"amount": 2}));

    // A second init is refused and the first client stays in place.
    let second = MockSidecar::start(|_| MockAnswer::block("the second client must never be asked"));
    let refused = sentinel::init(client_of(&second)).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "sentinel::init was already called; the first client stays in place"
    );
    assert_eq!(pay(4).unwrap(), 4);
    assert_eq!(
        sentinel::client().map(SentinelClient::endpoint),
        Some(first.endpoint().as_str())
    );
    assert_eq!(first.requests().len(), 3);
    assert!(second.requests().is_empty());
}
