//! A fallback's reason says what happened, and its kind lets a program tell: the sidecar
//! unreachable, the connection lost, no answer in time, the request refused (4xx, in the
//! sidecar's own words), the sidecar busy or failing (5xx), a malformed answer, or the
//! client's own refusal. Each against a raw loopback server; whatever the kind, the
//! decision is a BLOCK when failing closed, and a refusal (the sidecar's 4xx or the
//! client's own) is a BLOCK when failing open too.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use sentinel::{Action, Context, Denied, FailMode, FallbackKind, GuardDecision, SentinelClient, Verdict};
use serde_json::json;

use crate::support::{http_response, idle, read_request, RawServer};

fn client(endpoint: &str, fail_mode: FailMode) -> SentinelClient {
    SentinelClient::builder(endpoint)
        .timeout(Duration::from_millis(500))
        .fail_mode(fail_mode)
        .build()
        .unwrap()
}

fn guard(endpoint: &str, policy: &str) -> GuardDecision {
    client(endpoint, FailMode::Closed).guard(
        &Action::payment(json!({"amount": 1, "from": "acct_ops", "to": "vendor_42"})),
        &Context::new("run-reasons"),
        policy,
    )
}

/// A BLOCK of `kind` whose reason is exactly `reason`.
fn assert_fallback(decision: &GuardDecision, kind: FallbackKind, reason: &str) {
    assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
    assert_eq!(decision.fallback_kind(), Some(kind), "{decision:?}");
    assert_eq!(decision.reason(), Some(reason), "{decision:?}");
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let decision = guard(&format!("http://127.0.0.1:{port}"), "fintech.payments");
    assert_eq!(
        decision.fallback_kind(),
        Some(FallbackKind::Unreachable),
        "{decision:?}"
    );
    let reason = decision.reason().unwrap();
    assert!(
        reason.starts_with("sentinel sidecar unreachable (connect failed: "),
        "{reason}"
    );
    assert!(reason.ends_with("); failing closed"), "{reason}");
}

#[test]
fn a_connection_closed_without_an_answer_is_lost() {
    let server = RawServer::start(|mut stream, stop| {
        // Half an answer, then the connection closes.
        if read_request(&mut stream, stop).is_some() {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"verd");
        }
    });
    let decision = guard(&server.endpoint(), "fintech.payments");
    assert_eq!(
        decision.fallback_kind(),
        Some(FallbackKind::ConnectionLost),
        "{decision:?}"
    );
    let reason = decision.reason().unwrap();
    assert!(
        reason.starts_with("sentinel sidecar connection lost before an answer (connection error: "),
        "{reason}"
    );
}

#[test]
fn no_answer_within_the_deadline_is_timed_out() {
    let server = RawServer::start(|mut stream, stop| {
        if read_request(&mut stream, stop).is_some() {
            idle(stop, Duration::from_secs(3));
        }
    });
    let decision = guard(&server.endpoint(), "fintech.payments");
    assert_fallback(
        &decision,
        FallbackKind::TimedOut,
        "sentinel sidecar gave no answer within the deadline (deadline exceeded); failing closed",
    );
}

#[test]
fn a_4xx_is_refused_in_the_sidecars_own_words() {
    let server = RawServer::answering(http_response(
        "400 Bad Request",
        r#"{"error":"unknown policy pack: health.records"}"#,
    ));
    let decision = guard(&server.endpoint(), "health.records");
    assert_fallback(
        &decision,
        FallbackKind::Refused,
        "sentinel sidecar refused the request (HTTP 400: unknown policy pack: health.records); failing closed",
    );
    // What a guarded function returns reads the same.
    let denied = Denied::new(decision, "record_update", "health.records");
    assert_eq!(denied.fallback_kind(), Some(FallbackKind::Refused));
    assert_eq!(
        denied.to_string(),
        "sentinel BLOCK record_update under health.records: sentinel sidecar refused the request \
         (HTTP 400: unknown policy pack: health.records); failing closed"
    );
}

#[test]
fn a_429_or_503_past_the_deadline_is_busy() {
    for status in ["429 Too Many Requests", "503 Service Unavailable"] {
        let code = &status[..3];
        // Retry-After beyond the deadline: the client does not wait for it.
        let server = RawServer::answering(
            format!(
                "HTTP/1.1 {status}\r\nretry-after: 60\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{{\"error\":\"too busy\"}}"
            )
            .into_bytes(),
        );
        let decision = guard(&server.endpoint(), "fintech.payments");
        assert_fallback(
            &decision,
            FallbackKind::Busy,
            &format!("sentinel sidecar too busy to answer within the deadline (HTTP {code}: too busy); failing closed"),
        );
    }
}

#[test]
fn a_5xx_is_failing() {
    let server = RawServer::answering(http_response(
        "500 Internal Server Error",
        r#"{"error":"ledger unavailable"}"#,
    ));
    let decision = guard(&server.endpoint(), "fintech.payments");
    assert_fallback(
        &decision,
        FallbackKind::Failing,
        "sentinel sidecar failed (HTTP 500: ledger unavailable); failing closed",
    );
}

