//! Receipt mode against `MockSidecar`, which speaks the adjudication protocol: what users'
//! own tests can rely on, and the executor's behaviour after the body (reports, retries,
//! errors, panics), which the real sidecar cannot be made to fail on demand.
#![cfg(feature = "verify")]

use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentinel::adjudication::{
    AdjudicationRequest, CanonicalAction, ExecutionStatus, ExecutorKey, ReceiptClient,
};
use sentinel::testing::{MockAnswer, MockSidecar};
use sentinel::unversioned::transport::{HttpRequest, HttpResponse, Transport, UreqTransport};
use sentinel::TransportError;
use sentinel::{Context, Denied, Resolution, SentinelClient};
use serde_json::json;
use sha2::{Digest, Sha256};

fn payment(to: &str) -> AdjudicationRequest {
    let action = CanonicalAction::new(
        "payment",
        "core-banking",
        "transfer",
        "agent-7",
        json!({"amount": 100, "from": "acct_ops", "to": to}),
    )
    .unwrap();
    AdjudicationRequest::new(action, Context::new("run-mock"), "fintech.payments")
}

fn client_of(sidecar: &MockSidecar, executor: ExecutorKey) -> ReceiptClient {
    let client = SentinelClient::builder(sidecar.endpoint()).build().unwrap();
    ReceiptClient::new(client, MockSidecar::issuer_keys(), executor)
}

