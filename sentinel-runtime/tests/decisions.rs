//! `GuardDecision::from_json` against the reference sidecar's recorded answers
//! (`tests/fixtures/cases.json` at the repository root) and against bodies it must refuse,
//! each with the exact reason a caller is shown. Read side by side with serde_json's own
//! `Value`, which is the second reader every field is compared with.

use sentinel_runtime::{CheckResult, Details, GuardDecision, Outcome, Verdict};
use serde_json::{json, Map, Value};

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sentinel-tests/tests/fixtures/cases.json"
));

/// Every decision the reference sidecar sent in the recording: single answers and the items
/// of a batch answer.
fn recorded_decisions() -> Vec<Value> {
    let cases: Vec<Value> = serde_json::from_str(CASES).unwrap();
    let mut decisions = Vec::new();
    for case in cases {
        let body = &case["response"]["body"];
        if case["response"]["status"] != 200 {
            continue;
        }
        match case["request"]["path"].as_str() {
            Some("/v1/guard") => decisions.push(body.clone()),
            Some("/v1/guard/batch") => {
                decisions.extend(body["decisions"].as_array().unwrap().iter().cloned())
            }
            _ => {}
        }
    }
    decisions
}

fn outcome_of(text: &str) -> Outcome {
    match text {
        "pass" => Outcome::Pass,
        "fail" => Outcome::Fail,
        "inconclusive" => Outcome::Inconclusive,
        other => panic!("the recording holds outcome {other:?}"),
    }
}

fn verdict_of(text: &str) -> Verdict {
    match text {
        "ALLOW" => Verdict::Allow,
        "BLOCK" => Verdict::Block,
        "ESCALATE" => Verdict::Escalate,
        other => panic!("the recording holds verdict {other:?}"),
    }
}

fn assert_check_is(check: &CheckResult, wire: &Value) {
    assert_eq!(check.check, wire["check"].as_str().unwrap());
    assert_eq!(check.outcome, outcome_of(wire["outcome"].as_str().unwrap()));
    assert_eq!(check.verdict, verdict_of(wire["verdict"].as_str().unwrap()));
    assert_eq!(check.reason.as_deref(), wire["reason"].as_str());
    assert_eq!(check.latency_ms, wire["latencyMs"].as_f64());
    match (&check.details, wire.get("details")) {
        (Some(details), Some(Value::Object(object))) => {
            assert_eq!(&details.to_map(), object);
            for (key, value) in object {
                assert_eq!(details.get(key).as_ref(), Some(value), "details.{key}");
            }
            assert_eq!(details.get("no such member"), None);
        }
        (None, None) => {}
        (kept, sent) => panic!("details {kept:?}, sent {sent:?}"),
    }
}

#[test]
fn every_recorded_decision_reads_as_the_sidecar_sent_it() {
    let decisions = recorded_decisions();
    assert!(decisions.len() >= 10, "{} decisions recorded", decisions.len());
    let mut verdicts_seen = Vec::new();
    for wire in &decisions {
        let decision = GuardDecision::from_json(wire.to_string().as_bytes()).unwrap();
        let verdict = verdict_of(wire["verdict"].as_str().unwrap());
        assert_eq!(decision.verdict(), verdict);
        assert_eq!(decision.allowed(), verdict == Verdict::Allow, "{wire}");
        assert!(!decision.is_fallback());
        assert_eq!(decision.record_id(), wire["recordId"].as_str());
        assert_eq!(decision.reason(), wire["reason"].as_str());
        assert_eq!(decision.escalation_id(), wire["escalationId"].as_str());
        let checks = wire["checks"].as_array().unwrap();
        assert_eq!(decision.checks().len(), checks.len());
        for (check, wire) in decision.checks().iter().zip(checks) {
            assert_check_is(check, wire);
        }
        verdicts_seen.push(verdict);
    }
    for verdict in [Verdict::Allow, Verdict::Block, Verdict::Escalate] {
        assert!(verdicts_seen.contains(&verdict), "no {verdict} recorded");
    }
}

