//! Hostile and broken servers (raw TCP): a connection whose answer was not honoured is never
//! used again; sidecar text in reasons is bounded, stripped of control characters and of
//! configured header values; the builder refuses what would smuggle or silently misroute a
//! request; the deadline counts serialization.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{KeepAliveServer, Reply};
use sentinel::{Action, Context, SentinelClient, Verdict};
use serde_json::json;

fn pay() -> Action {
    Action::payment(json!({"amount": 5, "from": "a", "to": "b"}))
}

fn http(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const ALLOW: &str = r#"{"verdict":"ALLOW","recordId":"rec_1","checks":[]}"#;

/// For each answer that is not honoured, the next guard goes out on a new connection (the
/// server keeps every connection alive, so only the client can have dropped it); after an
/// honoured ALLOW, the connection is reused.
#[test]
fn a_connection_is_dropped_after_any_answer_not_honoured() {
    for (what, answer) in [
        ("3xx", http("302 Found", "{}")),
        ("4xx", http("404 Not Found", r#"{"error":"not found"}"#)),
        (
            "429",
            http("429 Too Many Requests", r#"{"error":"rate limit exceeded"}"#),
        ),
        (
            "5xx",
            http("500 Internal Server Error", r#"{"error":"internal error"}"#),
        ),
        ("malformed 2xx", http("200 OK", r#"{"verdict":"allow"}"#)),
    ] {
        let served = Arc::new(Mutex::new(0usize));
        let count = Arc::clone(&served);
        let server = KeepAliveServer::start(move |_, _| {
            let mut n = count.lock().unwrap();
            *n += 1;
            // First an honoured ALLOW, then the answer under test once, then ALLOWs.
            Reply::KeepAlive(if *n == 2 {
                answer.clone()
            } else {
                http("200 OK", ALLOW)
            })
        });
        let client = SentinelClient::builder(server.endpoint())
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        assert!(client.guard(&pay(), &Context::new("r"), "p").allowed(), "{what}");
        if what == "429" {
            // Retried: the retry is the next request, on a new connection.
            assert!(client.guard(&pay(), &Context::new("r"), "p").allowed(), "{what}");
        } else {
            assert!(!client.guard(&pay(), &Context::new("r"), "p").allowed(), "{what}");
            assert_eq!(server.accepted(), 1, "{what}: one connection so far");
            assert!(client.guard(&pay(), &Context::new("r"), "p").allowed(), "{what}");
        }
        assert_eq!(
            server.accepted(),
            2,
            "{what}: the connection that answered it was dropped"
        );
        assert!(client.guard(&pay(), &Context::new("r"), "p").allowed(), "{what}");
        assert_eq!(
            server.accepted(),
            2,
            "{what}: an honoured answer's connection is reused"
        );
    }
}

/// A shifted connection hands one call another call's ALLOW. Nothing in a decision names its
/// action, so only verification catches it: the signed record is about the other action.
#[test]
fn verification_turns_another_calls_allow_into_a_block() {
    let mock = sentinel::testing::MockSidecar::allow_all();
    let genuine_client = SentinelClient::builder(mock.endpoint()).build().unwrap();
    let other_call = genuine_client.guard(
        &Action::payment(json!({"amount": 1, "from": "a", "to": "b"})),
        &Context::new("r"),
        "p",
    );
    assert!(other_call.allowed());
    let record =
        serde_json::to_vec(&genuine_client.record(other_call.record_id().unwrap()).unwrap()).unwrap();
    let shifted_allow = serde_json::to_string(&json!({
        "verdict": "ALLOW", "recordId": other_call.record_id(), "checks": []
    }))
    .unwrap();
    let server = KeepAliveServer::start(move |target, _| {
        Reply::KeepAlive(if target.starts_with("/v1/records/") {
            http("200 OK", std::str::from_utf8(&record).unwrap())
        } else {
            http("200 OK", &shifted_allow)
        })
    });
    let trusted = sentinel::provenance::TrustedKeys::new()
        .with_key_base64("A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=")
        .unwrap();
    let unverified = SentinelClient::builder(server.endpoint()).build().unwrap();
    let verifying = SentinelClient::builder(server.endpoint())
        .verify_decisions(trusted)
        .build()
        .unwrap();
    let this_call = Action::payment(json!({"amount": 90_000, "from": "a", "to": "b"}));
    assert!(
        unverified.guard(&this_call, &Context::new("r"), "p").allowed(),
        "without verification the shifted ALLOW stands: README says so"
    );
    let decision = verifying.guard(&this_call, &Context::new("r"), "p");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(
        decision.reason().unwrap().contains("another action"),
        "{decision:?}"
    );
}

const TOKEN: &str = "tok_9f8e7d6c5b4a39281706";

/// A proxy that echoes the request's headers into its answers: the configured header values
/// never reach a reason, a `Denied`, or the fail-open warning.
#[test]
fn reasons_never_carry_configured_header_values() {
    let echo = format!("authorization: Bearer {TOKEN} rejected; token {TOKEN}");
    let answers = [
        http("502 Bad Gateway", &json!({ "error": echo }).to_string()),
        http(
            "200 OK",
            &json!({"verdict": "BLOCK", "recordId": "rec_1", "checks": [], "reason": echo}).to_string(),
        ),
        http(
            "200 OK",
            &json!({"verdict": echo, "recordId": "rec_1", "checks": []}).to_string(),
        ),
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        let server = KeepAliveServer::start(move |_, _| Reply::KeepAlive(answer.clone()));
        for mode in [sentinel::FailMode::Closed, sentinel::FailMode::Open] {
            let client = SentinelClient::builder(server.endpoint())
                .header("authorization", format!("Bearer {TOKEN}"))
                .fail_mode(mode)
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap();
            let decision = client.guard(&pay(), &Context::new("r"), "p");
            let reason = decision.reason().unwrap_or_default();
            assert!(!reason.is_empty(), "answer {i}");
            assert!(!reason.contains(TOKEN), "answer {i}: {reason}");
            assert!(reason.contains("<redacted>"), "answer {i}: {reason}");
            assert!(
                !format!("{decision:?}").contains(TOKEN),
                "answer {i}: {decision:?}"
            );
        }
    }
}

/// A 1 MB string and terminal escapes from the sidecar: the reason stays short and printable.
#[test]
fn reasons_are_bounded_and_free_of_control_characters() {
    let huge = "V".repeat(1 << 20);
    let escapes = "line one\nline two\r\n\u{1b}[2J\u{1b}]0;owned\u{7}";
    let answers = [
        http(
            "200 OK",
            &json!({"verdict": huge, "recordId": "rec_1", "checks": []}).to_string(),
        ),
        http("400 Bad Request", &json!({ "error": huge }).to_string()),
        http("400 Bad Request", &json!({ "error": escapes }).to_string()),
        http(
            "200 OK",
            &json!({"verdict": "BLOCK", "recordId": "rec_1", "checks": [], "reason": escapes}).to_string(),
        ),
        http(
            "200 OK",
            &json!({"verdict": "BLOCK", "recordId": "rec_1", "checks": [], "reason": huge}).to_string(),
        ),
    ];
    for (i, answer) in answers.into_iter().enumerate() {
        let server = KeepAliveServer::start(move |_, _| Reply::KeepAlive(answer.clone()));
        let client = SentinelClient::builder(server.endpoint())
            .body_limit(4 << 20)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let decision = client.guard(&pay(), &Context::new("r"), "p");
        assert_eq!(decision.verdict(), Verdict::Block, "answer {i}");
        let reason = decision.reason().unwrap();
        assert!(
            reason.chars().count() <= 600,
            "answer {i}: {} chars",
            reason.chars().count()
        );
        assert!(!reason.chars().any(char::is_control), "answer {i}: {reason:?}");
        for check in decision.checks() {
            let text = check.reason.as_deref().unwrap_or_default();
            assert!(
                text.chars().count() <= 600 && !text.chars().any(char::is_control),
                "answer {i}"
            );
        }
    }
}

#[test]
fn an_endpoint_with_a_fragment_is_refused() {
    let err = SentinelClient::builder("http://127.0.0.1:4000#frag")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("#fragment"), "{err}");
    let err = SentinelClient::builder("http://127.0.0.1:4000/#")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("#fragment"), "{err}");
    assert!(SentinelClient::builder("http://127.0.0.1:4000/sentinel")
        .build()
        .is_ok());
}

#[test]
fn headers_the_client_owns_cannot_be_overridden() {
    for name in [
        "Content-Length",
        "transfer-encoding",
        "Host",
        "expect",
        "connection",
        "content-type",
    ] {
        let err = SentinelClient::builder("http://127.0.0.1:4000")
            .header(name, "0")
            .build()
            .unwrap_err();
        assert!(
            matches!(err, sentinel::BuildError::InvalidHeader { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains("cannot be overridden"), "{name}: {err}");
    }
    assert!(SentinelClient::builder("http://127.0.0.1:4000")
        .header("x-api-key", "abc")
        .build()
        .is_ok());
}

#[test]
fn header_values_must_be_visible_ascii_as_the_error_says() {
    for value in ["caf\u{e9}", "tok\u{2028}en", "a\nb", "\u{1b}[0m"] {
        let err = SentinelClient::builder("http://127.0.0.1:4000")
            .header("x-api-key", value)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("visible ASCII"), "{value:?}: {err}");
        assert!(!err.to_string().contains(value), "the value is never printed");
    }
    assert!(SentinelClient::builder("http://127.0.0.1:4000")
        .header("authorization", "Bearer a.b-c_d~e+f/g= h\tj")
        .build()
        .is_ok());
}

/// A huge argument's serialization counts in the deadline: with the deadline gone by the
/// time the body is ready, nothing is sent and the guard fails closed.
#[test]
fn the_deadline_counts_serialization() {
    let sent = Arc::new(Mutex::new(0usize));
    let count = Arc::clone(&sent);
    let client = SentinelClient::builder("http://sidecar.test")
        .timeout(Duration::from_millis(1))
        .transport(move |_: &sentinel::unversioned::transport::HttpRequest| {
            *count.lock().unwrap() += 1;
            Ok(sentinel::unversioned::transport::HttpResponse::new(200, ALLOW))
        })
        .build()
        .unwrap();
    // 16 MiB of escaped text cannot be serialized in a millisecond.
    let huge = Action::of("upload", json!({ "blob": "\"".repeat(8 << 20) }));
    let decision = client.guard(&huge, &Context::new("r"), "p");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.reason().unwrap().contains("deadline"), "{decision:?}");
    assert_eq!(*sent.lock().unwrap(), 0, "nothing sent after the deadline");
}
