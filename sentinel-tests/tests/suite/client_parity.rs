//! The published Python SDK's client tests, restated for Rust with an injected transport.

use std::sync::{Arc, Mutex};

use crate::support::{pay, recording_client};

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::TransportError;
use sentinel::{Action, Context, FailMode, GuardDecision, SentinelClient, Verdict};
use serde_json::{json, Value};

fn answering(
    status: u16,
    body: &'static str,
) -> impl Fn(&HttpRequest) -> Result<HttpResponse, TransportError> {
    move |_req: &HttpRequest| Ok(HttpResponse::new(status, body))
}

#[test]
fn posts_to_v1_guard_with_policy_type_and_json_content_type() {
    let (client, seen) = recording_client(SentinelClient::builder("http://localhost:4000/"));

    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("run_1"), "fintech.payments");

    assert!(decision.allowed());
    assert!(!decision.is_fallback());
    assert_eq!(decision.record_id(), Some("rec_9"));
    let request = seen.lock().unwrap().pop().expect("the transport was called");
    assert_eq!(request.method, "POST");
    assert_eq!(&*request.url, "http://localhost:4000/v1/guard");
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["policy"], "fintech.payments");
    assert_eq!(body["action"]["type"], "payment");
    assert_eq!(body["context"]["runId"], "run_1");
}

#[test]
fn block_answer_is_not_allowed() {
    let client = SentinelClient::builder("http://localhost:4000")
        .transport(answering(
            200,
            r#"{"verdict":"BLOCK","recordId":"rec_2","reason":"sanctioned","checks":[]}"#,
        ))
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "fintech.payments");
    assert!(!decision.allowed());
    assert_eq!(decision.verdict(), Verdict::Block);
    assert_eq!(decision.reason(), Some("sanctioned"));
    assert!(!decision.is_fallback());
}

#[test]
fn connection_error_fails_closed_with_a_transport_check() {
    let client = SentinelClient::builder("http://localhost:4000")
        .transport(|_: &HttpRequest| {
            Err(TransportError::Connect(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            )))
        })
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.is_fallback());
    assert_eq!(decision.record_id(), None);
    assert_eq!(decision.checks().len(), 1);
    assert_eq!(decision.checks()[0].check, GuardDecision::TRANSPORT_CHECK);
    assert_eq!(decision.checks()[0].verdict, Verdict::Block);
    assert_eq!(
        decision.reason(),
        Some("sentinel sidecar unreachable (connect failed: connection refused); failing closed")
    );
}

#[test]
fn fail_open_with_a_timing_out_transport_allows_and_says_so() {
    let client = SentinelClient::builder("http://localhost:4000")
        .fail_mode(FailMode::Open)
        .transport(|_: &HttpRequest| Err(TransportError::Timeout))
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Allow);
    assert!(decision.allowed());
    assert!(decision.is_fallback());
    assert_eq!(decision.checks()[0].check, GuardDecision::TRANSPORT_CHECK);
    assert_eq!(decision.checks()[0].outcome, sentinel::Outcome::Inconclusive);
    assert!(decision.reason().unwrap().ends_with("failing open"));
}

#[test]
fn http_500_blocks_with_the_status_in_the_reason() {
    let client = SentinelClient::builder("http://localhost:4000")
        .transport(answering(500, r#"{"error":"internal error"}"#))
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.is_fallback());
    let reason = decision.reason().unwrap();
    assert!(reason.contains("500"), "{reason}");
    assert!(reason.contains("internal error"), "{reason}");
}

#[test]
fn payment_actions_have_type_payment_and_an_act_uuid_id() {
    let action = pay(100, "vendor_42");
    assert_eq!(action.kind(), "payment");
    let uuid = action.id().strip_prefix("act_").expect("act_ prefix");
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.as_bytes()[14], b'4', "a v4 uuid: {uuid}");
    assert_ne!(pay(100, "vendor_42").id(), action.id());
}

#[test]
fn explicit_id_and_meta_are_kept_on_the_wire() {
    let (client, seen) = recording_client(SentinelClient::builder("http://localhost:4000"));
    let action = Action::of("email.send", json!({"to": "cfo@example.com"}))
        .with_id("act_fixed")
        .with_meta(json!({"source": "planner"}));
    assert_eq!(action.id(), "act_fixed");
    let _ = client.guard(&action, &Context::new("r"), "comms");
    let body: Value = serde_json::from_slice(&seen.lock().unwrap()[0].body).unwrap();
    assert_eq!(body["action"]["id"], "act_fixed");
    assert_eq!(body["action"]["meta"], json!({"source": "planner"}));
}