#[test]
fn every_outcome_and_verdict_is_read_in_its_exact_spelling() {
    for (outcome, verdict) in [("pass", "ALLOW"), ("fail", "BLOCK"), ("inconclusive", "ESCALATE")] {
        let body = json!({"verdict": verdict, "recordId": "rec_1", "escalationId": "esc_1",
            "checks": [{"check": "c", "outcome": outcome, "verdict": verdict}]});
        let decision = GuardDecision::from_json(body.to_string().as_bytes()).unwrap();
        assert_eq!(decision.verdict(), verdict_of(verdict));
        assert_eq!(decision.verdict().as_str(), verdict);
        assert_eq!(decision.verdict().to_string(), verdict);
        assert_eq!(Verdict::from_wire(verdict), Some(verdict_of(verdict)));
        assert_eq!(decision.checks()[0].outcome, outcome_of(outcome));
        assert_eq!(decision.checks()[0].verdict, verdict_of(verdict));
    }
    for near_miss in ["allow", "Allow", " ALLOW", "ALLOW ", "ALLOWED", ""] {
        assert_eq!(Verdict::from_wire(near_miss), None, "{near_miss:?}");
    }
}

/// Each body, and the exact reason it is refused with.
const REFUSED: &[(&str, &str)] = &[
    (r#"{"recordId":"r","checks":[]}"#, "`verdict` is missing"),
    (
        r#"{"verdict":"allow","recordId":"r","checks":[]}"#,
        r#"unknown verdict "allow""#,
    ),
    (
        r#"{"verdict":"pass","recordId":"r","checks":[]}"#,
        r#"unknown verdict "pass""#,
    ),
    (
        r#"{"verdict":null,"recordId":"r","checks":[]}"#,
        "`verdict` must be a string, got null",
    ),
    (
        r#"{"verdict":true,"recordId":"r","checks":[]}"#,
        "`verdict` must be a string, got a boolean",
    ),
    (
        r#"{"verdict":1,"recordId":"r","checks":[]}"#,
        "`verdict` must be a string, got a number",
    ),
    (
        r#"{"verdict":["ALLOW"],"recordId":"r","checks":[]}"#,
        "`verdict` must be a string, got an array",
    ),
    (
        r#"{"verdict":{},"recordId":"r","checks":[]}"#,
        "`verdict` must be a string, got an object",
    ),
    (r#"{"verdict":"ALLOW","checks":[]}"#, "`recordId` is missing"),
    (
        r#"{"verdict":"ALLOW","recordId":"","checks":[]}"#,
        "`recordId` is empty",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":7,"checks":[]}"#,
        "`recordId` must be a string, got a number",
    ),
    (r#"{"verdict":"ALLOW","recordId":"r"}"#, "`checks` is missing"),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":{}}"#,
        "`checks` must be an array, got an object",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":"x"}"#,
        "`checks` must be an array, got a string",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":null}"#,
        "`checks` must be an array, got null",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":false}"#,
        "`checks` must be an array, got a boolean",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":-1}"#,
        "`checks` must be an array, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":1}"#,
        "`checks` must be an array, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":1.5}"#,
        "`checks` must be an array, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[],"reason":5}"#,
        "`reason` must be a string, got a number",
    ),
    (
        r#"{"verdict":"ESCALATE","recordId":"r","checks":[]}"#,
        "ESCALATE without an `escalationId`",
    ),
    (
        r#"{"verdict":"ESCALATE","recordId":"r","checks":[],"escalationId":""}"#,
        "ESCALATE without an `escalationId`",
    ),
    (
        r#"{"verdict":"ESCALATE","recordId":"r","checks":[],"escalationId":9}"#,
        "`escalationId` must be a string, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[1]}"#,
        "checks[0]: expected an object, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"outcome":"pass","verdict":"ALLOW"}]}"#,
        "checks[0]: `check` is missing",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","verdict":"ALLOW"}]}"#,
        "checks[0]: `outcome` is missing",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"PASS","verdict":"ALLOW"}]}"#,
        r#"checks[0]: unknown outcome "PASS""#,
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"ALLOW","verdict":"ALLOW"}]}"#,
        r#"checks[0]: unknown outcome "ALLOW""#,
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":1,"verdict":"ALLOW"}]}"#,
        "checks[0]: `outcome` must be a string, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass"}]}"#,
        "checks[0]: `verdict` is missing",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","latencyMs":"1"}]}"#,
        "checks[0]: `latencyMs` must be a number, got a string",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","latencyMs":"pass"}]}"#,
        "checks[0]: `latencyMs` must be a number, got a string",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":true}]}"#,
        "checks[0]: `details` must be an object, got a boolean",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":-1}]}"#,
        "checks[0]: `details` must be an object, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":1}]}"#,
        "checks[0]: `details` must be an object, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":1.5}]}"#,
        "checks[0]: `details` must be an object, got a number",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":"x"}]}"#,
        "checks[0]: `details` must be an object, got a string",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":null}]}"#,
        "checks[0]: `details` must be an object, got null",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"pass","verdict":"ALLOW","details":[]}]}"#,
        "checks[0]: `details` must be an object, got an array",
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"ok","outcome":"pass","verdict":"ALLOW"},{"check":"c","outcome":"pass","verdict":"x"}]}"#,
        r#"checks[1]: unknown verdict "x""#,
    ),
    (
        r#"{"verdict":"ALLOW","recordId":"r","checks":[{"check":"c","outcome":"x","verdict":"ALLOW"},{"check":"c","outcome":"y","verdict":"ALLOW"}]}"#,
        r#"checks[0]: unknown outcome "x""#,
    ),
    (r#"[]"#, "expected a JSON object, got an array"),
    (r#""ALLOW""#, "expected a JSON object, got a string"),
    (r#"null"#, "expected a JSON object, got null"),
    (r#"true"#, "expected a JSON object, got a boolean"),
    (r#"-3"#, "expected a JSON object, got a number"),
    (r#"3"#, "expected a JSON object, got a number"),
    (r#"3.5"#, "expected a JSON object, got a number"),
];

#[test]
fn a_malformed_decision_is_refused_with_the_reason() {
    for (body, reason) in REFUSED {
        let error = GuardDecision::from_json(body.as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), *reason, "{body}");
    }
}

#[test]
fn details_compare_as_json_and_print_as_sent() {
    let read = |details: &str| -> Details {
        let body = format!(
            r#"{{"verdict":"ALLOW","recordId":"r","checks":[{{"check":"c","outcome":"pass","verdict":"ALLOW","details":{details}}}]}}"#
        );
        let decision = GuardDecision::from_json(body.as_bytes()).unwrap();
        decision.checks()[0].details.clone().unwrap()
    };
    let compact = read(r#"{"a":1,"b":[true]}"#);
    let spaced = read(r#"{ "b" : [ true ], "a" : 1 }"#);
    let other = read(r#"{"a":2,"b":[true]}"#);
    assert_eq!(compact, compact.clone());
    assert_eq!(compact, spaced, "the same JSON, spaced and ordered differently");
    assert_ne!(compact, other);
    assert_ne!(spaced, other);
    assert_eq!(spaced.as_str(), r#"{ "b" : [ true ], "a" : 1 }"#);
    assert_eq!(spaced.to_string(), r#"{ "b" : [ true ], "a" : 1 }"#);
    assert_eq!(format!("{compact:?}"), r#"Details({"a":1,"b":[true]})"#);
    assert_eq!(spaced.get("a"), Some(json!(1)));
    assert_eq!(spaced.get("b"), Some(json!([true])));
    assert_eq!(spaced.get("c"), None);

    let made = Details::try_from(Map::from_iter([("a".to_owned(), json!(1))])).unwrap();
    assert_eq!(made.as_str(), r#"{"a":1}"#);
    assert_eq!(made, read(r#"{"a": 1}"#));
    assert_eq!(serde_json::to_value(&made).unwrap(), json!({"a": 1}));
}