fn executor() -> ExecutorKey {
    ExecutorKey::from_seed([7; 32], "mock-test-executor")
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rule(request: &sentinel::testing::MockRequest) -> MockAnswer {
    match request.payload["to"].as_str() {
        Some("acct_evil") => MockAnswer::block("sanctioned counterparty"),
        Some("vendor_big") => MockAnswer::escalate("needs sign-off"),
        _ => MockAnswer::allow(),
    }
}

#[test]
fn the_mock_issues_validates_ingests_and_audits() {
    let sidecar = MockSidecar::start(rule);
    let executor = executor();
    sidecar.trust_executor(&executor);
    let client = client_of(&sidecar, executor);
    let runs = AtomicUsize::new(0);
    for _ in 0..3 {
        let result: Result<&str, Denied> = client.execute(&payment("vendor_42"), || {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok("tx")
        });
        assert_eq!(result.unwrap(), "tx");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(
        sidecar.requests().len(),
        3,
        "the rule saw every adjudication's guard"
    );
    let executions = sidecar.executions();
    assert_eq!(executions.len(), 3);
    assert!(executions
        .iter()
        .all(|e| e.execution_status() == ExecutionStatus::Succeeded));
    // The result digest is SHA-256 of the result's canonical JSON: "tx" is `"tx"`.
    assert_eq!(executions[0].result_digest(), hex_sha256("\"tx\""));
    let audit = client.audit().unwrap();
    assert!(audit.valid, "{:?}", audit.violations);
    assert_eq!((audit.executions_checked, audit.coverage), (3, 1.0));
}

#[test]
fn the_mock_refuses_replay_and_substitution_like_the_sidecar() {
    let sidecar = MockSidecar::start(rule);
    let client = client_of(&sidecar, executor());
    let request = payment("vendor_42");
    let receipt = client.adjudicate(&request).unwrap().receipt.unwrap();
    let substituted = client
        .validate(&receipt, &payment("acct_attacker").binding())
        .unwrap_err();
    assert_eq!(substituted.code(), "ACTION_MISMATCH");
    assert_eq!(client.validate(&receipt, &request.binding()).unwrap(), 1);
    assert_eq!(
        client.validate(&receipt, &request.binding()).unwrap_err().code(),
        "REPLAY_DETECTED"
    );
    client.revoke(receipt.receipt_id(), None).unwrap();
    assert_eq!(
        client.validate(&receipt, &request.binding()).unwrap_err().code(),
        "REVOKED_RECEIPT"
    );
}

#[test]
fn block_escalate_and_an_unreachable_sidecar_never_run_the_body() {
    let sidecar = MockSidecar::start(rule);
    let client = client_of(&sidecar, executor());
    let runs = AtomicUsize::new(0);
    let body = || {
        runs.fetch_add(1, Ordering::SeqCst);
        Ok::<_, Denied>(())
    };
    let blocked = client.execute(&payment("acct_evil"), body).unwrap_err();
    assert!(
        blocked.reason().contains("sanctioned counterparty"),
        "{}",
        blocked.reason()
    );
    let escalated = client.execute(&payment("vendor_big"), body).unwrap_err();
    assert!(escalated.is_escalated(), "{}", escalated.reason());
    assert!(escalated.escalation_id().is_some_and(|id| id.starts_with("esc_")));

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = SentinelClient::builder(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    let gone = ReceiptClient::new(gone, MockSidecar::issuer_keys(), executor());
    let unreachable = gone.execute(&payment("vendor_42"), body).unwrap_err();
    assert!(
        unreachable.reason().contains("no valid receipt"),
        "{}",
        unreachable.reason()
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_failed_report_keeps_the_result_and_is_retried() {
    let sidecar = MockSidecar::start(rule);
    let executor = executor();
    let client = client_of(&sidecar, executor.clone());
    // Not trusted yet: the report is refused at ingest.
    let result: Result<u32, Denied> = client.execute(&payment("vendor_42"), || Ok(42));
    assert_eq!(result.unwrap(), 42);
    let pending = client.pending_reports();
    assert_eq!(pending.len(), 1);
    assert_eq!(client.retry_reports(), 1, "still refused");
    assert!(sidecar.executions().is_empty());

    sidecar.trust_executor(&executor);
    assert_eq!(client.retry_reports(), 0);
    assert!(client.pending_reports().is_empty());
    assert_eq!(
        sidecar.executions(),
        pending,
        "the very receipt kept was delivered"
    );
    assert_eq!(client.coverage().unwrap().coverage, 1.0);
}

#[test]
fn an_error_and_a_panic_are_reported_as_failed() {
    let sidecar = MockSidecar::start(rule);
    let executor = executor();
    sidecar.trust_executor(&executor);
    let client = client_of(&sidecar, executor);

    let failed: Result<(), Denied> = client.execute(&payment("vendor_42"), || {
        Err(Denied::new(
            sentinel::GuardDecision::fallback(sentinel::FailMode::Closed, "x"),
            "k",
            "p",
        ))
    });
    assert!(failed.is_err());
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let _: Result<(), Denied> = client.execute(&payment("vendor_42"), || panic!("boom"));
    }));
    assert!(panicked.is_err(), "the panic is resumed");

    let executions = sidecar.executions();
    assert_eq!(executions.len(), 2);
    assert!(executions
        .iter()
        .all(|e| e.execution_status() == ExecutionStatus::Failed));
    assert_eq!(
        executions[1].result_digest(),
        hex_sha256("{\"error\":\"panic: boom\"}")
    );
    assert_eq!(
        client.audit().unwrap().coverage,
        1.0,
        "failed executions are mediated too"
    );
}

/// A sidecar that takes `delay` to answer anything: each request waits `delay` before it
/// goes out, and the wait counts against the request's timeout as a slow answer would. It
/// records each request's path and the time the client gave it.
struct SlowSidecar {
    http: UreqTransport,
    delay: Duration,
    sent: Sent,
}

/// Each request's path and the time the client gave it, in order.
type Sent = Arc<Mutex<Vec<(String, Duration)>>>;

impl Transport for SlowSidecar {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let path = request.url.splitn(4, '/').nth(3).unwrap_or_default();
        self.sent
            .lock()
            .unwrap()
            .push((format!("/{path}"), request.timeout));
        if self.delay >= request.timeout {
            std::thread::sleep(request.timeout);
            return Err(TransportError::Timeout);
        }
        std::thread::sleep(self.delay);
        let mut late = request.clone();
        late.timeout -= self.delay;
        self.http.send(&late)
    }
}

/// A receipt client on a [`SlowSidecar`] in front of `sidecar`, and what it sent.
fn slow_client_of(sidecar: &MockSidecar, delay: Duration, timeout: Duration) -> (ReceiptClient, Sent) {
    let sent = Sent::default();
    let client = SentinelClient::builder(sidecar.endpoint())
        .timeout(timeout)
        .transport(SlowSidecar {
            http: UreqTransport::new(4),
            delay,
            sent: Arc::clone(&sent),
        })
        .build()
        .unwrap();
    (
        ReceiptClient::new(client, MockSidecar::issuer_keys(), executor()),
        sent,
    )
}

/// Every request after the first got less time than the one before: one deadline, spent.
fn assert_one_deadline(sent: &[(String, Duration)], timeout: Duration, delay: Duration) {
    assert!(sent.len() >= 2, "{sent:?}");
    assert!(sent[0].1 <= timeout, "{sent:?}");
    for pair in sent.windows(2) {
        assert!(
            pair[1].1 + delay <= pair[0].1,
            "a request got a deadline of its own: {sent:?}"
        );
    }
}

#[test]
fn opening_the_escalation_of_an_escalated_adjudication_shares_its_deadline() {
    let sidecar = MockSidecar::start(rule);
    // The adjudication takes 1.2 s of the 2 s: the guard that would open the escalation
    // gets at most the 0.8 s left, not a deadline of its own, and cannot be answered in it.
    let (delay, timeout) = (Duration::from_millis(1200), Duration::from_secs(2));
    let (client, sent) = slow_client_of(&sidecar, delay, timeout);
    let started = Instant::now();
    let result: Result<(), Denied> = client.execute(&payment("vendor_big"), || panic!("must not run"));
    let elapsed = started.elapsed();
    let denied = result.unwrap_err();
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent[0].0, "/v1/adjudications", "{sent:?}");
    assert_eq!(sent.last().unwrap().0, "/v1/guard", "{sent:?}");
    assert_one_deadline(&sent, timeout, delay);
    assert!(!denied.is_escalated(), "{}", denied.reason());
    assert!(
        denied.reason().contains("no escalation could be opened"),
        "{}",
        denied.reason()
    );
    assert!(elapsed < timeout + Duration::from_secs(1), "{elapsed:?}");
}