#[test]
fn a_panicking_transport_is_a_transport_failure() {
    let client = SentinelClient::builder("http://localhost:4000")
        .transport(|_: &HttpRequest| -> Result<HttpResponse, TransportError> { panic!("boom in transport") })
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "fintech.payments");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.is_fallback());
    assert!(decision.reason().unwrap().contains("boom in transport"));
}

#[test]
fn a_non_object_payload_is_denied_even_when_failing_open() {
    let called = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&called);
    let client = SentinelClient::builder("http://localhost:4000")
        .fail_mode(FailMode::Open)
        .transport(move |_: &HttpRequest| {
            *flag.lock().unwrap() = true;
            Ok(HttpResponse::new(
                200,
                r#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#,
            ))
        })
        .build()
        .unwrap();
    let decision = client.guard(&Action::of("payment", json!([1, 2])), &Context::new("r"), "p");
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision
        .reason()
        .unwrap()
        .contains("payload must be a JSON object"));
    assert!(!*called.lock().unwrap(), "the sidecar is not asked");
}

#[test]
fn absent_context_fields_are_omitted_and_present_ones_are_camel_case() {
    let bare = serde_json::to_value(Context::new("run_1")).unwrap();
    assert_eq!(bare, json!({"runId": "run_1"}));
    let full = Context::new("run_1")
        .with_provider("anthropic")
        .with_model("claude-sonnet-4-6")
        .with_actor("agent-007", ["ops"])
        .with_tenant("acme")
        .with_trace_step("tool", "lookup", json!({"q": 1}));
    assert_eq!(
        serde_json::to_value(full).unwrap(),
        json!({"runId": "run_1", "provider": "anthropic", "model": "claude-sonnet-4-6",
               "actor": {"id": "agent-007", "roles": ["ops"]}, "tenant": "acme",
               "trace": [{"kind": "tool", "name": "lookup", "content": {"q": 1}}]})
    );
}

#[test]
fn builder_rejects_bad_endpoints_at_build_time() {
    for endpoint in [
        "",
        "localhost:4000",
        "not a url",
        "ftp://host:21",
        "http://",
        "http://h:4000/?q=1",
    ] {
        let result = SentinelClient::builder(endpoint).build();
        assert!(result.is_err(), "{endpoint:?} should not build");
    }
    let client = SentinelClient::builder("http://localhost:4000///")
        .build()
        .unwrap();
    assert_eq!(client.endpoint(), "http://localhost:4000");
}

