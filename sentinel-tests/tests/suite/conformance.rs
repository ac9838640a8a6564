//! The reference sidecar's recorded `/v1/guard` answers (tests/fixtures/cases.json)
//! through this client: parsing, fail-safe on errors, and the request body's shape.

use crate::support::recording_client;

use sentinel::unversioned::transport::{HttpRequest, HttpResponse};
use sentinel::{Action, Context, GuardDecision, SentinelClient, Verdict};
use serde_json::{json, Value};

const CASES: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cases.json"));

fn guard_cases() -> Vec<Value> {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    let guard: Vec<Value> = cases
        .into_iter()
        .filter(|c| c["request"]["path"] == "/v1/guard")
        .collect();
    assert!(guard.len() >= 12, "the fixture holds the recorded guard cases");
    guard
}

/// Numbers compared as doubles: `0` and `0.0` are the same latency.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalized(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn every_recorded_decision_parses_to_what_was_recorded() {
    let mut parsed = 0;
    for case in guard_cases().iter().filter(|c| c["response"]["status"] == 200) {
        let recorded = &case["response"]["body"];
        let bytes = serde_json::to_vec(recorded).unwrap();
        let decision = GuardDecision::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(
            decision.verdict().as_str(),
            recorded["verdict"],
            "{}",
            case["name"]
        );
        assert_eq!(
            decision.record_id(),
            recorded["recordId"].as_str(),
            "{}",
            case["name"]
        );
        assert_eq!(decision.reason(), recorded["reason"].as_str(), "{}", case["name"]);
        assert_eq!(
            decision.escalation_id(),
            recorded["escalationId"].as_str(),
            "{}",
            case["name"]
        );
        assert_eq!(
            normalized(&serde_json::to_value(decision.checks()).unwrap()),
            normalized(&recorded["checks"]),
            "{}",
            case["name"]
        );
        assert!(!decision.is_fallback());
        assert_eq!(decision.allowed(), recorded["verdict"] == "ALLOW");
        parsed += 1;
    }
    assert!(parsed >= 10, "parsed {parsed} decisions");
}

#[test]
fn the_recorded_escalation_carries_its_escalation_id() {
    let case = guard_cases()
        .into_iter()
        .find(|c| c["name"] == "escalate_high_value")
        .unwrap();
    let decision = GuardDecision::from_json(&serde_json::to_vec(&case["response"]["body"]).unwrap()).unwrap();
    assert_eq!(decision.verdict(), Verdict::Escalate);
    assert!(decision.escalation_id().unwrap().starts_with("esc_"));
    assert!(!decision.allowed());
}

#[test]
fn every_recorded_error_answer_fails_safe() {
    let mut failures = 0;
    for case in guard_cases().iter().filter(|c| c["response"]["status"] != 200) {
        let status = case["response"]["status"].as_u64().unwrap() as u16;
        let body = serde_json::to_vec(&case["response"]["body"]).unwrap();
        let client = SentinelClient::builder("http://localhost:4000")
            .transport(move |_: &HttpRequest| Ok(HttpResponse::new(status, body.clone())))
            .build()
            .unwrap();
        let decision = client.guard(
            &Action::payment(json!({"amount": 1})),
            &Context::new("r"),
            "fintech.payments",
        );
        assert_eq!(decision.verdict(), Verdict::Block, "{}", case["name"]);
        assert!(decision.is_fallback());
        assert_eq!(decision.record_id(), None);
        assert_eq!(decision.checks().len(), 1);
        assert_eq!(decision.checks()[0].check, GuardDecision::TRANSPORT_CHECK);
        let reason = decision.reason().unwrap();
        assert!(reason.contains(&format!("HTTP {status}")), "{reason}");
        assert!(
            reason.contains(case["response"]["body"]["error"].as_str().unwrap()),
            "{reason}"
        );
        failures += 1;
    }
    assert_eq!(failures, 3);
}

/// The Context a recorded request body describes.
fn context_of(recorded: &Value) -> Context {
    let mut context = Context::new(recorded["runId"].as_str().unwrap());
    if let Some(provider) = recorded["provider"].as_str() {
        context = context.with_provider(provider);
    }
    if let Some(model) = recorded["model"].as_str() {
        context = context.with_model(model);
    }
    if let Some(actor) = recorded.get("actor") {
        let roles: Vec<&str> = actor["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        context = context.with_actor(actor["id"].as_str().unwrap(), roles);
    }
    if let Some(tenant) = recorded["tenant"].as_str() {
        context = context.with_tenant(tenant);
    }
    context
}

#[test]
fn request_bodies_have_the_recorded_shape() {
    let mut compared = 0;
    for case in guard_cases() {
        let recorded = &case["request"]["body"];
        if !recorded.is_object() || recorded["context"].get("runId").is_none() {
            continue; // malformed on purpose: this client cannot send those
        }
        let (client, sent) = recording_client(SentinelClient::builder("http://localhost:4000"));
        let action_json = &recorded["action"];
        let mut action = Action::of(
            action_json["type"].as_str().unwrap(),
            action_json["payload"].clone(),
        )
        .with_id(action_json["id"].as_str().unwrap());
        if let Some(meta) = action_json.get("meta") {
            action = action.with_meta(meta.clone());
        }
        let _ = client.guard(
            &action,
            &context_of(&recorded["context"]),
            recorded["policy"].as_str().unwrap(),
        );
        let body: Value = serde_json::from_slice(&sent.lock().unwrap()[0].body).unwrap();
        assert_eq!(&body, recorded, "{}", case["name"]);
        compared += 1;
    }
    assert!(compared >= 10, "compared {compared} request bodies");
}