#[test]
fn resuming_an_approval_finds_it_and_adjudicates_within_the_calls_one_deadline() {
    let sidecar = MockSidecar::start(rule);
    let fast = client_of(&sidecar, executor());
    let big = payment("vendor_big");
    let parked: Result<(), Denied> = fast.execute(&big, || Ok(()));
    let escalation_id = parked.unwrap_err().escalation_id().unwrap().to_owned();
    fast.sentinel()
        .resolve(&escalation_id, Resolution::Approve, "treasury_ops")
        .unwrap();

    // Finding the approval takes a few requests of 0.4 s each, and the adjudication gets
    // what is left of the 2.5 s, not a deadline of its own.
    let (delay, timeout) = (Duration::from_millis(400), Duration::from_millis(2500));
    let (client, sent) = slow_client_of(&sidecar, delay, timeout);
    let started = Instant::now();
    let result: Result<(), Denied> = client.execute_approved(&escalation_id, &big, || panic!("must not run"));
    let elapsed = started.elapsed();
    let sent = sent.lock().unwrap().clone();
    assert!(
        sent.iter().any(|(path, _)| path == "/v1/adjudications"),
        "the approval was found, then adjudicated: {sent:?}"
    );
    assert_one_deadline(&sent, timeout, delay);
    assert!(result.is_err());
    assert!(elapsed < timeout + Duration::from_secs(1), "{elapsed:?}");
}