#[test]
fn header_values_never_show_in_debug_or_errors() {
    let client = SentinelClient::builder("http://localhost:4000")
        .header("authorization", "Bearer sk-live-SECRET")
        .build()
        .unwrap();
    let debug = format!("{client:?}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(!debug.contains("SECRET"), "{debug}");
    let err = SentinelClient::builder("http://localhost:4000")
        .header("x-token", "SECRET\r\nx-evil: 1")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert!(!format!("{err:?}").contains("SECRET"));
}

#[test]
fn extra_headers_are_sent_after_content_type() {
    let (client, seen) = recording_client(
        SentinelClient::builder("http://localhost:4000").header("authorization", "Bearer t"),
    );
    let _ = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    let headers = seen.lock().unwrap()[0].headers.to_vec();
    assert_eq!(headers[0], ("content-type".into(), "application/json".into()));
    assert!(headers.contains(&("authorization".into(), "Bearer t".into())));
}

#[test]
fn status_429_is_retried_until_an_answer_and_500_is_not() {
    let calls = Arc::new(Mutex::new(0u32));
    let count = Arc::clone(&calls);
    let client = SentinelClient::builder("http://localhost:4000")
        .transport(move |_: &HttpRequest| {
            let mut n = count.lock().unwrap();
            *n += 1;
            Ok(if *n < 3 {
                HttpResponse::new(429, r#"{"error":"rate limited"}"#).with_header("retry-after", "0")
            } else {
                HttpResponse::new(200, r#"{"verdict":"ALLOW","recordId":"rec_9","checks":[]}"#)
            })
        })
        .build()
        .unwrap();
    assert!(client
        .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
        .allowed());
    assert_eq!(*calls.lock().unwrap(), 3);

    let calls = Arc::new(Mutex::new(0u32));
    let count = Arc::clone(&calls);
    let client = SentinelClient::builder("http://localhost:4000")
        .transport(move |_: &HttpRequest| {
            *count.lock().unwrap() += 1;
            Ok(HttpResponse::new(500, r#"{"error":"internal error"}"#))
        })
        .build()
        .unwrap();
    assert!(!client
        .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
        .allowed());
    assert_eq!(
        *calls.lock().unwrap(),
        1,
        "a 500 reached the sidecar: never retried"
    );
}

#[test]
fn a_retry_after_past_the_deadline_fails_now_instead_of_sleeping() {
    let client = SentinelClient::builder("http://localhost:4000")
        .timeout(std::time::Duration::from_millis(300))
        .transport(|_: &HttpRequest| Ok(HttpResponse::new(503, "{}").with_header("retry-after", "30")))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    assert!(started.elapsed() < std::time::Duration::from_millis(300));
    assert_eq!(decision.verdict(), Verdict::Block);
    assert!(decision.reason().unwrap().contains("503"));
}

#[test]
fn a_huge_retry_after_or_timeout_never_panics() {
    let client = SentinelClient::builder("http://localhost:4000")
        .timeout(std::time::Duration::from_millis(200))
        .transport(|_: &HttpRequest| {
            Ok(HttpResponse::new(503, "{}").with_header("retry-after", "18446744073709551615"))
        })
        .build()
        .unwrap();
    let decision = client.guard(&pay(100, "vendor_42"), &Context::new("r"), "p");
    assert_eq!(decision.verdict(), Verdict::Block);

    let client = SentinelClient::builder("http://localhost:4000")
        .timeout(std::time::Duration::MAX)
        .transport(|req: &HttpRequest| match req.method {
            "GET" => Ok(HttpResponse::new(200, "[]")), // no such escalation
            _ => Err(TransportError::Connect(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused",
            ))),
        })
        .build()
        .unwrap();
    assert_eq!(
        client
            .guard(&pay(100, "vendor_42"), &Context::new("r"), "p")
            .verdict(),
        Verdict::Block
    );
    let waited = client.wait_for_resolution("esc_1", std::time::Duration::MAX);
    assert_eq!(waited.verdict(), Verdict::Block);
    assert!(waited.reason().unwrap().contains("not found"), "{waited:?}");
}

#[test]
fn credentials_in_the_endpoint_are_refused_without_being_printed() {
    let err = SentinelClient::builder("http://svc:s3cr3t@localhost:4000")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(!format!("{err:?}").contains("s3cr3t"));
    assert!(err.to_string().contains("authorization"), "{err}");
}

#[test]
fn a_header_the_http_stack_would_reject_fails_at_build_time_not_at_guard_time() {
    let err = SentinelClient::builder("http://localhost:4000")
        .header("x-token", "abc\u{1}def")
        .build()
        .unwrap_err();
    assert!(matches!(err, sentinel::BuildError::InvalidHeader { .. }), "{err}");
    // A token pasted where the name goes is not echoed.
    let err = SentinelClient::builder("http://localhost:4000")
        .header("Authorization: Bearer sk-SECRET", "x")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("sk-SECRET"), "{err}");
}

#[test]
fn empty_policy_run_id_or_action_type_is_refused_before_asking() {
    let client = SentinelClient::builder("http://localhost:4000")
        .fail_mode(FailMode::Open)
        .transport(|_: &HttpRequest| -> Result<HttpResponse, TransportError> {
            panic!("the sidecar must not be asked")
        })
        .build()
        .unwrap();
    for (action, context, policy) in [
        (pay(100, "vendor_42"), Context::new("r"), ""),
        (pay(100, "vendor_42"), Context::new(""), "p"),
        (Action::of("", json!({})), Context::new("r"), "p"),
    ] {
        let decision = client.guard(&action, &context, policy);
        assert_eq!(decision.verdict(), Verdict::Block, "{decision:?}");
        assert!(decision.reason().unwrap().contains("empty"), "{decision:?}");
    }
}
