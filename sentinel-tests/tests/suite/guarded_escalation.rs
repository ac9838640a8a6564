//! `#[guarded(on_escalate = wait(timeout = …))]` against a real loopback mock sidecar that
//! escalates: the call waits (bounded) for a human, and the body runs only on approval.
//! Without the option an `ESCALATE` is returned at once, its escalation left pending.
//!
//! A "human" is another thread that finds the pending escalation with
//! `client.escalations(Some(EscalationState::Pending))` and resolves it. Every test has its
//! own mock and passes its own client (`client = client`): tests in one binary share the
//! global client. Timing assertions are bounds, never exact durations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::{Denied, Escalation, EscalationState, Resolution, SentinelClient, SidecarError, Verdict};

/// A mock that escalates every call; only `treasury` may resolve.
fn escalating_sidecar() -> (MockSidecar, SentinelClient) {
    let mock = MockSidecar::start(|_| MockAnswer::escalate("large payment").with_approvers(["treasury"]));
    let client = SentinelClient::builder(mock.endpoint())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client for the mock");
    (mock, client)
}

/// The pending escalation of the call with this `amount`, once there is one (polled for
/// at most 10 s).
fn wait_for_pending(client: &SentinelClient, amount: u64) -> Escalation {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending = client
            .escalations(Some(EscalationState::Pending))
            .expect("the mock lists escalations");
        if let Some(escalation) = pending
            .into_iter()
            .find(|e| e.action()["payload"]["amount"] == amount)
        {
            return escalation;
        }
        assert!(
            Instant::now() < deadline,
            "no escalation became pending within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A human, on another thread: waits for the pending escalation of the call with this
/// `amount`, then resolves it as `treasury`. Returns the escalation's id.
fn human(client: &SentinelClient, amount: u64, resolution: Resolution) -> JoinHandle<String> {
    let client = client.clone();
    std::thread::spawn(move || {
        let escalation = wait_for_pending(&client, amount);
        client
            .resolve(escalation.id(), resolution, "treasury")
            .expect("treasury may resolve");
        escalation.id().to_owned()
    })
}

/// The escalation `id` as the sidecar now lists it.
fn escalation(client: &SentinelClient, id: &str) -> Escalation {
    client
        .escalations(None)
        .expect("the mock lists escalations")
        .into_iter()
        .find(|e| e.id() == id)
        .expect("the escalation is listed")
}

#[test]
fn approved_while_waiting_runs_the_body_once() {
    let (mock, client) = escalating_sidecar();
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client, on_escalate = wait(timeout = "30s"))]
    fn pay(client: &SentinelClient, amount: u64, to: &str) -> Result<u64, Denied> {
        let _ = to;
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let approver = {
        let client = client.clone();
        std::thread::spawn(move || {
            let escalation = wait_for_pending(&client, 42_000);
            assert_eq!(escalation.action()["payload"]["to"], "vendor_7");
            assert_eq!(escalation.approvers(), ["treasury"]);
            // Someone not on the list cannot release it: the call keeps waiting.
            let refused = client.resolve(escalation.id(), Resolution::Approve, "mallory");
            assert!(
                matches!(refused, Err(SidecarError::NotAnApprover(_))),
                "{refused:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(RUNS.load(Ordering::SeqCst), 0, "the body ran before approval");
            client
                .resolve(escalation.id(), Resolution::Approve, "treasury")
                .expect("treasury may approve");
            escalation.id().to_owned()
        })
    };
    let started = Instant::now();
    let result = pay(&client, 42_000, "vendor_7");
    let elapsed = started.elapsed();
    let id = approver.join().expect("the approver thread");

    assert_eq!(result.expect("approved, so the body ran"), 42_000);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert!(
        elapsed < Duration::from_secs(30),
        "the call returned after {elapsed:?}: at the timeout, not at the approval"
    );
    assert_eq!(mock.requests().len(), 1, "one guard request; the rest is polling");
    let resolved = escalation(&client, &id);
    assert_eq!(resolved.status(), EscalationState::Approved);
    assert_eq!(resolved.resolved_by(), Some("treasury"));
}

#[test]
fn denied_while_waiting_never_runs_the_body() {
    let (_mock, client) = escalating_sidecar();
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", kind = "payment", client = client, on_escalate = wait(timeout = "30s"))]
    fn pay(client: &SentinelClient, amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let human = human(&client, 42_000, Resolution::Deny);
    let denied = pay(&client, 42_000).expect_err("a human denied it");
    let id = human.join().expect("the human thread");

    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        0,
        "the body ran although a human denied it"
    );
    assert_eq!(denied.verdict(), Verdict::Block);
    assert!(
        !denied.is_fallback(),
        "a human's answer, not a made-up one: {denied:?}"
    );
    assert_eq!(denied.escalation_id(), Some(id.as_str()));
    assert!(
        denied.reason().contains("denied by a human"),
        "{}",
        denied.reason()
    );
    assert_eq!((denied.kind(), denied.policy()), ("payment", "fintech.payments"));
    assert_eq!(escalation(&client, &id).status(), EscalationState::Denied);
}

#[test]
fn nobody_answers_within_the_timeout() {
    let (_mock, client) = escalating_sidecar();
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", client = client, on_escalate = wait(timeout = "1s"))]
    fn pay(client: &SentinelClient, amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    let started = Instant::now();
    let denied = pay(&client, 42_000).expect_err("nobody approved it");
    let elapsed = started.elapsed();

    assert_eq!(RUNS.load(Ordering::SeqCst), 0, "the body ran without an approval");
    assert_eq!(denied.verdict(), Verdict::Block);
    assert!(
        denied.is_fallback(),
        "a pending escalation is a fail-safe BLOCK: {denied:?}"
    );
    assert!(denied.reason().contains("still pending"), "{}", denied.reason());
    assert!(
        elapsed >= Duration::from_secs(1),
        "gave up after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "waited {elapsed:?} with a 1 s timeout: the wait is not bounded by it"
    );
    // Still there for a human: the agent can report it and resume later.
    let pending = wait_for_pending(&client, 42_000);
    assert_eq!(denied.escalation_id(), Some(pending.id()));
    assert!(!denied.is_escalated(), "the verdict is the fail-safe BLOCK");
}

#[test]
fn an_async_fn_waits_without_blocking_the_executor() {
    let (_mock, client) = escalating_sidecar();
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", client = client, on_escalate = wait(timeout = "30s"))]
    async fn pay(client: &SentinelClient, amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    // The human takes a while: the executor must keep serving other tasks meanwhile.
    let approver = {
        let client = client.clone();
        std::thread::spawn(move || {
            let escalation = wait_for_pending(&client, 42_000);
            std::thread::sleep(Duration::from_millis(500));
            client
                .resolve(escalation.id(), Resolution::Approve, "treasury")
                .expect("treasury may approve");
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    let ticks = Arc::new(AtomicUsize::new(0));
    let (result, during, elapsed) = runtime.block_on(async {
        let ticker = {
            let ticks = Arc::clone(&ticks);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let started = Instant::now();
        let result = pay(&client, 42_000).await;
        let during = ticks.load(Ordering::SeqCst);
        ticker.abort();
        (result, during, started.elapsed())
    });
    approver.join().expect("the approver thread");

    assert_eq!(result.expect("approved, so the body ran"), 42_000);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert!(
        elapsed >= Duration::from_millis(500),
        "returned after {elapsed:?}, before the approval"
    );
    assert!(
        during >= 20,
        "the other task ticked only {during} times in {elapsed:?}: the wait blocked the executor"
    );
}

#[test]
fn without_on_escalate_an_escalation_is_returned_at_once() {
    let (_mock, client) = escalating_sidecar();
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", client = client)]
    fn implicit(client: &SentinelClient, amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    #[sentinel::guarded(policy = "fintech.payments", client = client, on_escalate = deny)]
    fn explicit(client: &SentinelClient, amount: u64) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    for (name, call) in [
        (
            "no on_escalate",
            implicit as fn(&SentinelClient, u64) -> Result<u64, Denied>,
        ),
        ("on_escalate = deny", explicit),
    ] {
        let started = Instant::now();
        let denied = call(&client, 42_000).expect_err("escalated");
        let elapsed = started.elapsed();
        assert_eq!(denied.verdict(), Verdict::Escalate, "{name}");
        assert!(
            denied.is_escalated() && !denied.is_fallback(),
            "{name}: {denied:?}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "{name}: took {elapsed:?}, as if it waited"
        );
        let id = denied.escalation_id().expect("an escalation id to resume with");
        assert_eq!(
            escalation(&client, id).status(),
            EscalationState::Pending,
            "{name}"
        );
    }
    assert_eq!(RUNS.load(Ordering::SeqCst), 0, "the body ran on ESCALATE");
}

#[test]
fn a_per_call_timeout_is_a_parameter_that_is_not_sent() {
    let (mock, client) = escalating_sidecar();
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[sentinel::guarded(policy = "fintech.payments", client = client, on_escalate = wait(timeout = patience))]
    fn pay(client: &SentinelClient, amount: u64, patience: Duration) -> Result<u64, Denied> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(amount)
    }

    // Nobody answers: the call gives up after this call's timeout.
    let started = Instant::now();
    let denied = pay(&client, 1, Duration::from_millis(300)).expect_err("nobody approved it");
    let elapsed = started.elapsed();
    assert!(
        denied.is_fallback() && denied.verdict() == Verdict::Block,
        "{denied:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(2_300),
        "waited {elapsed:?} with a 300 ms timeout"
    );
    let request = mock.requests().remove(0);
    assert_eq!(
        request.payload,
        serde_json::json!({"amount": 1}),
        "neither client nor patience is sent"
    );

    // A zero timeout does not wait: the ESCALATE itself comes back, escalation pending.
    let denied = pay(&client, 2, Duration::ZERO).expect_err("escalated");
    assert_eq!(denied.verdict(), Verdict::Escalate, "{denied:?}");

    // A long one, approved in time, runs the body.
    let human = human(&client, 3, Resolution::Approve);
    let started = Instant::now();
    assert_eq!(pay(&client, 3, Duration::from_secs(30)).expect("approved"), 3);
    assert!(started.elapsed() < Duration::from_secs(30));
    human.join().expect("the human thread");
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
}

#[test]
fn an_optional_per_call_timeout_of_none_does_not_wait() {
    let (_mock, client) = escalating_sidecar();

    #[sentinel::guarded(policy = "fintech.payments", client = client, on_escalate = wait(timeout = patience))]
    async fn pay(client: &SentinelClient, amount: u64, patience: Option<Duration>) -> Result<u64, Denied> {
        Ok(amount)
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let denied = pay(&client, 1, None).await.expect_err("escalated");
        assert_eq!(denied.verdict(), Verdict::Escalate, "{denied:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );

        let denied = pay(&client, 2, Some(Duration::from_millis(200)))
            .await
            .expect_err("nobody approved it");
        assert!(
            denied.is_fallback() && denied.verdict() == Verdict::Block,
            "{denied:?}"
        );
    });
}