#[test]
fn an_answer_that_is_not_a_decision_is_malformed() {
    let server = RawServer::answering(http_response("200 OK", r#"{"verdict":"MAYBE"}"#));
    let decision = guard(&server.endpoint(), "fintech.payments");
    assert_eq!(
        decision.fallback_kind(),
        Some(FallbackKind::Malformed),
        "{decision:?}"
    );
    let reason = decision.reason().unwrap();
    assert!(
        reason.starts_with("sentinel sidecar sent a malformed answer (malformed decision: "),
        "{reason}"
    );
    assert!(reason.ends_with("); failing closed"), "{reason}");

    // Not HTTP at all.
    let server = RawServer::answering(b"SENTINEL SAYS YES\r\n\r\n".to_vec());
    let decision = guard(&server.endpoint(), "fintech.payments");
    assert_eq!(
        decision.fallback_kind(),
        Some(FallbackKind::Malformed),
        "{decision:?}"
    );
    assert!(decision
        .reason()
        .unwrap()
        .starts_with("sentinel sidecar sent a malformed answer ("));
}

#[test]
fn a_request_the_client_refuses_is_its_own_refusal_in_both_modes() {
    let server = RawServer::answering(http_response("200 OK", crate::support::ALLOW_BODY));
    for mode in [FailMode::Closed, FailMode::Open] {
        let decision = client(&server.endpoint(), mode).guard(
            &Action::payment(json!({"amount": 1})),
            &Context::new("run-reasons"),
            "",
        );
        assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
        assert_eq!(
            decision.fallback_kind(),
            Some(FallbackKind::RefusedByClient),
            "{decision:?}"
        );
        assert!(
            decision.reason().unwrap().ends_with("; failing closed"),
            "{decision:?}"
        );
    }
    assert_eq!(server.accepted(), 0, "the sidecar was not asked");
}

#[test]
fn failing_open_keeps_the_kind_and_says_it_fails_open() {
    let server = RawServer::answering(http_response(
        "500 Internal Server Error",
        r#"{"error":"ledger unavailable"}"#,
    ));
    let decision = client(&server.endpoint(), FailMode::Open).guard(
        &Action::payment(json!({"amount": 1})),
        &Context::new("run-reasons"),
        "fintech.payments",
    );
    assert_eq!(decision.verdict(), Verdict::Allow);
    assert_eq!(decision.fallback_kind(), Some(FallbackKind::Failing));
    assert_eq!(
        decision.reason(),
        Some("sentinel sidecar failed (HTTP 500: ledger unavailable); failing open")
    );
}

#[test]
fn a_408_is_the_sidecars_timeout_and_fails_open_like_one() {
    let server = RawServer::answering(http_response("408 Request Timeout", r#"{"error":"too slow"}"#));
    let decision = client(&server.endpoint(), FailMode::Open).guard(
        &Action::payment(json!({"amount": 1})),
        &Context::new("run-reasons"),
        "fintech.payments",
    );
    assert_eq!(decision.verdict(), Verdict::Allow, "{decision:?}");
    assert_eq!(
        decision.fallback_kind(),
        Some(FallbackKind::TimedOut),
        "{decision:?}"
    );
}

/// A 4xx means the sidecar is up and said no (a typo'd policy, a missing credential):
/// failing open is for outages, so this is a BLOCK in both modes.
#[test]
fn a_4xx_is_a_block_even_when_failing_open() {
    for (status, error) in [
        ("400 Bad Request", "unknown policy pack: health.recrods"),
        ("401 Unauthorized", "missing credential"),
        ("403 Forbidden", "tenant not allowed"),
    ] {
        let server = RawServer::answering(http_response(status, &format!(r#"{{"error":"{error}"}}"#)));
        let decision = client(&server.endpoint(), FailMode::Open).guard(
            &Action::payment(json!({"amount": 1})),
            &Context::new("run-reasons"),
            "health.recrods",
        );
        assert_fallback(
            &decision,
            FallbackKind::Refused,
            &format!(
                "sentinel sidecar refused the request (HTTP {}: {error}); failing closed",
                &status[..3]
            ),
        );
    }
}

#[test]
fn a_batch_names_the_kind_of_each_fallback() {
    let server = RawServer::answering(http_response(
        "400 Bad Request",
        r#"{"error":"unknown policy pack: health.records"}"#,
    ));
    let requests = vec![
        (
            Action::payment(json!({"amount": 1})),
            Context::new("run-reasons"),
            "health.records",
        ),
        (
            Action::payment(json!({"amount": 2})),
            Context::new("run-reasons"),
            "health.records",
        ),
    ];
    let decisions = client(&server.endpoint(), FailMode::Closed).guard_batch(&requests);
    assert_eq!(decisions.len(), 2);
    for decision in &decisions {
        assert_fallback(
            decision,
            FallbackKind::Refused,
            "sentinel sidecar refused the request (HTTP 400: unknown policy pack: health.records); failing closed",
        );
    }
}

#[test]
fn the_sidecars_own_decisions_have_no_fallback_kind() {
    let server = RawServer::answering(http_response(
        "200 OK",
        r#"{"verdict":"BLOCK","recordId":"rec_1","checks":[],"reason":"over the limit"}"#,
    ));
    let decision = guard(&server.endpoint(), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert_eq!(decision.fallback_kind(), None);
    assert_eq!(decision.reason(), Some("over the limit"));
}
